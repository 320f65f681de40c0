"""Authentication and user management through the GraphQL endpoint: login, lockout, bearer tokens,
API tokens, password changes, users, and the audit rows every mutation writes."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from shebao.platform.auth import tokens
from shebao.platform.auth.models import AuthToken, User
from shebao.platform.core.clock import utcnow

pytestmark = pytest.mark.anyio

LOGIN = """
mutation($a: String!, $u: String!, $p: String!) {
  login(input: {agencyCode: $a, username: $u, password: $p}) {
    token expiresAt user { id username } errors { code field message }
  }
}"""
ME = "{ me { user { id username role } agency { code } permissions tokenKind } }"
CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) {
    user { id username role active allCompanies grantedPermissions companyIds }
    errors { code field message }
  }
}"""
UPDATE_USER = """
mutation($input: UpdateUserInput!) {
  updateUser(input: $input) {
    user { id role active grantedPermissions companyIds }
    errors { code field message }
  }
}"""
CREATE_COMPANY = """
mutation($input: CreateCompanyInput!) {
  createCompany(input: $input) { company { id name } errors { code field message } }
}"""
AUDIT = """
{ auditLog(first: 50) {
    totalCount
    nodes { action entityType entityId actorUserId actorTokenId before after requestId }
} }"""

WRONG_ZH = "机构代码、用户名或密码错误"
WRONG_EN = "Wrong agency, username or password"


async def login_payload(gql, code, username, password, lang=None) -> dict:
    body = await gql(LOGIN, {"a": code, "u": username, "p": password}, lang=lang)
    return body["login"]


async def audit_entries(gql, token) -> list[dict]:
    return (await gql(AUDIT, token=token))["auditLog"]["nodes"]


def actions(entries) -> list[str]:
    return [e["action"] for e in entries]


def company_input(**overrides) -> dict:
    from tests.factories import company_values

    values = company_values()
    camel = {"".join(w if i == 0 else w.title() for i, w in enumerate(k.split("_"))): v for k, v in values.items()}
    camel.update(overrides)
    return camel


async def create_user(gql, admin_token, username, permissions=(), company_ids=(), all_companies=False, **extra):
    password = "Passw0rd" + secrets.token_hex(4)
    data = await gql(
        CREATE_USER,
        {
            "input": {
                "username": username,
                "displayName": f"经办人 {username}",
                "password": password,
                "permissions": list(permissions),
                "companyIds": list(company_ids),
                "allCompanies": all_companies,
                **extra,
            }
        },
        token=admin_token,
    )
    payload = data["createUser"]
    assert payload["errors"] == [], payload
    return payload["user"], password


async def count(session_as, agency, model, *where) -> int:
    async with session_as(agency.system) as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def user_row(session_as, agency, username) -> User:
    async with session_as(agency.system) as s:
        return await s.scalar(select(User).where(User.username == username))


