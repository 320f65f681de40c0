"""Company scope beyond companies themselves, and two reviewers deciding the same request at once."""

import pytest
from sqlalchemy.orm.exc import StaleDataError

from shebao.platform.audit import service as audit
from shebao.platform.auth import users
from shebao.platform.auth.service import actor_for
from shebao.platform.companies import service as companies
from shebao.platform.companies.models import ChangeStatus
from shebao.platform.core.pagination import PageRequest
from shebao.platform.tenancy.context import Actor
from tests.factories import company_values

pytestmark = pytest.mark.anyio


async def _two_companies_and_a_scoped_auditor(make_agency, session_as):
    agency = await make_agency()
    async with session_as(agency.system) as s:
        mine = await companies.create_company(s, company_values())
        other = await companies.create_company(s, company_values())
        auditor = await users.create_user(
            s,
            users.UserInput(
                username="auditor",
                display_name="稽核",
                password="Audit12345",
                permissions=["audit:read", "companies:read"],
                company_ids=[mine.id],
            ),
        )
        await s.commit()
    return agency, mine, other, auditor


async def test_a_scoped_operator_reads_the_audit_of_their_companies_only(make_agency, session_as):
    agency, mine, other, auditor = await _two_companies_and_a_scoped_auditor(make_agency, session_as)
    async with session_as(actor_for(auditor)) as s:
        page = await audit.list_entries(s, PageRequest(first=100))
    company_ids = {e.company_id for e in page.items}
    assert mine.id in company_ids
    assert other.id not in company_ids
    assert None in company_ids  # agency-wide entries (user management) stay visible
    async with session_as(agency.system) as s:  # the administrator sees both
        everything = await audit.list_entries(s, PageRequest(first=100))
    assert {mine.id, other.id} <= {e.company_id for e in everything.items}


async def test_two_reviewers_approving_at_once_apply_the_change_once(make_agency, session_as):
    agency = await make_agency()
    async with session_as(agency.system) as s:
        company = await companies.create_company(s, company_values())
        clerk, r1, r2 = [
            await users.create_user(
                s,
                users.UserInput(
                    username=name,
                    display_name=name,
                    password="Passw0rd12",
                    permissions=["companies:read", "companies:write", "companies:review"],
                    all_companies=True,
                ),
            )
            for name in ("clerk", "reviewer1", "reviewer2")
        ]
        await s.commit()
    async with session_as(actor_for(clerk)) as s:
        request = (await companies.update_company(s, company.id, {"name": "新名称有限公司"})).change_request
        await s.commit()

    # Both reviewers have read the request as pending before either writes (the second keeps its
    # copy, so its own pending check passes): the version column must stop the second write.
    first, second = session_as(actor_for(r1)), session_as(actor_for(r2))
    s1, s2 = await first.__aenter__(), await second.__aenter__()
    try:
        await companies.get_change_request(s1, request.id)
        stale = await companies.get_change_request(s2, request.id)
        await companies.approve_change(s1, request.id)
        await s1.commit()
        with pytest.raises(StaleDataError):  # the GraphQL layer answers CONFLICT
            await companies.approve_change(s2, request.id)
            await s2.commit()
        await s2.rollback()
        assert stale is not None
    finally:
        await first.__aexit__(None, None, None)
        await second.__aexit__(None, None, None)

    async with session_as(Actor.system(agency.id)) as s:
        decided = await companies.get_change_request(s, request.id)
        assert decided.status == ChangeStatus.APPROVED and decided.reviewed_by == r1.id
        page = await audit.list_entries(s, PageRequest(first=100), action="company.change_approve")
        assert page.total_count == 1


async def test_a_reviewer_who_comes_second_is_told_the_request_is_decided(make_agency, session_as, gql):
    agency = await make_agency()
    async with session_as(agency.system) as s:
        company = await companies.create_company(s, company_values())
        clerk = await users.create_user(
            s,
            users.UserInput(
                username="clerk",
                display_name="clerk",
                password="Passw0rd12",
                permissions=["companies:read", "companies:write"],
                all_companies=True,
            ),
        )
        await s.commit()
    async with session_as(actor_for(clerk)) as s:
        request = (await companies.update_company(s, company.id, {"name": "新名称有限公司"})).change_request
        await s.commit()
    token = await gql.login(agency.code, agency.admin_username, agency.admin_password)
    approve = "mutation($id:ID!){ approveCompanyChange(id:$id){ changeRequest { status } errors { code } } }"
    first = await gql(approve, {"id": str(request.id)}, token=token)
    second = await gql(approve, {"id": str(request.id)}, token=token)
    assert first["approveCompanyChange"]["changeRequest"]["status"] == "APPROVED"
    assert [e["code"] for e in second["approveCompanyChange"]["errors"]] == ["NOT_PENDING"]
