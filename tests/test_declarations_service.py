"""Declarations through the service: checks by the region's rules, the lifecycle, what approval applies,
idempotency, bulk actions and racing reviewers. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from shebao.platform.audit.models import AuditEntry
from shebao.platform.companies import service as companies
from shebao.platform.core.month import Month
from shebao.platform.declarations import service as declarations
from shebao.platform.declarations.models import Declaration, DeclarationStatus, EnrollmentBase
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.people.models import Enrollment
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.tenancy.context import Actor
from tests.factories import company_values, resident_id

pytestmark = pytest.mark.anyio
ADD, STOP, BASE, BACK = (
    DeclarationKind.ADD,
    DeclarationKind.STOP,
    DeclarationKind.BASE_CHANGE,
    DeclarationKind.BACK_PAYMENT,
)


def add_values(id_number: str, **extra) -> dict:
    return {
        "id_number": id_number,
        "name": "张三",
        "household_type": "local_urban",
        "employment_form": "contract",
        "start_month": "2026-11",
        "monthly_base": "8000.00",
        **extra,
    }


async def _company(s, region: str = "tianjin"):
    row = await companies.create_company(s, company_values(region))
    await s.flush()
    return row


async def _enrolled(s, company, id_number: str, start: str = "2026-06"):
    """An approved add: the person is insured at ``company`` from ``start``."""
    row = await declarations.create_declaration(s, company.id, ADD, add_values(id_number, start_month=start))
    [outcome] = await declarations.submit(s, [row.id])
    assert outcome.error is None, outcome.error
    if outcome.declaration.status is DeclarationStatus.SUBMITTED:
        [outcome] = await declarations.approve(s, [row.id])
        assert outcome.error is None, outcome.error
    return outcome.declaration


async def test_an_add_goes_from_draft_to_approved_and_creates_the_enrollment(make_agency, session_as):
    a = await make_agency("decl-add")
    async with session_as(a.system) as s:
        company = await _company(s)
        person = resident_id()
        row = await declarations.create_declaration(
            s, company.id, ADD, add_values(person, household_type="nonlocal_rural")
        )
        assert row.status is DeclarationStatus.DRAFT and row.month == Month(2026, 11)
        assert len(row.notices) == 2  # 用工登记, and the sub-center pre-registration for 外省户籍
        [submitted] = await declarations.submit(s, [row.id])
        assert submitted.declaration.status is DeclarationStatus.SUBMITTED  # Tianjin reviews adds
        [approved] = await declarations.approve(s, [row.id])
        assert approved.declaration.status is DeclarationStatus.APPROVED
        await s.commit()
        enrollment = await s.get(Enrollment, (a.id, row.enrollment_id))
        assert (enrollment.start_month, enrollment.monthly_base) == (Month(2026, 11), Decimal("8000.00"))
        bases = (await s.scalars(select(EnrollmentBase).where(EnrollmentBase.enrollment_id == enrollment.id))).all()
        assert [(b.since, b.base, b.declaration_id) for b in bases] == [(Month(2026, 11), Decimal("8000.00"), row.id)]
        actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == row.id))).all()
        assert sorted(actions) == ["declaration.approve", "declaration.create", "declaration.submit"]
        # Approved is final: no edit, no delete, no second approval.
        for attempt in (
            declarations.update_draft(s, row.id, {"monthly_base": "9000"}),
            declarations.delete_draft(s, row.id),
        ):
            with pytest.raises(ShebaoError) as caught:
                await attempt
            assert caught.value.code == ErrorCode.NOT_DRAFT
        [again] = await declarations.approve(s, [row.id])
        assert again.error.code == ErrorCode.NOT_SUBMITTED


async def test_each_failed_check_names_the_field_and_the_figure(make_agency, session_as):
    a = await make_agency("decl-chk")
    async with session_as(a.system) as s:
        company = await _company(s)
        with pytest.raises(ShebaoError) as caught:
            await declarations.create_declaration(
                s,
                company.id,
                ADD,
                add_values(resident_id(), monthly_base="3000", household_type="martian", colour="blue"),
            )
        problems = {(p.code, p.field) for p in caught.value.problems}
        assert problems == {(ErrorCode.INVALID_VALUE, "colour")}  # an unknown field stops the rest
        with pytest.raises(ShebaoError) as caught:
            await declarations.create_declaration(
                s, company.id, ADD, add_values(resident_id(), monthly_base="3000", household_type="martian")
            )
        by_code = {p.code: p for p in caught.value.problems}
        assert set(by_code) == {ErrorCode.BASE_BELOW_FLOOR, ErrorCode.INVALID_CODE}
        floor = by_code[ErrorCode.BASE_BELOW_FLOOR]
        assert floor.field == "monthlyBase" and floor.params["floor"] == "5013" and "2024-07" in floor.params["source"]
        assert "5013" in floor.message("en") and "天津" in floor.message("zh")
        assert by_code[ErrorCode.INVALID_CODE].field == "householdType"
        assert (await s.scalars(select(Declaration))).all() == []


async def test_a_person_insured_at_another_client_cannot_be_added(make_agency, session_as):
    a = await make_agency("decl-else")
    async with session_as(a.system) as s:
        first, second = await _company(s), await _company(s, "leshan")
        person = resident_id()
        await _enrolled(s, first, person)
        with pytest.raises(ShebaoError) as caught:
            await declarations.create_declaration(s, second.id, ADD, add_values(person, start_month="2026-11"))
        problem = caught.value.problems[0]
        assert problem.code == ErrorCode.INSURED_ELSEWHERE and problem.params["company"] == first.name


async def test_stop_and_base_change_apply_to_the_enrollment_for_the_right_months(make_agency, session_as):
    a = await make_agency("decl-stop")
    async with session_as(a.system) as s:
        company = await _company(s)
        person = resident_id()
        with pytest.raises(ShebaoError) as caught:
            await declarations.create_declaration(
                s, company.id, STOP, {"id_number": person, "stop_month": "2026-11", "stop_reason": "stop_payment"}
            )
        assert caught.value.code == ErrorCode.NOT_ENROLLED
        add = await _enrolled(s, company, person, start="2026-06")
        change = await declarations.create_declaration(
            s, company.id, BASE, {"id_number": person, "change_month": "2026-09", "monthly_base": "9500"}
        )
        await declarations.submit(s, [change.id])
        await declarations.approve(s, [change.id])
        stop = await declarations.create_declaration(
            s, company.id, STOP, {"id_number": person, "stop_month": "2026-11", "stop_reason": "stop_payment"}
        )
        await declarations.submit(s, [stop.id])
        [done] = await declarations.approve(s, [stop.id])
        assert done.error is None
        await s.commit()
        enrollment = await s.get(Enrollment, (a.id, add.enrollment_id))
        assert enrollment.end_month == Month(2026, 10)  # 减员年月 2026-11: October is the last month paid
        assert enrollment.monthly_base == Decimal("9500.00")
        bases = (
            await s.scalars(
                select(EnrollmentBase)
                .where(EnrollmentBase.enrollment_id == enrollment.id)
                .order_by(EnrollmentBase.since)
            )
        ).all()
        assert [(b.since, b.base) for b in bases] == [
            (Month(2026, 6), Decimal("8000.00")),
            (Month(2026, 9), Decimal("9500.00")),
        ]


async def test_a_rejected_declaration_is_final_and_needs_a_reason(make_agency, session_as):
    a = await make_agency("decl-rej")
    async with session_as(a.system) as s:
        company = await _company(s)
        row = await declarations.create_declaration(s, company.id, ADD, add_values(resident_id()))
        await declarations.submit(s, [row.id])
        with pytest.raises(ShebaoError) as caught:
            await declarations.reject(s, [row.id], "  ")
        assert caught.value.code == ErrorCode.REQUIRED
        [rejected] = await declarations.reject(s, [row.id], "工资与合同不符")
        assert rejected.declaration.status is DeclarationStatus.REJECTED
        assert rejected.declaration.reject_reason == "工资与合同不符"
        with pytest.raises(ShebaoError) as caught:
            await declarations.update_draft(s, row.id, {"monthly_base": "9000"})
        assert caught.value.code == ErrorCode.NOT_DRAFT
        # Declared again as a new one: allowed, since the rejected one is no longer pending.
        again = await declarations.create_declaration(s, company.id, ADD, add_values(row.id_number))
        assert again.id != row.id


async def test_the_same_idempotency_key_never_declares_twice(make_agency, session_as):
    a = await make_agency("decl-idem")
    async with session_as(a.system) as s:
        company = await _company(s)
        values = add_values(resident_id())
        first = await declarations.create_declaration(s, company.id, ADD, values, idempotency_key="erp-42")
        await s.commit()
        second = await declarations.create_declaration(s, company.id, ADD, dict(values), idempotency_key="erp-42")
        assert second.id == first.id
        with pytest.raises(ShebaoError) as caught:
            await declarations.create_declaration(
                s, company.id, ADD, {**values, "monthly_base": "9000"}, idempotency_key="erp-42"
            )
        assert caught.value.code == ErrorCode.IDEMPOTENCY_MISMATCH
        with pytest.raises(ShebaoError) as caught:  # and without a key, a pending duplicate is refused
            await declarations.create_declaration(s, company.id, ADD, dict(values))
        assert caught.value.code == ErrorCode.DUPLICATE
        assert len((await s.scalars(select(Declaration))).all()) == 1


async def test_kinds_the_region_exempts_are_approved_on_submission(make_agency, session_as):
    a = await make_agency("decl-exempt")
    async with session_as(a.system) as s:
        company = await _company(s, "leshan")  # Leshan reviews back payments and sensitive corrections only
        row = await declarations.create_declaration(s, company.id, ADD, add_values(resident_id()))
        [outcome] = await declarations.submit(s, [row.id])
        assert outcome.declaration.status is DeclarationStatus.APPROVED and outcome.declaration.reviewed_by is None
        assert outcome.declaration.enrollment_id is not None


async def test_bulk_submit_reports_each_declaration(make_agency, session_as):
    a = await make_agency("decl-bulk")
    async with session_as(a.system) as s:
        one, two = await _company(s), await _company(s)
        good = await declarations.create_declaration(s, one.id, ADD, add_values(resident_id()))
        person = resident_id()
        late = await declarations.create_declaration(s, two.id, ADD, add_values(person))
        await _enrolled(s, one, person)  # meanwhile the person was enrolled at the other client
        await s.commit()
        outcomes = await declarations.submit_pending(s, [one.id, two.id])
        by_id = {o.id: o for o in outcomes}
        assert by_id[good.id].declaration.status is DeclarationStatus.SUBMITTED
        assert by_id[late.id].error.code == ErrorCode.INSURED_ELSEWHERE
        await s.commit()
        await s.refresh(late)
        assert late.status is DeclarationStatus.DRAFT


async def test_two_reviewers_approving_at_once_apply_it_once(make_agency, session_as):
    a = await make_agency("decl-race")
    async with session_as(a.system) as s:
        company = await _company(s)
        row = await declarations.create_declaration(s, company.id, ADD, add_values(resident_id()))
        await declarations.submit(s, [row.id])
        await s.commit()

    async def approve_once():
        async with session_as(a.system) as s:
            try:
                [outcome] = await declarations.approve(s, [row.id])
                await s.commit()
                return "ok" if outcome.error is None else outcome.error.code
            except StaleDataError:
                await s.rollback()
                return "conflict"
            except Exception as exc:  # PostgreSQL may refuse the loser at the row lock or the unique index
                await s.rollback()
                return type(exc).__name__

    outcomes = await asyncio.gather(approve_once(), approve_once())
    assert outcomes.count("ok") == 1, outcomes
    async with session_as(a.system) as s:
        assert len((await s.scalars(select(Enrollment).where(Enrollment.company_id == company.id))).all()) == 1


async def test_guiyang_rolls_back_an_unpaid_back_payment_and_tianjin_cannot(make_agency, session_as):
    a = await make_agency("decl-roll")
    async with session_as(a.system) as s:
        company = await _company(s, "guiyang")
        person = resident_id()
        await _enrolled(s, company, person, start="2026-06")
        back = await declarations.create_declaration(
            s,
            company.id,
            BACK,
            {"id_number": person, "from_month": "2026-03", "to_month": "2026-05", "monthly_base": "5000"},
        )
        await _submit_and_approve(s, back)
        rollback = await declarations.create_declaration(
            s, company.id, DeclarationKind.ROLLBACK, {"target_id": str(back.id)}
        )
        await _submit_and_approve(s, rollback)
        await s.refresh(back)
        assert back.status is DeclarationStatus.ROLLED_BACK

        tianjin = await _company(s, "tianjin")
        await _enrolled(s, tianjin, resident_id())
        other = await declarations.create_declaration(s, tianjin.id, ADD, add_values(resident_id()))
        with pytest.raises(ShebaoError) as caught:
            await declarations.create_declaration(s, tianjin.id, DeclarationKind.ROLLBACK, {"target_id": str(other.id)})
        assert ErrorCode.ROLLBACK_NOT_ALLOWED in {p.code for p in caught.value.problems}


async def _submit_and_approve(s, row):
    [outcome] = await declarations.submit(s, [row.id])
    assert outcome.error is None, outcome.error
    if outcome.declaration.status is DeclarationStatus.SUBMITTED:
        [outcome] = await declarations.approve(s, [row.id])
        assert outcome.error is None, outcome.error


async def test_reviewing_needs_the_reviewer_permission_and_scope_hides_other_companies(make_agency, session_as):
    a = await make_agency("decl-perm")
    async with session_as(a.system) as s:
        mine, theirs = await _company(s), await _company(s)
        row = await declarations.create_declaration(s, theirs.id, ADD, add_values(resident_id()))
        await declarations.submit(s, [row.id])
        await s.commit()
    clerk = Actor(
        agency_id=a.id,
        user_id=a.admin_id,
        permissions=frozenset({"declarations:write", "companies:read"}),
        company_ids=frozenset({mine.id}),
    )
    async with session_as(clerk) as s:
        with pytest.raises(ShebaoError) as caught:
            await declarations.approve(s, [row.id])
        assert caught.value.code == ErrorCode.PERMISSION_DENIED
        with pytest.raises(ShebaoError) as caught:
            await declarations.get_declaration(s, row.id)
        assert caught.value.code == ErrorCode.NOT_FOUND
        page = await declarations.list_declarations(s, declarations.PageRequest(first=10))
        assert page.total_count == 0