def assert_401(response, code: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == code
    assert response.headers["www-authenticate"].startswith("Bearer")


# --- login ------------------------------------------------------------------------------------


async def test_login_ok_returns_a_working_token(make_agency, gql, session_as):
    agency = await make_agency()
    payload = await login_payload(gql, agency.code, agency.admin_username, agency.admin_password)
    assert payload["errors"] == []
    assert payload["token"].startswith("shb_")
    assert payload["expiresAt"]
    assert payload["user"] == {"id": str(agency.admin_id), "username": "admin"}
    me = (await gql(ME, token=payload["token"]))["me"]
    assert me["user"]["role"] == "ADMIN"
    assert me["agency"]["code"] == agency.code
    assert me["tokenKind"] == "session"
    # the token is stored hashed, never in clear
    async with session_as(agency.system) as s:
        row = await s.scalar(select(AuthToken).where(AuthToken.token_hash == tokens.token_hash(payload["token"])))
        assert row is not None and row.kind == "session"
        stored = (await s.scalars(select(AuthToken.token_hash))).all()
    assert payload["token"] not in stored
    entries = await audit_entries(gql, payload["token"])
    assert entries[0]["action"] == "auth.login"
    assert entries[0]["entityId"] == str(agency.admin_id)
    assert entries[0]["after"] == {"token_id": str(row.id)}


async def test_login_wrong_password_chinese_by_default_english_on_request(make_agency, gql, session_as):
    agency = await make_agency()
    zh = await login_payload(gql, agency.code, "admin", "Wrong-passw0rd")
    assert zh["token"] is None and zh["user"] is None
    assert zh["errors"] == [{"code": "INVALID_CREDENTIALS", "field": None, "message": WRONG_ZH}]
    en = await login_payload(gql, agency.code, "admin", "Wrong-passw0rd", lang="en")
    assert en["errors"] == [{"code": "INVALID_CREDENTIALS", "field": None, "message": WRONG_EN}]
    # Unknown user and unknown agency get the same answer (no enumeration).
    for code, user in ((agency.code, "nobody"), ("no-such-agency", "admin")):
        other = await login_payload(gql, code, user, agency.admin_password, lang="en")
        assert other["errors"] == [{"code": "INVALID_CREDENTIALS", "field": None, "message": WRONG_EN}]
    assert await count(session_as, agency, AuthToken) == 0
    assert (await user_row(session_as, agency, "admin")).failed_logins == 2
    token = await gql.login(agency.code, "admin", agency.admin_password)
    assert (await user_row(session_as, agency, "admin")).failed_logins == 0  # a success resets the count
    failed = [e for e in await audit_entries(gql, token) if e["action"] == "auth.login_failed"]
    assert [e["after"]["failed_logins"] for e in failed] == [2, 1]


async def test_lockout_after_five_failures_and_admin_unlock(make_agency, gql, session_as):
    agency = await make_agency()
    admin = await gql.login(agency.code, "admin", agency.admin_password)
    op, op_password = await create_user(gql, admin, "lockme", ["PERSONS_READ"])
    for _ in range(5):
        payload = await login_payload(gql, agency.code, "lockme", "Wrong-passw0rd")
        assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]
    locked = await login_payload(gql, agency.code, "lockme", op_password, lang="en")
    assert locked["token"] is None
    assert [e["code"] for e in locked["errors"]] == ["ACCOUNT_LOCKED"]
    assert locked["errors"][0]["message"].startswith("Too many failed logins")
    locked_zh = await login_payload(gql, agency.code, "lockme", op_password)
    assert "账号已锁定" in locked_zh["errors"][0]["message"]
    row = await user_row(session_as, agency, "lockme")
    assert row.failed_logins == 5 and row.locked_until > utcnow() + timedelta(minutes=14)
    assert await count(session_as, agency, AuthToken, AuthToken.user_id == row.id) == 0

    data = await gql(
        "mutation($id: ID!) { unlockUser(id: $id) { user { failedLogins lockedUntil } errors { code } } }",
        {"id": op["id"]},
        token=admin,
    )
    assert data["unlockUser"] == {"user": {"failedLogins": 0, "lockedUntil": None}, "errors": []}
    token = await gql.login(agency.code, "lockme", op_password)
    assert (await gql("{ me { user { username } } }", token=token))["me"]["user"]["username"] == "lockme"

    entries = await audit_entries(gql, admin)
    assert "auth.login_locked" in actions(entries)
    assert actions(entries).count("auth.login_failed") == 4
    unlock = next(e for e in entries if e["action"] == "user.unlock")
    assert unlock["entityId"] == op["id"]
    assert unlock["actorUserId"] == str(agency.admin_id)
    assert unlock["before"]["failed_logins"] == 5 and unlock["before"]["locked_until"] is not None
    assert unlock["after"]["failed_logins"] == 0 and unlock["after"]["locked_until"] is None


# --- bearer tokens ------------------------------------------------------------------------------


