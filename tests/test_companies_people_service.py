"""Client companies (validation, ordinary and reviewed changes, scope) and insured persons."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Uuid, bindparam, func, select, text, update
from stdnum.cn import ric

from shebao.platform.audit.models import AuditEntry
from shebao.platform.auth import service as auth
from shebao.platform.auth import users
from shebao.platform.auth.models import User, UserCompanyScope
from shebao.platform.auth.passwords import generate_password
from shebao.platform.auth.permissions import Permission
from shebao.platform.companies import service as companies
from shebao.platform.companies.models import ChangeStatus, ClientCompany, CompanyChangeRequest
from shebao.platform.config import Settings
from shebao.platform.core.month import Month
from shebao.platform.core.pagination import PageRequest, encode_cursor
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.people import service as people
from shebao.platform.people.models import EmploymentForm, Enrollment, Gender, HouseholdType, Person
from tests.factories import company_values, credit_code, resident_id

pytestmark = pytest.mark.anyio

READ = Permission.COMPANIES_READ.value
WRITE = Permission.COMPANIES_WRITE.value
REVIEW = Permission.COMPANIES_REVIEW.value
P_READ = Permission.PERSONS_READ.value
P_WRITE = Permission.PERSONS_WRITE.value


# -- helpers -------------------------------------------------------------------------------------


async def count(session_as, agency, model, *where) -> int:
    async with session_as(agency.system) as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def reload(session_as, agency, model, row_id):
    async with session_as(agency.system) as s:
        return await s.scalar(select(model).where(model.id == row_id))


async def audit_actions(session_as, agency, entity_id=None) -> list[AuditEntry]:
    async with session_as(agency.system) as s:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if entity_id:
            stmt = stmt.where(AuditEntry.entity_id == entity_id)
        return list((await s.scalars(stmt)).all())


async def user_actor(session_as, agency, user_id):
    async with session_as(agency.system) as s:
        return auth.actor_for(await s.scalar(select(User).where(User.id == user_id)))


async def make_user(session_as, agency, username, permissions, company_ids=(), all_companies=False):
    async with session_as(agency.system) as s:
        user = await users.create_user(
            s,
            users.UserInput(
                username=username,
                display_name=username,
                password=generate_password(),
                permissions=list(permissions),
                company_ids=list(company_ids),
                all_companies=all_companies,
            ),
        )
        await s.commit()
    return await user_actor(session_as, agency, user.id)


async def make_company(session_as, actor, **overrides) -> ClientCompany:
    async with session_as(actor) as s:
        company = await companies.create_company(s, company_values(**overrides))
        await s.commit()
    return company


async def create_error(session_as, agency, values) -> ShebaoError:
    async with session_as(agency.system) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.create_company(s, values)
    return err.value


def problems_of(err: ShebaoError) -> set[tuple[ErrorCode, str | None]]:
    return {(p.code, p.field) for p in err.problems}


async def make_person(session_as, actor, name="王五", **id_kwargs) -> Person:
    async with session_as(actor) as s:
        person = await people.register_person(s, resident_id(**id_kwargs), name)
        await s.commit()
    return person


async def enroll(session_as, actor, person, company, start="2026-01", **kwargs):
    values = dict(
        person_id=person.id,
        company_id=company.id,
        start_month=Month.parse(start),
        household_type=HouseholdType.LOCAL_URBAN,
        employment_form=EmploymentForm.CONTRACT,
        monthly_base="5000.00",
    )
    values.update(kwargs)
    async with session_as(actor) as s:
        row = await people.enroll(s, **values)
        await s.commit()
    return row


def lettered_credit_code() -> str:
    """A valid credit code with letters in it (so that lower-casing it changes it)."""
    while True:
        code = credit_code()
        if any(c.isalpha() for c in code[2:17]):
            return code


def resident_id_ending_in_x() -> str:
    for n in range(1000):
        body = f"11010519900101{n:03d}"
        check = ric.calc_check_digit(body + "0")
        if check == "X":
            return body + check
    raise AssertionError("no X check digit found")


# -- creating a company --------------------------------------------------------------------------


async def test_create_company_writes_it_and_logs_it(make_agency, session_as):
    a = await make_agency()
    values = company_values(region_code="fujian.fuzhou", unit_number="3501001234567", address=" 福州市鼓楼区 ")
    company = await make_company(session_as, a.system, **values)
    stored = await reload(session_as, a, ClientCompany, company.id)
    assert stored.agency_id == a.id
    assert stored.credit_code == values["credit_code"]
    assert stored.unit_number == "3501001234567"
    assert stored.address == "福州市鼓楼区"  # trimmed
    assert stored.version == 1
    (entry,) = [e for e in await audit_actions(session_as, a, company.id)]
    assert entry.action == "company.create" and entry.company_id == company.id
    assert entry.after["credit_code"] == values["credit_code"] and entry.after["name"] == values["name"]


def _credit_code_variants():
    code = lettered_credit_code()
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    wrong_check = code[:-1] + next(c for c in alphabet if c != code[-1])
    fullwidth = code.replace("9", "\uff19", 1)  # the leading 9, full-width
    return [
        ("checksum", wrong_check),
        ("lowercase", code.lower()),
        ("fullwidth", fullwidth),
        ("length", code[:-1]),
        ("length", code + "1"),
        ("whitespace", code[:9] + " " + code[9:]),
        ("fullwidth", code[:9] + "\u3000" + code[10:]),  # an ideographic space is a full-width character
        ("format", code[:-2] + "I" + code[-1]),  # I, O, S, V, Z are not in the alphabet
    ]


@pytest.mark.parametrize(("reason", "code"), _credit_code_variants())
async def test_bad_credit_codes(make_agency, session_as, reason, code):
    a = await make_agency()
    err = await create_error(session_as, a, company_values(credit_code=code))
    assert problems_of(err) == {(ErrorCode.INVALID_CREDIT_CODE, "creditCode")}
    assert err.problems[0].params["reason"] == reason
    assert err.problems[0].message("en").startswith("Invalid unified social credit code")
    assert await count(session_as, a, ClientCompany) == 0
    assert [e.action for e in await audit_actions(session_as, a)] == ["agency.create", "user.create"]


async def test_unknown_region(make_agency, session_as):
    a = await make_agency()
    err = await create_error(session_as, a, company_values(region_code="atlantis"))
    assert problems_of(err) == {(ErrorCode.UNKNOWN_REGION, "regionCode")}
    assert "tianjin" in err.problems[0].params["allowed"]
    # with a unit number too, the unknown region is still reported once
    err = await create_error(session_as, a, company_values(region_code="atlantis", unit_number="123"))
    assert [(p.code, p.field) for p in err.problems] == [(ErrorCode.UNKNOWN_REGION, "regionCode")]
    assert await count(session_as, a, ClientCompany) == 0


@pytest.mark.parametrize("unit_number", ["350100123456", "35010012345678", "350100123456A", "3501-00123456"])
async def test_fuzhou_unit_number_is_13_digits(make_agency, session_as, unit_number):
    a = await make_agency()
    err = await create_error(session_as, a, company_values(region_code="fujian.fuzhou", unit_number=unit_number))
    assert problems_of(err) == {(ErrorCode.INVALID_UNIT_NUMBER, "unitNumber")}
    assert err.problems[0].params["region"] == "福州"
    assert await count(session_as, a, ClientCompany) == 0
    company = await make_company(session_as, a.system, region_code="fujian.fuzhou", unit_number="3501001234567")
    assert (await reload(session_as, a, ClientCompany, company.id)).unit_number == "3501001234567"


@pytest.mark.parametrize(("cls", "grade"), [(1, 50), (1, 80), (2, 60), (9, 100), (0, 100), (2, None)])
async def test_bad_industry_class_or_grade(make_agency, session_as, cls, grade):
    a = await make_agency()
    err = await create_error(session_as, a, company_values(industry_class=cls, industry_grade=grade))
    assert problems_of(err) == {(ErrorCode.INVALID_INDUSTRY_CLASS, "industryClass")}
    assert await count(session_as, a, ClientCompany) == 0


async def test_good_industry_class_and_grade(make_agency, session_as):
    a = await make_agency()
    one = await make_company(session_as, a.system, industry_class=1, industry_grade=150)
    eight = await make_company(session_as, a.system, industry_class=8, industry_grade=50)
    assert (one.industry_class, one.industry_grade) == (1, 150)
    assert (eight.industry_class, eight.industry_grade) == (8, 50)


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("name", "name"),
        ("credit_code", "creditCode"),
        ("region_code", "regionCode"),
        ("legal_rep_name", "legalRepName"),
    ],
)
async def test_each_required_field(make_agency, session_as, key, field):
    a = await make_agency()
    for missing in (None, "", "   "):
        values = company_values()
        if missing is None:
            del values[key]
        else:
            values[key] = missing
        err = await create_error(session_as, a, values)
        assert problems_of(err) == {(ErrorCode.REQUIRED, field)}
    assert await count(session_as, a, ClientCompany) == 0


async def test_all_required_fields_at_once(make_agency, session_as):
    a = await make_agency()
    err = await create_error(session_as, a, {})
    assert problems_of(err) == {
        (ErrorCode.REQUIRED, "name"),
        (ErrorCode.REQUIRED, "creditCode"),
        (ErrorCode.REQUIRED, "regionCode"),
        (ErrorCode.REQUIRED, "legalRepName"),
    }


async def test_several_problems_are_reported_together(make_agency, session_as):
    a = await make_agency()
    good = lettered_credit_code()
    err = await create_error(
        session_as,
        a,
        company_values(
            name=None,
            credit_code=good.lower(),
            region_code="fujian.fuzhou",
            unit_number="12",
            contact_mobile="2380013800",
            legal_rep_id_number="11010519900101001x",
            bank_account="62-22",
            industry_class=1,
            industry_grade=50,
            address="路" * 301,
        ),
    )
    assert problems_of(err) == {
        (ErrorCode.REQUIRED, "name"),
        (ErrorCode.INVALID_CREDIT_CODE, "creditCode"),
        (ErrorCode.INVALID_UNIT_NUMBER, "unitNumber"),
        (ErrorCode.INVALID_MOBILE, "contactMobile"),
        (ErrorCode.INVALID_ID_NUMBER, "legalRepIdNumber"),
        (ErrorCode.INVALID_VALUE, "bankAccount"),
        (ErrorCode.INVALID_INDUSTRY_CLASS, "industryClass"),
        (ErrorCode.TOO_LONG, "address"),
    }
    assert await count(session_as, a, ClientCompany) == 0


async def test_duplicate_credit_code_in_the_same_region(make_agency, session_as):
    a, b = await make_agency(), await make_agency()
    code = credit_code()
    await make_company(session_as, a.system, credit_code=code, region_code="tianjin")
    err = await create_error(session_as, a, company_values(credit_code=code, region_code="tianjin"))
    assert problems_of(err) == {(ErrorCode.DUPLICATE, "creditCode")}
    assert await count(session_as, a, ClientCompany, ClientCompany.credit_code == code) == 1
    # another region of the same agency, or another agency: fine
    await make_company(session_as, a.system, credit_code=code, region_code="leshan")
    await make_company(session_as, b.system, credit_code=code, region_code="tianjin")
    assert await count(session_as, a, ClientCompany, ClientCompany.credit_code == code) == 2
    assert await count(session_as, b, ClientCompany, ClientCompany.credit_code == code) == 1


async def test_duplicate_check_sees_companies_outside_the_operators_scope(make_agency, session_as):
    a = await make_agency()
    code = credit_code()
    x = await make_company(session_as, a.system)
    await make_company(session_as, a.system, credit_code=code)  # outside the clerk's scope
    clerk = await make_user(session_as, a, "clerk", [READ, WRITE], [x.id])
    async with session_as(clerk) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.create_company(s, company_values(credit_code=code))
    assert problems_of(err.value) == {(ErrorCode.DUPLICATE, "creditCode")}
    assert await count(session_as, a, ClientCompany) == 2


async def test_create_needs_companies_write(make_agency, session_as):
    a = await make_agency()
    reader = await make_user(session_as, a, "reader", [READ], all_companies=True)
    async with session_as(reader) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.create_company(s, company_values())
    assert err.value.code == ErrorCode.PERMISSION_DENIED
    assert await count(session_as, a, ClientCompany) == 0


# -- updating a company --------------------------------------------------------------------------


async def test_ordinary_fields_apply_at_once(make_agency, session_as):
    a = await make_agency()
    company = await make_company(session_as, a.system)
    changes = {"address": "天津市和平区南京路 1 号", "phone": "022-12345678", "contact_mobile": "13900139000"}
    async with session_as(a.system) as s:
        result = await companies.update_company(s, company.id, changes, expected_version=1)
        await s.commit()
    assert result.applied == changes and result.change_request is None
    stored = await reload(session_as, a, ClientCompany, company.id)
    assert (stored.address, stored.phone, stored.contact_mobile) == (
        changes["address"],
        changes["phone"],
        changes["contact_mobile"],
    )
    assert stored.version == 2
    assert await count(session_as, a, CompanyChangeRequest) == 0
    entry = (await audit_actions(session_as, a, company.id))[-1]
    assert entry.action == "company.update"
    assert entry.before == {"address": None, "phone": None, "contact_mobile": "13800138000"}
    assert entry.after == changes


async def test_ordinary_field_validation(make_agency, session_as):
    a = await make_agency()
    company = await make_company(session_as, a.system)
    for changes, problem in (
        ({"contact_mobile": "12345"}, (ErrorCode.INVALID_MOBILE, "contactMobile")),
        ({"industry_grade": 60}, (ErrorCode.INVALID_INDUSTRY_CLASS, "industryClass")),
        ({"region_code": "leshan"}, (ErrorCode.INVALID_VALUE, "regionCode")),  # not changeable here
        ({"unit_number": "A-1"}, (ErrorCode.INVALID_UNIT_NUMBER, "unitNumber")),
    ):
        # a good ordinary change next to a bad one is refused with it
        async with session_as(a.system) as s:
            with pytest.raises(ShebaoError) as err:
                await companies.update_company(s, company.id, {"address": "天津", **changes})
        assert problems_of(err.value) == {problem}
    stored = await reload(session_as, a, ClientCompany, company.id)
    assert stored.version == 1 and stored.address is None  # ... but refused with the bad one


async def test_no_changes(make_agency, session_as):
    a = await make_agency()
    company = await make_company(session_as, a.system)
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.update_company(s, company.id, {"legal_rep_name": "张三", "contact_mobile": "13800138000"})
    assert err.value.code == ErrorCode.NO_CHANGES


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "新名称有限公司"},
        {"credit_code": "CREDIT"},
        {"legal_rep_name": "赵六"},
        {"bank_account": "6222020200998877"},
    ],
)
async def test_sensitive_fields_wait_for_review(make_agency, session_as, changes):
    a = await make_agency()
    admin = await user_actor(session_as, a, a.admin_id)
    company = await make_company(session_as, admin)
    if changes.get("credit_code") == "CREDIT":
        changes = {"credit_code": credit_code()}
    (key,) = changes
    async with session_as(admin) as s:
        result = await companies.update_company(s, company.id, changes)
        await s.commit()
    assert result.applied == {}
    request = result.change_request
    assert request is not None and request.status == ChangeStatus.PENDING
    stored = await reload(session_as, a, ClientCompany, company.id)
    assert getattr(stored, key) == getattr(company, key) and stored.version == 1
    stored_request = await reload(session_as, a, CompanyChangeRequest, request.id)
    assert stored_request.changes == changes
    assert stored_request.previous == {key: getattr(company, key)}
    assert stored_request.requested_by == a.admin_id and stored_request.company_id == company.id
    entry = (await audit_actions(session_as, a, request.id))[-1]
    assert entry.action == "company.change_request"
    assert entry.before == {key: getattr(company, key)} and entry.after == changes


async def test_mixed_changes_split_into_applied_and_requested(make_agency, session_as):
    a = await make_agency()
    admin = await user_actor(session_as, a, a.admin_id)
    company = await make_company(session_as, admin)
    async with session_as(admin) as s:
        result = await companies.update_company(s, company.id, {"address": "新地址", "legal_rep_name": "赵六"})
        await s.commit()
    assert result.applied == {"address": "新地址"}
    assert result.change_request.changes == {"legal_rep_name": "赵六"}
    stored = await reload(session_as, a, ClientCompany, company.id)
    assert stored.address == "新地址" and stored.legal_rep_name == "张三"


async def test_a_second_sensitive_change_waits_for_the_first(make_agency, session_as):
    a = await make_agency()
    admin = await user_actor(session_as, a, a.admin_id)
    company = await make_company(session_as, admin)
    async with session_as(admin) as s:
        await companies.update_company(s, company.id, {"name": "第一次改名有限公司"})
        await s.commit()
    async with session_as(admin) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.update_company(s, company.id, {"bank_account": "6222020200998877", "address": "新地址"})
    assert problems_of(err.value) == {(ErrorCode.CHANGE_PENDING, "bankAccount")}
    # nothing of it was written: not the request, not the ordinary field that came with it
    assert await count(session_as, a, CompanyChangeRequest) == 1
    stored = await reload(session_as, a, ClientCompany, company.id)
    assert stored.address is None and stored.version == 1
    # ordinary changes alone still go through
    async with session_as(admin) as s:
        await companies.update_company(s, company.id, {"address": "新地址"})
        await s.commit()
    assert (await reload(session_as, a, ClientCompany, company.id)).address == "新地址"


async def test_a_system_actor_cannot_ask_for_a_sensitive_change(make_agency, session_as):
    """A change request names its requester; a CLI or job actor has no user to name."""
    a = await make_agency()
    company = await make_company(session_as, a.system)
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.update_company(s, company.id, {"name": "新名称有限公司"})
    assert problems_of(err.value) == {(ErrorCode.PERMISSION_DENIED, "name")}
    assert await count(session_as, a, CompanyChangeRequest) == 0


async def test_approve_by_a_reviewer_applies_the_change(make_agency, session_as):
    a = await make_agency()
    admin = await user_actor(session_as, a, a.admin_id)
    reviewer = await make_user(session_as, a, "reviewer", [READ, REVIEW], all_companies=True)
    company = await make_company(session_as, admin)
    new_code = credit_code()
    async with session_as(admin) as s:
        request = (
            await companies.update_company(s, company.id, {"name": "新名称有限公司", "credit_code": new_code})
        ).change_request
        await s.commit()
    async with session_as(reviewer) as s:
        decided = await companies.approve_change(s, request.id)
        await s.commit()
    assert decided.status == ChangeStatus.APPROVED
    stored = await reload(session_as, a, ClientCompany, company.id)
    assert (stored.name, stored.credit_code) == ("新名称有限公司", new_code)
    assert stored.version == 2
    stored_request = await reload(session_as, a, CompanyChangeRequest, request.id)
    assert stored_request.status == ChangeStatus.APPROVED
    assert stored_request.reviewed_by == reviewer.user_id and stored_request.reviewed_at is not None
    entry = (await audit_actions(session_as, a, company.id))[-1]
    assert entry.action == "company.change_approve" and entry.actor_user_id == reviewer.user_id
    assert entry.before["name"] == company.name and entry.after["name"] == "新名称有限公司"
    # approved twice: refused, and nothing changes
    async with session_as(reviewer) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.approve_change(s, request.id)
    assert err.value.code == ErrorCode.NOT_PENDING
    assert err.value.problems[0].params["status"] == "approved"
    assert (await reload(session_as, a, ClientCompany, company.id)).version == 2
    # and a new sensitive change may now be asked for
    async with session_as(admin) as s:
        again = await companies.update_company(s, company.id, {"legal_rep_name": "赵六"})
        await s.commit()
    assert again.change_request is not None


async def test_self_review_and_missing_permission_are_refused(make_agency, session_as):
    a = await make_agency()
    admin = await user_actor(session_as, a, a.admin_id)
    clerk = await make_user(session_as, a, "clerk", [READ, WRITE], all_companies=True)
    company = await make_company(session_as, admin)
    async with session_as(admin) as s:
        request = (await companies.update_company(s, company.id, {"legal_rep_name": "赵六"})).change_request
        await s.commit()
    async with session_as(admin) as s:  # admins hold companies:review, but not over their own request
        with pytest.raises(ShebaoError) as err:
            await companies.approve_change(s, request.id)
        assert err.value.code == ErrorCode.SELF_REVIEW
        with pytest.raises(ShebaoError) as err:
            await companies.reject_change(s, request.id, "自己驳回")
        assert err.value.code == ErrorCode.SELF_REVIEW
    async with session_as(clerk) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.approve_change(s, request.id)
        assert (err.value.code, err.value.problems[0].params["permission"]) == (ErrorCode.PERMISSION_DENIED, REVIEW)
    assert (await reload(session_as, a, CompanyChangeRequest, request.id)).status == ChangeStatus.PENDING
    assert (await reload(session_as, a, ClientCompany, company.id)).legal_rep_name == "张三"


async def test_reject_needs_a_reason(make_agency, session_as):
    a = await make_agency()
    admin = await user_actor(session_as, a, a.admin_id)
    reviewer = await make_user(session_as, a, "reviewer", [READ, REVIEW], all_companies=True)
    company = await make_company(session_as, admin)
    async with session_as(admin) as s:
        request = (await companies.update_company(s, company.id, {"legal_rep_name": "赵六"})).change_request
        await s.commit()
    for reason, code in (("", ErrorCode.REQUIRED), ("   ", ErrorCode.REQUIRED), ("理" * 501, ErrorCode.TOO_LONG)):
        async with session_as(reviewer) as s:
            with pytest.raises(ShebaoError) as err:
                await companies.reject_change(s, request.id, reason)
        assert (err.value.code, err.value.problems[0].field) == (code, "reason")
    assert (await reload(session_as, a, CompanyChangeRequest, request.id)).status == ChangeStatus.PENDING
    async with session_as(reviewer) as s:
        await companies.reject_change(s, request.id, " 法定代表人证明材料不全 ")
        await s.commit()
    stored = await reload(session_as, a, CompanyChangeRequest, request.id)
    assert stored.status == ChangeStatus.REJECTED and stored.reason == "法定代表人证明材料不全"
    assert stored.reviewed_by == reviewer.user_id
    assert (await reload(session_as, a, ClientCompany, company.id)).legal_rep_name == "张三"
    entry = (await audit_actions(session_as, a, request.id))[-1]
    assert entry.action == "company.change_reject"
    assert entry.before["status"] == "pending" and entry.after["status"] == "rejected"
    async with session_as(reviewer) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.approve_change(s, request.id)
    assert (err.value.code, err.value.problems[0].params["status"]) == (ErrorCode.NOT_PENDING, "rejected")


async def test_approval_rechecks_the_credit_code(make_agency, session_as):
    a = await make_agency()
    admin = await user_actor(session_as, a, a.admin_id)
    reviewer = await make_user(session_as, a, "reviewer", [READ, REVIEW], all_companies=True)
    company = await make_company(session_as, admin)
    code = credit_code()
    async with session_as(admin) as s:
        request = (await companies.update_company(s, company.id, {"credit_code": code})).change_request
        await s.commit()
    await make_company(session_as, admin, credit_code=code)  # someone took the code meanwhile
    async with session_as(reviewer) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.approve_change(s, request.id)
    assert problems_of(err.value) == {(ErrorCode.DUPLICATE, "creditCode")}
    assert (await reload(session_as, a, CompanyChangeRequest, request.id)).status == ChangeStatus.PENDING
    assert (await reload(session_as, a, ClientCompany, company.id)).credit_code == company.credit_code


async def test_expected_version_mismatch_is_a_conflict(make_agency, session_as):
    a = await make_agency()
    admin = await user_actor(session_as, a, a.admin_id)
    company = await make_company(session_as, admin)
    async with session_as(admin) as s:
        await companies.update_company(s, company.id, {"address": "第一次"}, expected_version=1)
        await s.commit()
    for changes in ({"address": "第二次"}, {"name": "改名有限公司"}):
        async with session_as(admin) as s:
            with pytest.raises(ShebaoError) as err:
                await companies.update_company(s, company.id, changes, expected_version=1)
        assert problems_of(err.value) == {(ErrorCode.CONFLICT, "version")}
    stored = await reload(session_as, a, ClientCompany, company.id)
    assert stored.address == "第一次" and stored.version == 2
    assert await count(session_as, a, CompanyChangeRequest) == 0


# -- company scope -------------------------------------------------------------------------------


async def test_a_scoped_operator_sees_only_their_companies(make_agency, session_as):
    a = await make_agency()
    x = await make_company(session_as, a.system)
    y = await make_company(session_as, a.system)
    clerk = await make_user(session_as, a, "clerk", [READ, WRITE], [x.id])
    async with session_as(clerk) as s:
        page = await companies.list_companies(s, PageRequest())
        assert [c.id for c in page.items] == [x.id] and page.total_count == 1
        assert (await companies.get_company(s, x.id)).id == x.id
        for call in (
            companies.get_company(s, y.id),
            companies.update_company(s, y.id, {"address": "越权"}),
        ):
            with pytest.raises(ShebaoError) as err:
                await call
            assert err.value.code == ErrorCode.NOT_FOUND
        assert await s.scalar(select(func.count()).select_from(ClientCompany)) == 1
    assert (await reload(session_as, a, ClientCompany, y.id)).address is None


async def test_a_scoped_operator_keeps_access_to_what_they_create(make_agency, session_as, sessionmaker):
    a = await make_agency()
    x = await make_company(session_as, a.system)
    password = generate_password()
    async with session_as(a.system) as s:
        data = users.UserInput("clerk", "经办", password, permissions=[READ, WRITE], company_ids=[x.id])
        await users.create_user(s, data)
        await s.commit()
    async with sessionmaker() as s:
        issued = await auth.login(s, Settings(), a.code, "clerk", password)
    async with sessionmaker() as s:
        actor = await auth.authenticate(s, issued.token)
        created = await companies.create_company(s, company_values())
        # at once, in the same session ...
        assert (await companies.get_company(s, created.id)).id == created.id
        await s.commit()
    assert await count(session_as, a, UserCompanyScope, UserCompanyScope.company_id == created.id) == 1
    async with sessionmaker() as s:  # ... and in every later one
        later = await auth.authenticate(s, issued.token)
        assert later.company_ids == {x.id, created.id}
        page = await companies.list_companies(s, PageRequest())
        assert {c.id for c in page.items} == {x.id, created.id}
    assert actor.company_ids == {x.id}


# -- persons -------------------------------------------------------------------------------------


async def test_register_person_derives_gender_and_birth_date(make_agency, session_as):
    a = await make_agency()
    man = await make_person(session_as, a.system, "张伟", birth="19851231", female=False)
    woman = await make_person(session_as, a.system, "李娜", birth="20000229", female=True)
    stored_man = await reload(session_as, a, Person, man.id)
    stored_woman = await reload(session_as, a, Person, woman.id)
    assert (stored_man.gender, stored_man.birth_date) == (Gender.MALE, date(1985, 12, 31))
    assert (stored_woman.gender, stored_woman.birth_date) == (Gender.FEMALE, date(2000, 2, 29))
    assert int(stored_man.id_number[16]) % 2 == 1 and int(stored_woman.id_number[16]) % 2 == 0
    entry = (await audit_actions(session_as, a, man.id))[-1]
    assert entry.action == "person.create" and entry.after["gender"] == "male"
    assert entry.after["birth_date"] == "1985-12-31"


def _bad_id_numbers():
    good = resident_id()
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    fullwidth = good[:5] + chr(ord(good[5]) + 0xFEE0) + good[6:]
    return [
        ("lowercase_x", resident_id_ending_in_x().lower()),
        ("fullwidth", fullwidth),
        ("length", good[:-1]),
        ("length", good + "1"),
        ("checksum", wrong_check),
    ]


@pytest.mark.parametrize(("reason", "number"), _bad_id_numbers())
async def test_invalid_id_numbers(make_agency, session_as, reason, number):
    a = await make_agency()
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as err:
            await people.register_person(s, number, "王五")
    assert problems_of(err.value) == {(ErrorCode.INVALID_ID_NUMBER, "idNumber")}
    assert err.value.problems[0].params["reason"] == reason
    assert await count(session_as, a, Person) == 0


async def test_an_uppercase_x_is_fine(make_agency, session_as):
    a = await make_agency()
    async with session_as(a.system) as s:
        person = await people.register_person(s, resident_id_ending_in_x(), "王五")
        await s.commit()
    assert (await reload(session_as, a, Person, person.id)).id_number.endswith("X")


async def test_duplicate_id_number(make_agency, session_as):
    a, b = await make_agency(), await make_agency()
    number = resident_id()
    async with session_as(a.system) as s:
        await people.register_person(s, number, "王五")
        await s.commit()
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as err:
            await people.register_person(s, number, "王五五")
    assert problems_of(err.value) == {(ErrorCode.DUPLICATE, "idNumber")}
    assert await count(session_as, a, Person, Person.id_number == number) == 1
    async with session_as(b.system) as s:  # another agency may hold the same person
        await people.register_person(s, number, "王五")
        await s.commit()
    assert await count(session_as, b, Person, Person.id_number == number) == 1


async def test_one_unit_at_a_time(make_agency, session_as):
    a = await make_agency()
    x = await make_company(session_as, a.system, name="甲有限公司")
    y = await make_company(session_as, a.system, name="乙有限公司")
    person = await make_person(session_as, a.system)
    first = await enroll(session_as, a.system, person, x, "2026-01")
    for start in ("2026-01", "2026-06", "2025-06"):
        async with session_as(a.system) as s:
            with pytest.raises(ShebaoError) as err:
                await people.enroll(
                    s,
                    person_id=person.id,
                    company_id=y.id,
                    start_month=Month.parse(start),
                    household_type=HouseholdType.LOCAL_URBAN,
                    employment_form=EmploymentForm.CONTRACT,
                    monthly_base="6000",
                )
        assert problems_of(err.value) == {(ErrorCode.ALREADY_ENROLLED, "personId")}
        params = err.value.problems[0].params
        assert params["company"] == "甲有限公司" and params["company_id"] == str(x.id)
        assert params["start"] == "2026-01"
        assert "甲有限公司" in err.value.problems[0].message("zh")
    assert await count(session_as, a, Enrollment, Enrollment.person_id == person.id) == 1
    # once the first enrollment ends (last month paid: 2026-03), the next may start after it
    async with session_as(a.system) as s:
        await s.execute(
            update(Enrollment)
            .where(Enrollment.id == first.id)
            .values(end_month=Month(2026, 3))
            .execution_options(synchronize_session=False)
        )
        await s.commit()
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as err:
            await people.enroll(
                s,
                person_id=person.id,
                company_id=y.id,
                start_month=Month(2026, 3),
                household_type=HouseholdType.LOCAL_URBAN,
                employment_form=EmploymentForm.CONTRACT,
                monthly_base="6000",
            )
        assert err.value.code == ErrorCode.ALREADY_ENROLLED
    second = await enroll(session_as, a.system, person, y, "2026-04")
    stored = await reload(session_as, a, Enrollment, second.id)
    assert stored.company_id == y.id and stored.region_code == y.region_code
    assert stored.start_month == Month(2026, 4) and stored.end_month is None


async def test_enroll_refusals_write_nothing(make_agency, session_as):
    a, b = await make_agency(), await make_agency()
    x = await make_company(session_as, a.system)
    person = await make_person(session_as, a.system)
    other_person = await make_person(session_as, b.system)
    cases = [
        (dict(monthly_base="-1"), ErrorCode.INVALID_AMOUNT, "monthlyBase"),
        (dict(company_id=uuid.uuid4()), ErrorCode.NOT_FOUND, "companyId"),
        (dict(person_id=other_person.id), ErrorCode.NOT_FOUND, "personId"),
    ]
    for overrides, code, field in cases:
        values = dict(
            person_id=person.id,
            company_id=x.id,
            start_month=Month(2026, 1),
            household_type=HouseholdType.LOCAL_URBAN,
            employment_form=EmploymentForm.CONTRACT,
            monthly_base="5000",
        )
        values.update(overrides)
        async with session_as(a.system) as s:
            with pytest.raises(ShebaoError) as err:
                await people.enroll(s, **values)
        assert problems_of(err.value) == {(code, field)}
    assert await count(session_as, a, Enrollment) == 0


async def test_money_round_trips_exactly(make_agency, session_as, backend):
    a = await make_agency()
    x = await make_company(session_as, a.system)
    person = await make_person(session_as, a.system)
    row = await enroll(session_as, a.system, person, x, monthly_base=Decimal("1234.56"))
    stored = await reload(session_as, a, Enrollment, row.id)
    assert stored.monthly_base == Decimal("1234.56")
    assert str(stored.monthly_base) == "1234.56"
    assert isinstance(stored.monthly_base, Decimal)
    async with session_as(a.system) as s:
        stmt = text("SELECT monthly_base FROM enrollments WHERE id = :id").bindparams(bindparam("id", type_=Uuid()))
        raw = await s.scalar(stmt, {"id": row.id})
    # exact on both: text on SQLite (whose NUMERIC is a float), NUMERIC on PostgreSQL
    assert raw == ("1234.56" if backend == "sqlite" else Decimal("1234.56"))


@pytest.mark.parametrize(
    "value", ["-1", "-0.01", "0", "0.00", "1.234", "abc", "NaN", "sNaN", "Infinity", "", "1e10", "1e30", 1e30, "9" * 40]
)
def test_parse_base_refuses(value):
    with pytest.raises(ShebaoError) as err:
        people.parse_base(value)
    assert (err.value.code, err.value.problems[0].field) == (ErrorCode.INVALID_AMOUNT, "monthlyBase")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5000", Decimal("5000")), ("5000.5", Decimal("5000.50")), (Decimal("1234.56"), Decimal("1234.56")), (3000, 3000)],
)
def test_parse_base_accepts(value, expected):
    assert people.parse_base(value) == expected


# -- queries -------------------------------------------------------------------------------------


async def _people_fixture(session_as, a):
    x = await make_company(session_as, a.system, region_code="tianjin")
    y = await make_company(session_as, a.system, region_code="leshan")
    p1 = await make_person(session_as, a.system, "王小明")
    p2 = await make_person(session_as, a.system, "李小红")
    p3 = await make_person(session_as, a.system, "王大力")
    e1 = await enroll(session_as, a.system, p1, x, "2026-01")
    async with session_as(a.system) as s:
        await s.execute(
            update(Enrollment)
            .where(Enrollment.id == e1.id)
            .values(end_month=Month(2026, 3))
            .execution_options(synchronize_session=False)
        )
        await s.commit()
    e2 = await enroll(
        session_as,
        a.system,
        p2,
        y,
        "2026-02",
        household_type=HouseholdType.NONLOCAL_RURAL,
        employment_form=EmploymentForm.DISPATCHED,
    )
    return x, y, (p1, p2, p3), (e1, e2)


async def test_list_persons_filters(make_agency, session_as):
    a = await make_agency()
    x, y, (p1, p2, p3), _ = await _people_fixture(session_as, a)

    async def ids(**kwargs):
        async with session_as(a.system) as s:
            page = await people.list_persons(s, PageRequest(), people.PersonFilter(**kwargs))
        assert page.total_count == len(page.items)
        return [p.id for p in page.items]

    assert await ids() == [p1.id, p2.id, p3.id]
    assert await ids(name_contains="王") == [p1.id, p3.id]
    assert await ids(name_contains=" 小 ") == [p1.id, p2.id]
    assert await ids(name_contains="%") == []  # a wildcard is a character, not a pattern
    assert await ids(id_number=p2.id_number) == [p2.id]
    assert await ids(company_id=x.id) == [p1.id]
    assert await ids(company_id=y.id) == [p2.id]
    assert await ids(region_code="leshan") == [p2.id]
    assert await ids(insured_in=Month(2025, 12)) == []
    assert await ids(insured_in=Month(2026, 1)) == [p1.id]
    assert await ids(insured_in=Month(2026, 2)) == [p1.id, p2.id]
    assert await ids(insured_in=Month(2026, 3)) == [p1.id, p2.id]
    assert await ids(insured_in=Month(2026, 4)) == [p2.id]
    assert await ids(company_id=x.id, insured_in=Month(2026, 4)) == []
    assert await ids(name_contains="王", insured_in=Month(2026, 2)) == [p1.id]


async def test_list_enrollments_filters(make_agency, session_as):
    a = await make_agency()
    x, _, (_, p2, _), (e1, e2) = await _people_fixture(session_as, a)

    async def ids(**kwargs):
        async with session_as(a.system) as s:
            page = await people.list_enrollments(s, PageRequest(), people.EnrollmentFilter(**kwargs))
        return [e.id for e in page.items]

    assert await ids() == [e1.id, e2.id]
    assert await ids(company_id=x.id) == [e1.id]
    assert await ids(person_id=p2.id) == [e2.id]
    assert await ids(region_code="tianjin") == [e1.id]
    assert await ids(active_in=Month(2026, 1)) == [e1.id]
    assert await ids(active_in=Month(2026, 3)) == [e1.id, e2.id]
    assert await ids(active_in=Month(2026, 4)) == [e2.id]
    assert await ids(household_type=HouseholdType.NONLOCAL_RURAL) == [e2.id]
    assert await ids(employment_form=EmploymentForm.CONTRACT) == [e1.id]
    assert await ids(employment_form=EmploymentForm.PART_TIME) == []


async def test_a_scoped_operator_sees_only_people_of_their_companies(make_agency, session_as):
    a = await make_agency()
    x, _, (p1, p2, p3), (e1, _) = await _people_fixture(session_as, a)
    clerk = await make_user(session_as, a, "clerk", [READ, P_READ, P_WRITE], [x.id])
    async with session_as(clerk) as s:
        persons = await people.list_persons(s, PageRequest())
        assert [p.id for p in persons.items] == [p1.id] and persons.total_count == 1
        enrollments = await people.list_enrollments(s, PageRequest())
        assert [e.id for e in enrollments.items] == [e1.id]
        with pytest.raises(ShebaoError) as err:
            await people.get_person(s, p2.id)
        assert err.value.code == ErrorCode.NOT_FOUND
        # registering someone already known to the agency is a duplicate, even out of scope
        with pytest.raises(ShebaoError) as err:
            await people.register_person(s, p3.id_number, "王大力")
        assert err.value.code == ErrorCode.DUPLICATE
    assert await count(session_as, a, Person) == 3


# -- pagination ----------------------------------------------------------------------------------


async def test_pagination_walks_every_company_in_order(make_agency, session_as):
    a = await make_agency()
    created = [await make_company(session_as, a.system) for _ in range(5)]
    seen, after, pages = [], None, []
    async with session_as(a.system) as s:
        while True:
            page = await companies.list_companies(s, PageRequest(first=2, after=after))
            pages.append((len(page.items), page.has_next_page, page.total_count))
            seen += [c.id for c in page.items]
            if not page.has_next_page:
                break
            after = page.end_cursor
    assert seen == [c.id for c in created]
    assert pages == [(2, True, 5), (2, True, 5), (1, False, 5)]
    async with session_as(a.system) as s:  # past the end: empty, no cursor
        page = await companies.list_companies(s, PageRequest(first=2, after=encode_cursor(created[-1].id)))
        assert (page.items, page.has_next_page, page.end_cursor, page.total_count) == ([], False, None, 5)
        page = await companies.list_companies(s, PageRequest(first=5))
        assert len(page.items) == 5 and not page.has_next_page


@pytest.mark.parametrize("cursor", ["abc", "!!!", "djE6", "eDE6AAAAAAAAAAAAAAAAAAAAAA", "é", "   "])
async def test_bad_cursor(make_agency, session_as, cursor):
    a = await make_agency()
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as err:
            await companies.list_companies(s, PageRequest(first=2, after=cursor))
    assert (err.value.code, err.value.problems[0].field) == (ErrorCode.INVALID_CURSOR, "after")


@pytest.mark.parametrize("first", [0, -1, 101])
def test_page_size_is_capped(first):
    with pytest.raises(ShebaoError) as err:
        PageRequest(first=first)
    assert (err.value.code, err.value.problems[0].field) == (ErrorCode.INVALID_VALUE, "first")


def test_page_size_bounds_are_accepted():
    assert PageRequest(first=1).first == 1
    assert PageRequest(first=100).first == 100


def test_hmt_residence_permits_are_resident_ids_and_other_unknown_areas_are_not():
    # 港澳台居民居住证 (since 2018-09): GB 11643 numbers with the areas 810000/820000/830000.
    from shebao.platform.core.identity import check_resident_id

    for area in ("810000", "820000", "830000"):
        number = resident_id(area=area, birth="19920304")
        assert check_resident_id(number).birth_date == date(1992, 3, 4)
    with pytest.raises(ShebaoError) as err:
        check_resident_id(resident_id(area="990000"))
    assert err.value.problems[0].params["reason"] == "birth_place"
