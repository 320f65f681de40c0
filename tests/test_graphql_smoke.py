import pytest

pytestmark = pytest.mark.anyio


async def test_login_and_me(make_agency, gql):
    agency = await make_agency()
    token = await gql.login(agency.code, agency.admin_username, agency.admin_password)
    data = await gql("{ me { user { username role } agency { code } } }", token=token)
    assert data["me"]["user"] == {"username": "admin", "role": "ADMIN"}
    assert data["me"]["agency"]["code"] == agency.code