async def test_malformed_and_unknown_tokens_get_401(make_agency, gql):
    agency = await make_agency()
    query = {"query": "{ me { user { username } } }"}
    for header in ("Token abc", "Bearer", "Bearer    ", "Basic YWRtaW46cGFzcw=="):
        response = await gql.http.post("/graphql", json=query, headers={"Authorization": header})
        assert_401(response, "TOKEN_INVALID")
    for token in (
        "garbage",
        f"shb_{agency.id.hex}_{secrets.token_urlsafe(32)}",  # well formed, never issued
        f"shb_{'0' * 32}_{secrets.token_urlsafe(32)}",  # an agency that does not exist
    ):
        response = await gql.raw(query["query"], token=token)
        assert_401(response, "TOKEN_INVALID")
    zh = await gql.raw(query["query"], token="garbage")
    assert zh.json()["errors"][0]["message"] == "令牌无效"
    en = await gql.raw(query["query"], token="garbage", lang="en")
    assert en.json()["errors"][0]["message"] == "The token is invalid"


async def test_expired_token_gets_401_token_expired(make_agency, gql, session_as):
    agency = await make_agency()
    token = await gql.login(agency.code, "admin", agency.admin_password)
    async with session_as(agency.system) as s:
        await s.execute(
            update(AuthToken)
            .where(AuthToken.token_hash == tokens.token_hash(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await s.commit()
    response = await gql.raw(ME, token=token)
    assert_401(response, "TOKEN_EXPIRED")
    response = await gql.raw(ME, token=token, lang="en")
    assert response.json()["errors"][0]["message"] == "The token has expired: log in again"


async def test_logout_revokes_the_token(make_agency, gql, session_as):
    agency = await make_agency()
    token = await gql.login(agency.code, "admin", agency.admin_password)
    other = await gql.login(agency.code, "admin", agency.admin_password)
    data = await gql("mutation { logout { ok errors { code } } }", token=token)
    assert data["logout"] == {"ok": True, "errors": []}
    assert_401(await gql.raw(ME, token=token), "TOKEN_INVALID")
    assert (await gql(ME, token=other))["me"]["user"]["username"] == "admin"  # only this session ends
    async with session_as(agency.system) as s:
        row = await s.scalar(select(AuthToken).where(AuthToken.token_hash == tokens.token_hash(token)))
    assert row.revoked_at is not None
    entry = next(e for e in await audit_entries(gql, other) if e["action"] == "auth.logout")
    assert entry["entityId"] == str(row.id) and entry["actorTokenId"] == str(row.id)


async def test_no_token_on_a_protected_field_is_not_authenticated(make_agency, gql, session_as):
    agency = await make_agency()
    body = await gql("{ me { user { username } } }", expect_errors=True)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    assert body["errors"][0]["message"] == "请先登录"
    body = await gql(CREATE_COMPANY, {"input": company_input()}, expect_errors=True, lang="en")
    assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    assert body["errors"][0]["message"] == "Authentication required"
    body = await gql("mutation { logout { ok } }", expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    from shebao.platform.companies.models import ClientCompany

    assert await count(session_as, agency, ClientCompany) == 0


async def test_operator_lacking_a_permission_is_denied(make_agency, gql, session_as):
    from shebao.platform.companies.models import ClientCompany

    agency = await make_agency()
    admin = await gql.login(agency.code, "admin", agency.admin_password)
    _, password = await create_user(gql, admin, "reader", ["PERSONS_READ"], all_companies=True)
    op = await gql.login(agency.code, "reader", password)
    body = await gql("{ companies { totalCount } }", token=op, expect_errors=True)
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "PERMISSION_DENIED"
    assert error["extensions"]["permission"] == "companies:read"
    assert error["path"] == ["companies"]
    assert "companies:read" in error["message"]
    body = await gql(CREATE_COMPANY, {"input": company_input()}, token=op, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert await count(session_as, agency, ClientCompany) == 0
    body = await gql("{ users { totalCount } }", token=op, expect_errors=True, lang="en")
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert body["errors"][0]["message"] == "Permission denied: users:manage required"
    # what the operator holds works
    assert (await gql("{ persons { totalCount } }", token=op))["persons"]["totalCount"] == 0


# --- passwords ------------------------------------------------------------------------------------

CHANGE_PASSWORD = """
mutation($c: String!, $n: String!) {
  changePassword(currentPassword: $c, newPassword: $n) { ok errors { code field message } }
}"""


async def test_change_password(make_agency, gql, session_as):
    agency = await make_agency()
    token = await gql.login(agency.code, "admin", agency.admin_password)
    other = await gql.login(agency.code, "admin", agency.admin_password)
    hash_before = (await user_row(session_as, agency, "admin")).password_hash

    wrong = await gql(CHANGE_PASSWORD, {"c": "Not-the-passw0rd", "n": "NewPassw0rd1"}, token=token)
    assert wrong["changePassword"]["ok"] is False
    assert [(e["code"], e["field"]) for e in wrong["changePassword"]["errors"]] == [
        ("WRONG_PASSWORD", "currentPassword")
    ]
    for weak in ("short1", "onlyletters", "1234567890"):
        bad = await gql(CHANGE_PASSWORD, {"c": agency.admin_password, "n": weak}, token=token)
        assert [(e["code"], e["field"]) for e in bad["changePassword"]["errors"]] == [
            ("PASSWORD_POLICY", "newPassword")
        ]
    row = await user_row(session_as, agency, "admin")
    assert row.password_hash == hash_before  # nothing written
    assert (await gql(ME, token=other))["me"]["user"]["username"] == "admin"

    ok = await gql(CHANGE_PASSWORD, {"c": agency.admin_password, "n": "NewPassw0rd1"}, token=token)
    assert ok["changePassword"] == {"ok": True, "errors": []}
    assert (await gql(ME, token=token))["me"]["user"]["username"] == "admin"  # this session stays
    assert_401(await gql.raw(ME, token=other), "TOKEN_INVALID")  # the others end
    old = await login_payload(gql, agency.code, "admin", agency.admin_password)
    assert [e["code"] for e in old["errors"]] == ["INVALID_CREDENTIALS"]
    await gql.login(agency.code, "admin", "NewPassw0rd1")

    entries = await audit_entries(gql, token)
    change = [e for e in entries if e["action"] == "user.change_password"]
    assert len(change) == 1 and change[0]["entityId"] == str(agency.admin_id)
    assert "NewPassw0rd1" not in str(entries) and "password_hash" not in str(entries)


async def test_reset_user_password_returns_a_working_password(make_agency, gql, session_as):
    agency = await make_agency()
    admin = await gql.login(agency.code, "admin", agency.admin_password)
    op, old_password = await create_user(gql, admin, "forgetful", ["PERSONS_READ"])
    op_token = await gql.login(agency.code, "forgetful", old_password)
    reset = """mutation($id: ID!, $p: String) {
      resetUserPassword(id: $id, newPassword: $p) { user { username } password errors { code field } }
    }"""
    weak = await gql(reset, {"id": op["id"], "p": "weak"}, token=admin)
    assert weak["resetUserPassword"]["password"] is None
    assert [(e["code"], e["field"]) for e in weak["resetUserPassword"]["errors"]] == [
        ("PASSWORD_POLICY", "newPassword")
    ]
    assert (await gql(ME, token=op_token))["me"]["user"]["username"] == "forgetful"  # nothing changed

    data = await gql(reset, {"id": op["id"]}, token=admin)
    payload = data["resetUserPassword"]
    assert payload["errors"] == [] and payload["user"]["username"] == "forgetful"
    new_password = payload["password"]
    assert new_password and new_password != old_password
    assert_401(await gql.raw(ME, token=op_token), "TOKEN_INVALID")  # their sessions end
    stale = await login_payload(gql, agency.code, "forgetful", old_password)
    assert [e["code"] for e in stale["errors"]] == ["INVALID_CREDENTIALS"]
    await gql.login(agency.code, "forgetful", new_password)

    entries = await audit_entries(gql, admin)
    entry = next(e for e in entries if e["action"] == "user.reset_password")
    assert entry["entityId"] == op["id"] and entry["actorUserId"] == str(agency.admin_id)
    assert new_password not in str(entries)


# --- API tokens -----------------------------------------------------------------------------------

CREATE_API_TOKEN = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) {
    token apiToken { id name scopes expiresAt revokedAt } errors { code field message }
  }
}"""


async def test_api_token_lifecycle(make_agency, gql, session_as):
    agency = await make_agency()
    admin = await gql.login(agency.code, "admin", agency.admin_password)
    data = await gql(
        CREATE_API_TOKEN,
        {"input": {"name": "payroll sync", "scopes": ["PERSONS_READ", "COMPANIES_READ"], "expiresInDays": 30}},
        token=admin,
    )
    payload = data["createApiToken"]
    assert payload["errors"] == []
    api = payload["token"]
    record = payload["apiToken"]
    assert record["name"] == "payroll sync"
    assert record["scopes"] == ["companies:read", "persons:read"]
    assert record["revokedAt"] is None and record["expiresAt"]

    me = (await gql(ME, token=api))["me"]
    assert me["tokenKind"] == "api"
    assert me["permissions"] == record["scopes"]
    assert me["user"]["username"] == "admin"
    assert (await gql("{ companies { totalCount } }", token=api))["companies"]["totalCount"] == 0
    denied = await gql("{ users { totalCount } }", token=api, expect_errors=True)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"

    listed = (await gql("{ apiTokens { id name scopes revokedAt } }", token=admin))["apiTokens"]
    assert listed == [{"id": record["id"], "name": "payroll sync", "scopes": record["scopes"], "revokedAt": None}]

    # a token cannot hand out more than it holds
    wider = await gql(CREATE_API_TOKEN, {"input": {"name": "wider", "scopes": ["USERS_MANAGE"]}}, token=api)
    assert wider["createApiToken"]["token"] is None
    assert [e["code"] for e in wider["createApiToken"]["errors"]] == ["PERMISSION_DENIED"]
    empty = await gql(CREATE_API_TOKEN, {"input": {"name": "none", "scopes": []}}, token=admin)
    assert [(e["code"], e["field"]) for e in empty["createApiToken"]["errors"]] == [("REQUIRED", "scopes")]
    assert await count(session_as, agency, AuthToken, AuthToken.kind == "api") == 1

    revoke = "mutation($id: ID!) { revokeApiToken(id: $id) { apiToken { id revokedAt } errors { code } } }"
    revoked = await gql(revoke, {"id": record["id"]}, token=admin)
    assert revoked["revokeApiToken"]["errors"] == []
    assert revoked["revokeApiToken"]["apiToken"]["revokedAt"] is not None
    assert_401(await gql.raw(ME, token=api), "TOKEN_INVALID")
    listed = (await gql("{ apiTokens { id revokedAt } }", token=admin))["apiTokens"]
    assert listed[0]["revokedAt"] is not None

    entries = await audit_entries(gql, admin)
    created = next(e for e in entries if e["action"] == "api_token.create")
    assert created["entityId"] == record["id"]
    assert created["after"]["name"] == "payroll sync"
    assert created["after"]["scopes"] == ["companies:read", "persons:read"]
    assert "token_hash" not in created["after"]
    revoke_entry = next(e for e in entries if e["action"] == "api_token.revoke")
    assert revoke_entry["before"]["revoked_at"] is None
    assert revoke_entry["after"]["revoked_at"] is not None


async def test_api_token_scope_not_held_is_refused(make_agency, gql, session_as):
    agency = await make_agency()
    admin = await gql.login(agency.code, "admin", agency.admin_password)
    op, password = await create_user(gql, admin, "narrow", ["PERSONS_READ"], all_companies=True)
    token = await gql.login(agency.code, "narrow", password)
    data = await gql(
        CREATE_API_TOKEN, {"input": {"name": "sneaky", "scopes": ["PERSONS_READ", "COMPANIES_WRITE"]}}, token=token
    )
    payload = data["createApiToken"]
    assert payload["token"] is None and payload["apiToken"] is None
    assert [e["code"] for e in payload["errors"]] == ["PERMISSION_DENIED"]
    assert "companies:write" in payload["errors"][0]["message"]
    assert await count(session_as, agency, AuthToken, AuthToken.kind == "api") == 0
    assert (await gql("{ apiTokens { id } }", token=token))["apiTokens"] == []
    ok = await gql(CREATE_API_TOKEN, {"input": {"name": "fine", "scopes": ["PERSONS_READ"]}}, token=token)
    assert ok["createApiToken"]["errors"] == []
    me = (await gql(ME, token=ok["createApiToken"]["token"]))["me"]
    assert me["permissions"] == ["persons:read"] and me["user"]["id"] == op["id"]


# --- users -------------------------------------------------------------------------------------------


async def test_create_and_update_user(make_agency, gql, session_as):
    agency = await make_agency()
    admin = await gql.login(agency.code, "admin", agency.admin_password)
    company = (await gql(CREATE_COMPANY, {"input": company_input()}, token=admin))["createCompany"]["company"]
    op, password = await create_user(gql, admin, "clerk", ["COMPANIES_READ"], [company["id"]])
    assert op["role"] == "OPERATOR" and op["active"] is True and op["allCompanies"] is False
    assert op["grantedPermissions"] == ["companies:read"]
    assert op["companyIds"] == [company["id"]]
    op_token = await gql.login(agency.code, "clerk", password)
    me = (await gql(ME, token=op_token))["me"]
    assert me["permissions"] == ["companies:read"]
    seen = await gql("{ companies { nodes { id } } }", token=op_token)
    assert seen["companies"]["nodes"] == [{"id": company["id"]}]

    # the new permissions and scope apply to the operator's live token
    data = await gql(
        UPDATE_USER,
        {"input": {"id": op["id"], "permissions": ["COMPANIES_READ", "PERSONS_READ"], "companyIds": []}},
        token=admin,
    )
    assert data["updateUser"]["errors"] == []
    assert data["updateUser"]["user"]["grantedPermissions"] == ["companies:read", "persons:read"]
    assert data["updateUser"]["user"]["companyIds"] == []
    assert (await gql(ME, token=op_token))["me"]["permissions"] == ["companies:read", "persons:read"]
    seen = await gql("{ companies { totalCount } }", token=op_token)
    assert seen["companies"]["totalCount"] == 0

    # deactivating ends the operator's sessions and logins
    data = await gql(UPDATE_USER, {"input": {"id": op["id"], "active": False}}, token=admin)
    assert data["updateUser"]["errors"] == [] and data["updateUser"]["user"]["active"] is False
    assert_401(await gql.raw(ME, token=op_token), "TOKEN_INVALID")
    disabled = await login_payload(gql, agency.code, "clerk", password)
    assert [e["code"] for e in disabled["errors"]] == ["ACCOUNT_DISABLED"]

    entries = await audit_entries(gql, admin)
    created = next(e for e in entries if e["action"] == "user.create" and e["entityId"] == op["id"])
    assert created["before"] is None
    assert created["after"]["username"] == "clerk"
    assert created["after"]["permissions"] == ["companies:read"]
    assert created["after"]["company_ids"] == [company["id"]]
    assert "password_hash" not in created["after"]
    updates = [e for e in entries if e["action"] == "user.update" and e["entityId"] == op["id"]]
    assert len(updates) == 2
    deactivate, grant = updates  # newest first
    assert grant["before"]["permissions"] == ["companies:read"]
    assert grant["after"]["permissions"] == ["companies:read", "persons:read"]
    assert grant["before"]["company_ids"] == [company["id"]] and grant["after"]["company_ids"] == []
    assert deactivate["before"]["active"] is True and deactivate["after"]["active"] is False


async def test_create_user_bad_input_writes_nothing(make_agency, gql, session_as):
    import uuid

    agency = await make_agency()
    admin = await gql.login(agency.code, "admin", agency.admin_password)
    before = await count(session_as, agency, User)
    cases = [
        ({"username": "admin"}, ("DUPLICATE", "username")),
        ({"username": "a b"}, ("INVALID_USERNAME", "username")),
        ({"password": "short"}, ("PASSWORD_POLICY", "password")),
        ({"companyIds": [str(uuid.uuid4())]}, ("NOT_FOUND", "companyIds.0")),
        ({"displayName": "  "}, ("REQUIRED", "displayName")),
    ]
    for override, expected in cases:
        data = await gql(
            CREATE_USER,
            {"input": {"username": "newbie", "displayName": "新人", "password": "Passw0rd123", **override}},
            token=admin,
        )
        payload = data["createUser"]
        assert payload["user"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected], override
    assert await count(session_as, agency, User) == before
    assert "user.create" not in actions(
        e for e in await audit_entries(gql, admin) if e["actorUserId"] == str(agency.admin_id)
    )

    # an operator managing users cannot grant what they do not hold
    _, password = await create_user(gql, admin, "manager", ["USERS_MANAGE"])
    manager = await gql.login(agency.code, "manager", password)
    data = await gql(
        CREATE_USER,
        {
            "input": {
                "username": "helper",
                "displayName": "助手",
                "password": "Passw0rd123",
                "permissions": ["COMPANIES_WRITE"],
            }
        },
        token=manager,
    )
    assert [(e["code"], e["field"]) for e in data["createUser"]["errors"]] == [("PERMISSION_DENIED", "permissions.0")]
    data = await gql(
        CREATE_USER,
        {"input": {"username": "boss", "displayName": "老板", "password": "Passw0rd123", "role": "ADMIN"}},
        token=manager,
    )
    assert [(e["code"], e["field"]) for e in data["createUser"]["errors"]] == [("PERMISSION_DENIED", "role")]
    assert await count(session_as, agency, User) == before + 1


async def test_last_admin_cannot_be_demoted_or_deactivated(make_agency, gql, session_as):
    agency = await make_agency()
    admin = await gql.login(agency.code, "admin", agency.admin_password)
    for change, field in (({"role": "OPERATOR"}, "role"), ({"active": False}, "active")):
        data = await gql(UPDATE_USER, {"input": {"id": str(agency.admin_id), **change}}, token=admin)
        assert data["updateUser"]["user"] is None
        assert [(e["code"], e["field"]) for e in data["updateUser"]["errors"]] == [("LAST_ADMIN", field)]
    row = await user_row(session_as, agency, "admin")
    assert row.role == "admin" and row.active is True
    assert (await gql(ME, token=admin))["me"]["user"]["role"] == "ADMIN"

    # with a second admin, the first may step down
    second, second_password = await create_user(gql, admin, "admin2", role="ADMIN")
    assert second["role"] == "ADMIN"
    data = await gql(UPDATE_USER, {"input": {"id": str(agency.admin_id), "role": "OPERATOR"}}, token=admin)
    assert data["updateUser"]["errors"] == [] and data["updateUser"]["user"]["role"] == "OPERATOR"
    # the demoted admin's live token loses the admin's permissions at once
    assert (await gql(ME, token=admin))["me"]["permissions"] == []
    denied = await gql(AUDIT, token=admin, expect_errors=True)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    # and now admin2 is the last admin
    admin2 = await gql.login(agency.code, "admin2", second_password)
    data = await gql(UPDATE_USER, {"input": {"id": second["id"], "active": False}}, token=admin2)
    assert [(e["code"], e["field"]) for e in data["updateUser"]["errors"]] == [("LAST_ADMIN", "active")]
    entries = await audit_entries(gql, admin2)
    demote = [e for e in entries if e["action"] == "user.update"]
    assert len(demote) == 1 and demote[0]["entityId"] == str(agency.admin_id)
    assert demote[0]["before"]["role"] == "admin" and demote[0]["after"]["role"] == "operator"
