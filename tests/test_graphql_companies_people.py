"""Client companies, insured persons and enrollments through the GraphQL endpoint: validation that
writes nothing, sensitive changes through review, filters, Relay pagination and company scope."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from stdnum.cn import ric

from shebao.platform.audit.models import AuditEntry
from shebao.platform.companies.models import ClientCompany, CompanyChangeRequest
from shebao.platform.core.month import Month
from shebao.platform.people import service as people
from shebao.platform.people.models import EmploymentForm, Enrollment, HouseholdType, Person
from tests.factories import company_values, credit_code, resident_id

pytestmark = pytest.mark.anyio

COMPANY_FIELDS = (
    "id name creditCode unitNumber regionCode legalRepName legalRepIdNumber"
    " address phone contactMobile bankAccount version"
)
CREATE_COMPANY = f"""
mutation($input: CreateCompanyInput!) {{
  createCompany(input: $input) {{ company {{ {COMPANY_FIELDS} }} errors {{ code field message }} }}
}}"""
UPDATE_COMPANY = f"""
mutation($input: UpdateCompanyInput!) {{
  updateCompany(input: $input) {{
    company {{ {COMPANY_FIELDS} }}
    appliedFields
    changeRequest {{ id companyId status changes previous requestedBy reviewedBy reason }}
    errors {{ code field message }}
  }}
}}"""
APPROVE = """
mutation($id: ID!) {
  approveCompanyChange(id: $id) {
    changeRequest { id status reviewedBy reviewedAt company { name bankAccount } } errors { code field message }
  }
}"""
REJECT = """
mutation($id: ID!, $reason: String!) {
  rejectCompanyChange(id: $id, reason: $reason) {
    changeRequest { id status reviewedBy reason } errors { code field message }
  }
}"""
COMPANY = f"query($id: ID!) {{ company(id: $id) {{ {COMPANY_FIELDS} }} }}"
CREATE_PERSON = """
mutation($input: CreatePersonInput!) {
  createPerson(input: $input) { person { id idNumber name gender birthDate phone } errors { code field message } }
}"""
PERSONS = """
query($first: Int, $after: String, $filter: PersonFilterInput) {
  persons(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name } }
  }
}"""
ENROLLMENTS = """
query($first: Int, $after: String, $filter: EnrollmentFilterInput) {
  enrollments(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id personId companyId startMonth endMonth householdType employmentForm monthlyBase
            person { id } company { id } }
  }
}"""
CREATE_USER = """
mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } errors { code field } } }"""


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def company_input(region_code: str = "tianjin", **overrides) -> dict:
    values = {camel(k): v for k, v in company_values(region_code).items()}
    values.update(overrides)
    return values


def id_number_with_x() -> str:
    """A valid resident ID number whose check character is X."""
    for n in range(1000):
        body = f"11010519800101{n:03d}"
        check = ric.calc_check_digit(body + "0")
        if check == "X":
            return body + check
    raise AssertionError("no X check digit found")


async def new_user(gql, agency, admin, username, permissions, company_ids=(), all_companies=False) -> tuple[str, str]:
    """Create an operator and log them in: (user id, token)."""
    password = "Passw0rd" + secrets.token_hex(4)
    data = await gql(
        CREATE_USER,
        {
            "input": {
                "username": username,
                "displayName": username,
                "password": password,
                "permissions": permissions,
                "companyIds": list(company_ids),
                "allCompanies": all_companies,
            }
        },
        token=admin,
    )
    assert data["createUser"]["errors"] == [], data
    return data["createUser"]["user"]["id"], await gql.login(agency.code, username, password)


async def setup(gql, agency) -> str:
    return await gql.login(agency.code, agency.admin_username, agency.admin_password)


async def create_company(gql, token, **overrides) -> dict:
    data = await gql(CREATE_COMPANY, {"input": company_input(**overrides)}, token=token)
    assert data["createCompany"]["errors"] == [], data
    return data["createCompany"]["company"]


async def count(session_as, agency, model, *where) -> int:
    async with session_as(agency.system) as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


def codes(errors) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in errors]


# --- companies ----------------------------------------------------------------------------------


async def test_create_company(make_agency, gql, session_as):
    agency = await make_agency()
    token = await setup(gql, agency)
    given = company_input("fujian.fuzhou", unitNumber="3501020000001", address="福州市鼓楼区 1 号")
    data = await gql(CREATE_COMPANY, {"input": given}, token=token)
    payload = data["createCompany"]
    assert payload["errors"] == []
    company = payload["company"]
    assert company["name"] == given["name"]
    assert company["creditCode"] == given["creditCode"]
    assert company["regionCode"] == "fujian.fuzhou"
    assert company["unitNumber"] == "3501020000001"
    assert company["legalRepIdNumber"] == given["legalRepIdNumber"]
    assert company["version"] == 1
    assert (await gql(COMPANY, {"id": company["id"]}, token=token))["company"] == company
    async with session_as(agency.system) as s:
        row = await s.scalar(select(ClientCompany))
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "company.create"))
    assert str(row.id) == company["id"] and row.agency_id == agency.id
    assert entry.entity_id == row.id and entry.company_id == row.id
    assert entry.after["credit_code"] == given["creditCode"] and entry.before is None
    # the same credit code twice in a region is refused
    again = await gql(CREATE_COMPANY, {"input": {**given, "name": "另一家"}}, token=token)
    assert codes(again["createCompany"]["errors"]) == [("DUPLICATE", "creditCode")]
    assert await count(session_as, agency, ClientCompany) == 1


async def test_create_company_bad_input_writes_nothing(make_agency, gql, session_as):
    agency = await make_agency()
    token = await setup(gql, agency)
    good = credit_code()
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    with_letters = next(c for c in (credit_code() for _ in range(50)) if any(ch.isalpha() for ch in c[2:]))
    fullwidth = "９" + good[1:]
    cases = [
        ({"creditCode": wrong_check}, ("INVALID_CREDIT_CODE", "creditCode"), "校验位错误"),
        ({"creditCode": with_letters.lower()}, ("INVALID_CREDIT_CODE", "creditCode"), "字母须大写"),
        ({"creditCode": fullwidth}, ("INVALID_CREDIT_CODE", "creditCode"), "全角"),
        ({"creditCode": good[:17]}, ("INVALID_CREDIT_CODE", "creditCode"), "18 位"),
        ({"creditCode": good + "0"}, ("INVALID_CREDIT_CODE", "creditCode"), "18 位"),
        ({"regionCode": "mars"}, ("UNKNOWN_REGION", "regionCode"), "mars"),
        (
            {"regionCode": "fujian.fuzhou", "unitNumber": "350102000001"},
            ("INVALID_UNIT_NUMBER", "unitNumber"),
            "13 位数字",
        ),
        (
            {"regionCode": "fujian.fuzhou", "unitNumber": "35010200000012"},
            ("INVALID_UNIT_NUMBER", "unitNumber"),
            "13 位数字",
        ),
        ({"legalRepIdNumber": id_number_with_x().lower()}, ("INVALID_ID_NUMBER", "legalRepIdNumber"), "大写"),
        ({"contactMobile": "2380013800"}, ("INVALID_MOBILE", "contactMobile"), "11 位"),
        ({"legalRepName": "  "}, ("REQUIRED", "legalRepName"), "必填"),
    ]
    for override, expected, zh_words in cases:
        data = await gql(CREATE_COMPANY, {"input": company_input(**override)}, token=token)
        payload = data["createCompany"]
        assert payload["company"] is None, override
        assert codes(payload["errors"]) == [expected], override
        assert zh_words in payload["errors"][0]["message"], payload["errors"]
    # English on request
    data = await gql(CREATE_COMPANY, {"input": company_input(creditCode=wrong_check)}, token=token, lang="en")
    assert data["createCompany"]["errors"][0]["message"] == "Invalid unified social credit code: wrong check digit"
    data = await gql(CREATE_COMPANY, {"input": company_input(regionCode="mars")}, token=token, lang="en")
    assert data["createCompany"]["errors"][0]["message"].startswith("Unknown region code mars; known: ")
    # every problem of one input is reported at once
    data = await gql(
        CREATE_COMPANY,
        {"input": company_input(creditCode=good[:17], legalRepIdNumber="110105199001011234")},
        token=token,
    )
    assert set(codes(data["createCompany"]["errors"])) == {
        ("INVALID_CREDIT_CODE", "creditCode"),
        ("INVALID_ID_NUMBER", "legalRepIdNumber"),
    }
    assert await count(session_as, agency, ClientCompany) == 0
    assert await count(session_as, agency, AuditEntry, AuditEntry.action == "company.create") == 0
    # the X in upper case is fine
    await create_company(gql, token, legalRepIdNumber=id_number_with_x())
    assert await count(session_as, agency, ClientCompany) == 1


async def test_update_company_ordinary_at_once_sensitive_through_review(make_agency, gql, session_as):
    agency = await make_agency()
    admin = await setup(gql, agency)
    company = await create_company(gql, admin)
    data = await gql(
        UPDATE_COMPANY,
        {
            "input": {
                "id": company["id"],
                "expectedVersion": 1,
                "address": "天津市和平区 8 号",
                "phone": "022-12345678",
                "contactMobile": "13900139000",
                "name": "新名称有限公司",
                "bankAccount": "6222020200998877",
            }
        },
        token=admin,
    )
    payload = data["updateCompany"]
    assert payload["errors"] == []
    assert sorted(payload["appliedFields"]) == ["address", "contactMobile", "phone"]
    updated = payload["company"]
    assert updated["address"] == "天津市和平区 8 号" and updated["phone"] == "022-12345678"
    assert updated["contactMobile"] == "13900139000"
    assert updated["name"] == company["name"] and updated["bankAccount"] == company["bankAccount"]
    assert updated["version"] == 2
    request = payload["changeRequest"]
    assert request["status"] == "PENDING" and request["companyId"] == company["id"]
    assert request["changes"] == {"name": "新名称有限公司", "bankAccount": "6222020200998877"}
    assert request["previous"] == {"name": company["name"], "bankAccount": company["bankAccount"]}
    assert request["reviewedBy"] is None

    stored = (await gql(COMPANY, {"id": company["id"]}, token=admin))["company"]
    assert stored["name"] == company["name"] and stored["bankAccount"] == company["bankAccount"]
    assert stored["address"] == "天津市和平区 8 号"

    # a second sensitive change waits for the first to be decided
    data = await gql(UPDATE_COMPANY, {"input": {"id": company["id"], "bankAccount": "6222000011112222"}}, token=admin)
    assert codes(data["updateCompany"]["errors"]) == [("CHANGE_PENDING", "bankAccount")]

    # the requester cannot approve their own request
    data = await gql(APPROVE, {"id": request["id"]}, token=admin)
    assert data["approveCompanyChange"]["changeRequest"] is None
    assert codes(data["approveCompanyChange"]["errors"]) == [("SELF_REVIEW", "id")]
    async with session_as(agency.system) as s:
        row = await s.scalar(select(CompanyChangeRequest))
        assert row.status == "pending" and row.reviewed_by is None
        assert (await s.scalar(select(ClientCompany.name))) == company["name"]

    # an operator without companies:review is refused outright
    _, clerk = await new_user(gql, agency, admin, "clerk", ["COMPANIES_READ", "COMPANIES_WRITE"], all_companies=True)
    body = await gql(APPROVE, {"id": request["id"]}, token=clerk, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"

    reviewer_id, reviewer = await new_user(
        gql, agency, admin, "reviewer", ["COMPANIES_READ", "COMPANIES_REVIEW"], all_companies=True
    )
    data = await gql(APPROVE, {"id": request["id"]}, token=reviewer)
    approved = data["approveCompanyChange"]
    assert approved["errors"] == []
    assert approved["changeRequest"]["status"] == "APPROVED"
    assert approved["changeRequest"]["reviewedBy"] == reviewer_id
    assert approved["changeRequest"]["reviewedAt"]
    assert approved["changeRequest"]["company"] == {"name": "新名称有限公司", "bankAccount": "6222020200998877"}
    stored = (await gql(COMPANY, {"id": company["id"]}, token=admin))["company"]
    assert stored["name"] == "新名称有限公司" and stored["bankAccount"] == "6222020200998877"
    assert stored["version"] == 3

    # decided once only
    data = await gql(APPROVE, {"id": request["id"]}, token=reviewer)
    assert codes(data["approveCompanyChange"]["errors"]) == [("NOT_PENDING", "id")]

    async with session_as(agency.system) as s:
        entries = (await s.scalars(select(AuditEntry).where(AuditEntry.company_id.is_not(None)))).all()
    by_action = {e.action: e for e in entries}
    assert set(by_action) == {"company.create", "company.update", "company.change_request", "company.change_approve"}
    assert by_action["company.update"].before == {
        "address": None,
        "phone": None,
        "contact_mobile": company["contactMobile"],
    }
    assert by_action["company.update"].after["address"] == "天津市和平区 8 号"
    assert by_action["company.change_request"].after == {
        "name": "新名称有限公司",
        "bank_account": "6222020200998877",
    }
    approve = by_action["company.change_approve"]
    assert str(approve.actor_user_id) == reviewer_id
    assert approve.before["name"] == company["name"] and approve.after["name"] == "新名称有限公司"


async def test_reject_change_and_filter_requests_by_status(make_agency, gql, session_as):
    agency = await make_agency()
    admin = await setup(gql, agency)
    _, reviewer = await new_user(
        gql, agency, admin, "reviewer", ["COMPANIES_READ", "COMPANIES_REVIEW"], all_companies=True
    )
    companies = [await create_company(gql, admin) for _ in range(3)]
    requests = []
    for i, c in enumerate(companies):
        data = await gql(UPDATE_COMPANY, {"input": {"id": c["id"], "name": f"改名{i}有限公司"}}, token=admin)
        assert data["updateCompany"]["appliedFields"] == []
        requests.append(data["updateCompany"]["changeRequest"]["id"])

    empty = await gql(REJECT, {"id": requests[0], "reason": "   "}, token=reviewer)
    assert codes(empty["rejectCompanyChange"]["errors"]) == [("REQUIRED", "reason")]
    data = await gql(REJECT, {"id": requests[0], "reason": "营业执照未更新"}, token=reviewer)
    rejected = data["rejectCompanyChange"]
    assert rejected["errors"] == []
    assert rejected["changeRequest"]["status"] == "REJECTED"
    assert rejected["changeRequest"]["reason"] == "营业执照未更新"
    assert (await gql(COMPANY, {"id": companies[0]["id"]}, token=admin))["company"]["name"] == companies[0]["name"]
    assert (await gql(APPROVE, {"id": requests[1]}, token=reviewer))["approveCompanyChange"]["errors"] == []

    query = """query($status: ChangeStatus, $companyId: ID) {
      companyChangeRequests(status: $status, companyId: $companyId) { totalCount nodes { id status reason } }
    }"""
    for status, expected in (("PENDING", [requests[2]]), ("APPROVED", [requests[1]]), ("REJECTED", [requests[0]])):
        page = (await gql(query, {"status": status}, token=admin))["companyChangeRequests"]
        assert page["totalCount"] == 1
        assert [n["id"] for n in page["nodes"]] == expected
        assert {n["status"] for n in page["nodes"]} == {status}
    everything = (await gql(query, {}, token=admin))["companyChangeRequests"]
    assert [n["id"] for n in everything["nodes"]] == requests
    one = (await gql(query, {"companyId": companies[0]["id"]}, token=admin))["companyChangeRequests"]
    assert one["nodes"] == [{"id": requests[0], "status": "REJECTED", "reason": "营业执照未更新"}]

    async with session_as(agency.system) as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "company.change_reject"))
    assert str(entry.entity_id) == requests[0]
    assert entry.before["status"] == "pending"
    assert entry.after["status"] == "rejected" and entry.after["reason"] == "营业执照未更新"


async def test_stale_expected_version_is_a_conflict(make_agency, gql, session_as):
    agency = await make_agency()
    admin = await setup(gql, agency)
    company = await create_company(gql, admin)
    first = await gql(UPDATE_COMPANY, {"input": {"id": company["id"], "expectedVersion": 1, "phone": "1"}}, token=admin)
    assert first["updateCompany"]["errors"] == [] and first["updateCompany"]["company"]["version"] == 2
    stale = await gql(
        UPDATE_COMPANY,
        {"input": {"id": company["id"], "expectedVersion": 1, "address": "别处", "name": "抢先改名"}},
        token=admin,
        lang="en",
    )
    payload = stale["updateCompany"]
    assert payload["company"] is None and payload["changeRequest"] is None
    assert codes(payload["errors"]) == [("CONFLICT", "version")]
    assert payload["errors"][0]["message"] == "The record was changed by someone else: reload and retry"
    stored = (await gql(COMPANY, {"id": company["id"]}, token=admin))["company"]
    assert stored["address"] is None and stored["name"] == company["name"] and stored["version"] == 2
    assert await count(session_as, agency, CompanyChangeRequest) == 0
    # nothing to change and unknown ids are refused too
    same = await gql(UPDATE_COMPANY, {"input": {"id": company["id"], "phone": "1"}}, token=admin)
    assert codes(same["updateCompany"]["errors"]) == [("NO_CHANGES", None)]
    unknown = await gql(UPDATE_COMPANY, {"input": {"id": "not-a-uuid", "phone": "2"}}, token=admin)
    assert codes(unknown["updateCompany"]["errors"]) == [("NOT_FOUND", "id")]
    bad = await gql(UPDATE_COMPANY, {"input": {"id": company["id"], "legalRepIdNumber": "123"}}, token=admin)
    assert codes(bad["updateCompany"]["errors"]) == [("INVALID_ID_NUMBER", "legalRepIdNumber")]
    assert await count(session_as, agency, CompanyChangeRequest) == 0


# --- persons ------------------------------------------------------------------------------------


async def test_create_person_derives_gender_and_birth_date(make_agency, gql, session_as):
    agency = await make_agency()
    token = await setup(gql, agency)
    woman = resident_id("19851231", female=True)
    data = await gql(
        CREATE_PERSON, {"input": {"idNumber": woman, "name": " 王芳 ", "phone": "13700137000"}}, token=token
    )
    payload = data["createPerson"]
    assert payload["errors"] == []
    assert payload["person"]["idNumber"] == woman
    assert payload["person"]["name"] == "王芳"
    assert payload["person"]["gender"] == "FEMALE"
    assert payload["person"]["birthDate"] == "1985-12-31"
    man = resident_id("20000229", female=False)
    data = await gql(CREATE_PERSON, {"input": {"idNumber": man, "name": "李伟"}}, token=token)
    assert data["createPerson"]["person"]["gender"] == "MALE"
    assert data["createPerson"]["person"]["birthDate"] == "2000-02-29"
    with_x = id_number_with_x()
    data = await gql(CREATE_PERSON, {"input": {"idNumber": with_x, "name": "张敏"}}, token=token)
    assert data["createPerson"]["errors"] == []
    dup = await gql(CREATE_PERSON, {"input": {"idNumber": woman, "name": "重复"}}, token=token)
    assert codes(dup["createPerson"]["errors"]) == [("DUPLICATE", "idNumber")]
    assert await count(session_as, agency, Person) == 3
    async with session_as(agency.system) as s:
        entry = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == "person.create").order_by(AuditEntry.id).limit(1)
        )
    assert entry.after["id_number"] == woman and entry.after["gender"] == "female"


async def test_bad_id_numbers_are_refused(make_agency, gql, session_as):
    agency = await make_agency()
    token = await setup(gql, agency)
    good = resident_id()
    wrong_check = good[:-1] + str((int(good[-1]) + 1) % 10 if good[-1].isdigit() else 0)
    bad_date = "110105" + "19901332" + "123"
    bad_date += ric.calc_check_digit(bad_date + "0")
    cases = {
        wrong_check: "checksum",
        id_number_with_x().lower(): "lowercase_x",
        "１" + good[1:]: "fullwidth",
        good[:17]: "length",
        good + "1": "length",
        good[:8] + " " + good[9:]: "whitespace",
        bad_date: "birth_date",
        "11010519900101123A": "format",
    }
    zh_reasons = {"checksum": "校验位错误", "lowercase_x": "末位 X 须大写", "fullwidth": "全角", "length": "18 位"}
    for number, reason in cases.items():
        data = await gql(CREATE_PERSON, {"input": {"idNumber": number, "name": "某人"}}, token=token)
        payload = data["createPerson"]
        assert payload["person"] is None
        assert codes(payload["errors"]) == [("INVALID_ID_NUMBER", "idNumber")], (number, reason)
        if reason in zh_reasons:
            assert zh_reasons[reason] in payload["errors"][0]["message"], payload
    en = await gql(CREATE_PERSON, {"input": {"idNumber": wrong_check, "name": "某人"}}, token=token, lang="en")
    assert en["createPerson"]["errors"][0]["message"] == "Invalid resident ID number: wrong check digit"
    assert await count(session_as, agency, Person) == 0
    assert await count(session_as, agency, AuditEntry, AuditEntry.action == "person.create") == 0


async def _enroll(session_as, agency, person_id, company_id, start="2026-01", household="LOCAL_URBAN", form="CONTRACT"):
    async with session_as(agency.system) as s:
        row = await people.enroll(
            s,
            person_id=uuid.UUID(person_id),
            company_id=uuid.UUID(company_id),
            start_month=Month.parse(start),
            household_type=HouseholdType[household],
            employment_form=EmploymentForm[form],
            monthly_base=Decimal("6000.00"),
        )
        await s.commit()
        return str(row.id)


async def _person(gql, token, name, **kw) -> str:
    data = await gql(CREATE_PERSON, {"input": {"idNumber": resident_id(**kw), "name": name}}, token=token)
    assert data["createPerson"]["errors"] == [], data
    return data["createPerson"]["person"]["id"]


async def _walk(gql, token, query, key, first, variables=None) -> tuple[list[str], list[int]]:
    """Follow ``after`` cursors to the end: the ids seen and the totalCount of each page."""
    ids, totals, after = [], [], None
    for _ in range(50):
        page = (await gql(query, {"first": first, "after": after, **(variables or {})}, token=token))[key]
        totals.append(page["totalCount"])
        nodes = [e["node"] for e in page["edges"]] if "edges" in page else page["nodes"]
        ids.extend(n["id"] for n in nodes)
        if page.get("edges"):
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return ids, totals
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("pagination did not end")


async def test_persons_and_enrollments_filters_and_pagination(make_agency, gql, session_as):
    agency = await make_agency()
    token = await setup(gql, agency)
    a = await create_company(gql, token)
    b = await create_company(gql, token, regionCode="fujian.xiamen")
    names = ["王芳", "王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊"]
    persons = [await _person(gql, token, name) for name in names]
    loner = await _person(gql, token, "赵丽")  # never enrolled
    # A: four people (one from March, one stopped in January); B: three people
    e = {}
    e[0] = await _enroll(session_as, agency, persons[0], a["id"], "2026-03", "LOCAL_RURAL", "DISPATCHED")
    e[1] = await _enroll(session_as, agency, persons[1], a["id"], "2026-01", "LOCAL_URBAN", "CONTRACT")
    e[2] = await _enroll(session_as, agency, persons[2], a["id"], "2026-01", "NONLOCAL_RURAL", "RURAL_WORKER")
    e[3] = await _enroll(session_as, agency, persons[3], a["id"], "2026-01", "LOCAL_URBAN", "PART_TIME")
    e[4] = await _enroll(session_as, agency, persons[4], b["id"], "2026-01", "LOCAL_RURAL", "CONTRACT")
    e[5] = await _enroll(session_as, agency, persons[5], b["id"], "2026-02", "HMT", "DISPATCHED")
    e[6] = await _enroll(session_as, agency, persons[6], b["id"], "2026-01", "LOCAL_URBAN", "CONTRACT")
    async with session_as(agency.system) as s:
        await s.execute(
            update(Enrollment).where(Enrollment.person_id == uuid.UUID(persons[3])).values(end_month=Month(2026, 1))
        )
        await s.commit()

    everyone = [*persons, loner]
    for first in (1, 3, 8, 100):
        ids, totals = await _walk(gql, token, PERSONS, "persons", first)
        assert ids == everyone, first
        assert set(totals) == {8}

    async def person_ids(**filter):
        page = (await gql(PERSONS, {"first": 100, "filter": filter}, token=token))["persons"]
        assert page["totalCount"] == len(page["edges"])
        return [edge["node"]["id"] for edge in page["edges"]]

    assert await person_ids(nameContains="王") == persons[:2]
    assert await person_ids(nameContains="%") == []  # no wildcard leaks through
    assert await person_ids(companyId=a["id"]) == persons[:4]
    assert await person_ids(companyId=b["id"]) == persons[4:]
    assert await person_ids(regionCode="fujian.xiamen") == persons[4:]
    assert await person_ids(insuredIn="2026-01") == [persons[i] for i in (1, 2, 3, 4, 6)]
    assert await person_ids(insuredIn="2026-02") == [persons[i] for i in (1, 2, 4, 5, 6)]
    assert await person_ids(insuredIn="2026-03", companyId=a["id"]) == [persons[i] for i in (0, 1, 2)]
    assert await person_ids(nameContains="王", companyId=b["id"]) == []

    async def enrollment_ids(**filter):
        page = (await gql(ENROLLMENTS, {"first": 100, "filter": filter}, token=token))["enrollments"]
        assert page["totalCount"] == len(page["nodes"])
        return [n["id"] for n in page["nodes"]]

    all_enrollments = [e[i] for i in range(7)]
    ids, totals = await _walk(gql, token, ENROLLMENTS, "enrollments", 2)
    assert ids == all_enrollments and set(totals) == {7}
    assert await enrollment_ids(companyId=a["id"]) == all_enrollments[:4]
    assert await enrollment_ids(householdType="LOCAL_URBAN") == [e[1], e[3], e[6]]
    assert await enrollment_ids(employmentForm="DISPATCHED") == [e[0], e[5]]
    assert await enrollment_ids(householdType="LOCAL_RURAL", employmentForm="CONTRACT") == [e[4]]
    assert await enrollment_ids(activeIn="2026-02", companyId=a["id"]) == [e[1], e[2]]
    assert await enrollment_ids(personId=persons[5]) == [e[5]]
    ids, totals = await _walk(gql, token, ENROLLMENTS, "enrollments", 1, {"filter": {"companyId": b["id"]}})
    assert ids == all_enrollments[4:] and set(totals) == {3}

    page = (await gql(ENROLLMENTS, {"first": 1, "filter": {"personId": persons[3]}}, token=token))["enrollments"]
    node = page["nodes"][0]
    assert node["startMonth"] == "2026-01" and node["endMonth"] == "2026-01"
    assert node["householdType"] == "LOCAL_URBAN" and node["employmentForm"] == "PART_TIME"
    assert Decimal(node["monthlyBase"]) == Decimal("6000.00")
    assert node["person"] == {"id": persons[3]} and node["company"] == {"id": a["id"]}


async def test_page_size_cap_and_bad_cursor(make_agency, gql):
    agency = await make_agency()
    token = await setup(gql, agency)
    await _person(gql, token, "某人")
    for query, key in (
        (PERSONS, "persons"),
        (ENROLLMENTS, "enrollments"),
        ("query($first: Int) { companies(first: $first) { totalCount } }", "companies"),
    ):
        for first in (101, 0, -1):
            body = await gql(query, {"first": first}, token=token, expect_errors=True)
            assert body["data"] is None, body
            error = body["errors"][0]
            assert error["extensions"]["code"] == "INVALID_VALUE", error
            assert error["extensions"]["field"] == "first"
            assert error["path"] == [key]
        assert (await gql(query, {"first": 100}, token=token))[key]["totalCount"] >= 0
    en = await gql(PERSONS, {"first": 101}, token=token, expect_errors=True, lang="en")
    assert en["errors"][0]["message"] == "Invalid value 101; allowed: 1-100"
    for cursor in ("bogus!", "AAAA", "djE6"):
        body = await gql(PERSONS, {"first": 5, "after": cursor}, token=token, expect_errors=True)
        assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", cursor
        assert body["errors"][0]["extensions"]["field"] == "after"


# --- company scope ------------------------------------------------------------------------------


async def test_operator_sees_only_the_companies_in_scope(make_agency, gql, session_as):
    agency = await make_agency()
    admin = await setup(gql, agency)
    x = await create_company(gql, admin)
    y = await create_company(gql, admin)
    px = [await _person(gql, admin, f"甲{i}") for i in range(2)]
    py = [await _person(gql, admin, f"乙{i}") for i in range(2)]
    ex = [await _enroll(session_as, agency, p, x["id"]) for p in px]
    ey = [await _enroll(session_as, agency, p, y["id"]) for p in py]
    _, op = await new_user(gql, agency, admin, "scoped", ["COMPANIES_READ", "PERSONS_READ"], company_ids=[x["id"]])

    companies = (await gql("{ companies { totalCount nodes { id } } }", token=op))["companies"]
    assert companies == {"totalCount": 1, "nodes": [{"id": x["id"]}]}
    assert (await gql(COMPANY, {"id": x["id"]}, token=op))["company"]["id"] == x["id"]
    assert (await gql(COMPANY, {"id": y["id"]}, token=op))["company"] is None
    persons = (await gql(PERSONS, {"first": 100}, token=op))["persons"]
    assert persons["totalCount"] == 2 and [e["node"]["id"] for e in persons["edges"]] == px
    assert (await gql(PERSONS, {"filter": {"companyId": y["id"]}}, token=op))["persons"]["totalCount"] == 0
    person = "query($id: ID!) { person(id: $id) { id enrollments { id } } }"
    assert (await gql(person, {"id": py[0]}, token=op))["person"] is None
    assert (await gql(person, {"id": px[0]}, token=op))["person"]["enrollments"] == [{"id": ex[0]}]
    enrollments = (await gql(ENROLLMENTS, {"first": 100}, token=op))["enrollments"]
    assert enrollments["totalCount"] == 2 and [n["id"] for n in enrollments["nodes"]] == ex
    assert {n["company"]["id"] for n in enrollments["nodes"]} == {x["id"]}
    enrollment = "query($id: ID!) { enrollment(id: $id) { id } }"
    assert (await gql(enrollment, {"id": ey[0]}, token=op))["enrollment"] is None
    assert (await gql(enrollment, {"id": ex[0]}, token=op))["enrollment"] == {"id": ex[0]}

    # the admin sees everything
    assert (await gql("{ companies { totalCount } }", token=admin))["companies"]["totalCount"] == 2
    assert (await gql(PERSONS, {}, token=admin))["persons"]["totalCount"] == 4
    assert (await gql(ENROLLMENTS, {}, token=admin))["enrollments"]["totalCount"] == 4


async def test_bad_filter_values_get_a_code(make_agency, gql):
    agency = await make_agency()
    token = await setup(gql, agency)
    # a month the Month scalar refuses, given as a variable or inline
    for month in ("2026-13", "2026-1", "26-01"):
        body = await gql(PERSONS, {"filter": {"insuredIn": month}}, token=token, expect_errors=True)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "INVALID_MONTH", body["errors"]
        assert month in body["errors"][0]["message"]
    body = await gql('{ enrollments(filter: {activeIn: "2026-00"}) { totalCount } }', token=token, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_MONTH"
    en = await gql(PERSONS, {"filter": {"insuredIn": "2026-13"}}, token=token, expect_errors=True, lang="en")
    assert en["errors"][0]["message"] == "A month is written YYYY-MM: 2026-13"
    # a malformed id in a filter is "not found", named by its GraphQL field
    for query, key in ((PERSONS, "persons"), (ENROLLMENTS, "enrollments")):
        body = await gql(query, {"filter": {"companyId": "not-a-uuid"}}, token=token, expect_errors=True)
        error = body["errors"][0]
        assert error["extensions"] == {"code": "NOT_FOUND", "field": "companyId"}, error
        assert error["path"] == [key]
