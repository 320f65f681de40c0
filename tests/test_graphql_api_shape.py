"""The shape of the API: the committed schema, query limits, masked errors, language, health, and
the request id that ties a call to its audit rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from shebao.platform.audit.models import AuditEntry
from shebao.platform.companies.models import ClientCompany
from shebao.platform.people.models import Person
from tests.factories import company_values, resident_id

pytestmark = pytest.mark.anyio

SDL = Path(__file__).resolve().parent.parent / "graphql" / "schema.graphql"
LOGIN = """
mutation($a: String!, $u: String!, $p: String!) {
  login(input: {agencyCode: $a, username: $u, password: $p}) { token errors { code field message } }
}"""
CREATE_COMPANY = """
mutation($input: CreateCompanyInput!) {
  createCompany(input: $input) { company { id } errors { code field message } }
}"""


def company_input(**overrides) -> dict:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(w.title() for w in rest)

    values = {camel(k): v for k, v in company_values().items()}
    values.update(overrides)
    return values


async def count(session_as, agency, model, *where) -> int:
    async with session_as(agency.system) as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


# --- (a) the committed schema -------------------------------------------------------------------


def test_committed_schema_is_current():
    from shebao.graphql.schema import schema_sdl

    assert schema_sdl() == SDL.read_text(encoding="utf-8"), (
        "schema changed: run `shebao schema > graphql/schema.graphql` and commit it"
    )


# --- (b) limits -----------------------------------------------------------------------------------


def deep_query(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"enrollments {{ person {{ {inner} }} }}"
    return "{ persons { nodes { " + inner + " } } }"


async def test_query_nested_too_deep_is_refused_before_running(make_agency, gql, session_as):
    agency = await make_agency()
    token = await gql.login(agency.code, agency.admin_username, agency.admin_password)
    ok = await gql(deep_query(3), token=token)  # depth 9: within the limit of 10
    assert ok["persons"]["nodes"] == []
    for auth in (None, token):
        response = await gql.raw(deep_query(8), token=auth)
        assert response.status_code == 200
        body = response.json()
        assert body.get("data") is None
        assert len(body["errors"]) == 1
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
        assert "maximum operation depth of 10" in body["errors"][0]["message"]
    # a deep mutation is refused before anything is written
    inner = "id"
    for _ in range(6):
        inner = f"enrollments {{ person {{ {inner} }} }}"
    body = await gql(
        "mutation($input: CreatePersonInput!) { createPerson(input: $input) { person { " + inner + " } } }",
        {"input": {"idNumber": resident_id(), "name": "某人"}},
        token=token,
        expect_errors=True,
    )
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_DEEP"]
    assert await count(session_as, agency, Person) == 0


async def test_oversized_queries_are_refused(gql):
    fields = " ".join("__typename" for _ in range(3000))
    for query in ("{ " + fields + " }", "{ " + " ".join(f"a{i}: __typename" for i in range(1500)) + " }"):
        response = await gql.raw(query)
        assert response.status_code == 200
        body = response.json()
        assert body.get("data") is None
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE", body["errors"]


async def test_too_many_aliases_are_refused(gql):
    thirty = "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }"
    body = await gql(thirty)
    assert body["a29"] == "Query"
    body = await gql("{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }", expect_errors=True)
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert "31 aliases" in body["errors"][0]["message"]


async def test_a_body_over_one_megabyte_is_refused(make_agency, gql, session_as):
    agency = await make_agency()
    token = await gql.login(agency.code, agency.admin_username, agency.admin_password)
    huge = company_input(address="x" * 1_100_000)
    response = await gql.raw(CREATE_COMPANY, {"input": huge}, token=token)
    assert response.status_code == 413
    assert await count(session_as, agency, ClientCompany) == 0


# --- (c) unexpected exceptions ----------------------------------------------------------------------


async def test_unexpected_exceptions_are_masked(make_agency, gql, monkeypatch, caplog):
    from shebao.platform.companies import service

    async def broken(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(service, "list_companies", broken)
    agency = await make_agency()
    token = await gql.login(agency.code, agency.admin_username, agency.admin_password)
    response = await gql.raw("{ companies { totalCount } }", token=token, headers={"X-Request-ID": "trace-masked-1"})
    assert response.status_code == 200
    assert "secret detail" not in response.text
    assert "RuntimeError" not in response.text and "Traceback" not in response.text
    body = response.json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_ERROR"
    assert error["extensions"]["requestId"] == "trace-masked-1"
    assert error["message"] == "服务器内部错误，已记录"
    # without a request id from the client, the server makes one up and returns it
    response = await gql.raw("{ companies { totalCount } }", token=token, lang="en")
    error = response.json()["errors"][0]
    assert error["message"] == "Unexpected error (logged)"
    assert len(error["extensions"]["requestId"]) == 32
    assert "secret detail" not in response.text
    # ... but the detail is in the server's log, with the request id
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "trace-masked-1" in logged and "secret detail" in logged


async def test_an_unexpected_failure_in_a_mutation_writes_nothing(make_agency, gql, session_as, monkeypatch):
    from shebao.platform.audit import service as audit

    async def broken(*args, **kwargs):
        raise RuntimeError("secret detail")

    agency = await make_agency()
    token = await gql.login(agency.code, agency.admin_username, agency.admin_password)
    monkeypatch.setattr(audit, "record", broken)  # fails after the company row was flushed
    response = await gql.raw(CREATE_COMPANY, {"input": company_input()}, token=token)
    assert "secret detail" not in response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    assert await count(session_as, agency, ClientCompany) == 0


# --- (d) language ---------------------------------------------------------------------------------------


async def test_chinese_by_default_english_on_request(make_agency, gql):
    agency = await make_agency()
    variables = {"a": agency.code, "u": "nobody", "p": "Wrong-passw0rd"}  # unknown: no lockout
    for header, expected in (
        (None, "机构代码、用户名或密码错误"),
        ("zh-CN,zh;q=0.9", "机构代码、用户名或密码错误"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "机构代码、用户名或密码错误"),
        ("fr", "机构代码、用户名或密码错误"),
        ("en", "Wrong agency, username or password"),
        ("en-US,en;q=0.9,zh;q=0.5", "Wrong agency, username or password"),
    ):
        body = await gql(LOGIN, variables, lang=header)
        errors = body["login"]["errors"]
        assert errors[0]["code"] == "INVALID_CREDENTIALS"
        assert errors[0]["message"] == expected, header


# --- (e) health and GraphiQL -------------------------------------------------------------------------------


async def test_health(app_client):
    response = await app_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_graphiql_in_a_browser(app_client):
    response = await app_client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


# --- (f) request ids -------------------------------------------------------------------------------------


async def test_request_id_reaches_the_audit_log(make_agency, gql, session_as):
    agency = await make_agency()
    response = await gql.raw(
        LOGIN,
        {"a": agency.code, "u": "admin", "p": agency.admin_password},
        headers={"X-Request-ID": "login-req-42"},
    )
    token = response.json()["data"]["login"]["token"]
    response = await gql.raw(
        CREATE_COMPANY, {"input": company_input()}, token=token, headers={"X-Request-ID": "create-req-43"}
    )
    company_id = response.json()["data"]["createCompany"]["company"]["id"]
    async with session_as(agency.system) as s:
        rows = {
            e.action: e.request_id
            for e in (await s.scalars(select(AuditEntry).where(AuditEntry.actor_user_id.is_not(None)))).all()
        }
    assert rows == {"auth.login": "login-req-42", "company.create": "create-req-43"}
    data = await gql(
        "query($id: ID!) { auditLog(entityId: $id) { nodes { action requestId } } }", {"id": company_id}, token=token
    )
    assert data["auditLog"]["nodes"] == [{"action": "company.create", "requestId": "create-req-43"}]
