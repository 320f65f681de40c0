"""Settlement through the service: the region's preconditions, the bill to the cent, frozen months,
back payments across a rate change with the late fee, arrears blocking a stop, rollback while unpaid,
and ten settlements at once yielding one. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import select

from shebao.platform.companies import service as companies
from shebao.platform.core.month import Month
from shebao.platform.declarations import service as declarations
from shebao.platform.declarations.models import DeclarationStatus
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.settlement import basis
from shebao.platform.settlement import service as settlements
from shebao.platform.settlement.models import Settlement, SettlementLine, SettlementStatus
from tests.factories import company_values, resident_id

pytestmark = pytest.mark.anyio
NOV = Month(2026, 11)


async def _declare(s, company, kind, values):
    row = await declarations.create_declaration(s, company.id, kind, values)
    [outcome] = await declarations.submit(s, [row.id])
    assert outcome.error is None, outcome.error
    if outcome.declaration.status is DeclarationStatus.SUBMITTED:
        [outcome] = await declarations.approve(s, [row.id])
        assert outcome.error is None, outcome.error
    return outcome.declaration


def _add(person: str, base: str, start: str = "2026-06", form: str = "contract") -> dict:
    return {
        "id_number": person,
        "name": "赵六",
        "household_type": "local_urban",
        "employment_form": form,
        "start_month": start,
        "monthly_base": base,
    }


async def _tianjin_company(s, **extra):
    # Class 1 at 100%: work injury 0.2%.
    return await companies.create_company(s, company_values("tianjin", industry_class=1, industry_grade=100, **extra))


async def test_tianjin_no_change_and_with_change_settle(make_agency, session_as):
    a = await make_agency("set-tj")
    async with session_as(a.system) as s:
        company = await _tianjin_company(s)
        low, rural = resident_id(), resident_id()
        await _declare(s, company, DeclarationKind.ADD, _add(low, "5013.00"))
        await _declare(s, company, DeclarationKind.ADD, {**_add(rural, "30000.00"), "employment_form": "rural_worker"})
        await s.commit()

        # October: nothing declared for the month, so 无变动结算 is allowed and bills the roster.
        [october] = await settlements.settle(s, company.id, Month(2026, 10), "no_change")
        await s.commit()
        # 5013 (at the floor) and 30000 (clamped to 25065, no personal unemployment):
        # pension 802.08+4010.40 / 401.04+2005.20; medical 451.17+2255.85 / 100.26+501.30;
        # unemployment 25.07+125.33 / 25.07+0; work injury 10.03+50.13; large-medical 50.13+250.65
        assert october.employer_total == Decimal("8030.84")  # 1,338.48 + 6,692.36
        assert october.employee_total == Decimal("3032.87")
        lines = (await s.scalars(select(SettlementLine).where(SettlementLine.settlement_id == october.id))).all()
        assert len(lines) == 10  # 5 kinds x 2 people; the rural worker's exempt side is 0 in its line
        clamped = next(x for x in lines if x.kind == "pension" and x.base_declared == Decimal("30000.00"))
        assert (clamped.base_used, clamped.clamp, clamped.employer_rate) == (Decimal("25065.00"), "ceiling", "16")
        explained = basis.explain(clamped, october.basis)
        assert "base: declared 30000.00, above the ceiling → 25065.00" in explained
        assert any(t.startswith("  ceiling 25065 from ") for t in explained), explained
        assert any(t.startswith("employer: 16% from ") and t.endswith("→ 4010.40") for t in explained), explained

        with pytest.raises(ShebaoError) as caught:
            await settlements.settle(s, company.id, Month(2026, 10), "with_change")
        assert caught.value.code == ErrorCode.ALREADY_SETTLED

        # November: a base change is declared but not approved yet.
        change = await declarations.create_declaration(
            s,
            company.id,
            DeclarationKind.BASE_CHANGE,
            {"id_number": low, "change_month": "2026-11", "monthly_base": "6000"},
        )
        await declarations.submit(s, [change.id])
        await s.commit()
        for mode, needle in (("no_change", "有 1 笔申报"), ("with_change", "未审核通过")):
            with pytest.raises(ShebaoError) as caught:
                await settlements.settle(s, company.id, NOV, mode)
            problem = caught.value.problems[0]
            assert problem.code == ErrorCode.SETTLE_NOT_ALLOWED and needle in problem.message("zh")
            assert problem.params["declaration_ids"] == [str(change.id)]
        await declarations.approve(s, [change.id])
        preview = await settlements.preview(s, company.id, NOV)
        [november] = await settlements.settle(s, company.id, NOV, "with_change")
        await s.commit()
        assert november.employer_total == preview.employer_total
        # Only A's base changed (5,013 → 6,000): +157.92 pension, +88.83 medical, +4.93 unemployment,
        # +1.97 work injury, +9.87 large-medical, each side rounded on its own.
        assert november.employer_total - october.employer_total == Decimal("263.52")

        # The month is frozen: a change effective in November is refused.
        with pytest.raises(ShebaoError) as caught:
            await declarations.create_declaration(
                s,
                company.id,
                DeclarationKind.BASE_CHANGE,
                {"id_number": low, "change_month": "2026-11", "monthly_base": "7000"},
            )
        assert caught.value.code == ErrorCode.MONTH_SETTLED


async def test_ten_settlements_at_once_yield_one(make_agency, session_as):
    a = await make_agency("set-race")
    async with session_as(a.system) as s:
        company = await _tianjin_company(s)
        await _declare(s, company, DeclarationKind.ADD, _add(resident_id(), "8000"))
        await s.commit()

    async def attempt():
        async with session_as(a.system) as s:
            try:
                await settlements.settle(s, company.id, Month(2026, 10), "no_change")
                await s.commit()
                return "ok"
            except ShebaoError as err:
                return err.code
            except Exception as exc:  # the unique index (or a lock) refuses the late ones
                await s.rollback()
                return type(exc).__name__

    outcomes = await asyncio.gather(*(attempt() for _ in range(10)))
    assert outcomes.count("ok") == 1, outcomes
    async with session_as(a.system) as s:
        assert len((await s.scalars(select(Settlement))).all()) == 1


async def test_arrears_block_a_tianjin_stop_until_paid(make_agency, session_as):
    a = await make_agency("set-arrears")
    async with session_as(a.system) as s:
        company = await _tianjin_company(s)
        person = resident_id()
        await _declare(s, company, DeclarationKind.ADD, _add(person, "8000"))
        [october] = await settlements.settle(s, company.id, Month(2026, 10), "no_change")
        await s.commit()
        stop = {"id_number": person, "stop_month": "2026-12", "stop_reason": "stop_payment"}
        with pytest.raises(ShebaoError) as caught:
            await declarations.create_declaration(s, company.id, DeclarationKind.STOP, stop)
        problem = caught.value.problems[0]
        assert problem.code == ErrorCode.ARREARS_BLOCK_STOP
        # October of 8,000: employer 16 + 9 + 0.5 + 0.2 + 1 = 26.7%, employee 8 + 2 + 0.5 = 10.5%: 37.2%
        assert Decimal(problem.params["amount"]) == Decimal("2976.00")
        await settlements.mark_paid(s, october.id)
        row = await declarations.create_declaration(s, company.id, DeclarationKind.STOP, stop)
        assert row.status is DeclarationStatus.DRAFT


async def test_a_back_payment_across_a_rate_change_uses_each_months_figures_and_a_late_fee(make_agency, session_as):
    a = await make_agency("set-back")
    async with session_as(a.system) as s:
        company = await _tianjin_company(s)
        person = resident_id()
        await _declare(s, company, DeclarationKind.ADD, _add(person, "8000", start="2026-10"))
        back = await _declare(
            s,
            company,
            DeclarationKind.BACK_PAYMENT,
            {"id_number": person, "from_month": "2024-06", "to_month": "2024-07", "monthly_base": "22000"},
        )
        bill = await settlements.preview(s, company.id, NOV)
        backs = [b for b in bill.lines if b.declaration_id == back.id]
        june = {b.line.kind.value: b for b in backs if b.month == Month(2024, 6)}
        july = {b.line.kind.value: b for b in backs if b.month == Month(2024, 7)}
        # June 2024: the ceiling is 20,331, so 22,000 is clamped; July 2024: the ceiling is 25,065.
        assert (june["pension"].line.base_used, june["pension"].line.clamp) == (Decimal("20331.00"), "ceiling")
        assert june["pension"].line.employer.amount == Decimal("3252.96")
        assert (july["pension"].line.base_used, july["pension"].line.clamp) == (Decimal("22000.00"), None)
        assert july["pension"].line.employer.amount == Decimal("3520.00")
        today = date(2026, 11, 20)
        bill = await settlements.preview(s, company.id, NOV, on=today)
        backs = [b for b in bill.lines if b.declaration_id == back.id]
        june = {b.line.kind.value: b for b in backs if b.month == Month(2024, 6)}
        july = {b.line.kind.value: b for b in backs if b.month == Month(2024, 7)}
        assert june["pension"].late_days == 878  # 2024-06-25 to 2026-11-20
        for b in (june["pension"], july["pension"]):
            due = b.month
            days = (today - date(due.year, due.month, 25)).days
            expected = (b.line.total * Decimal("0.0005") * days).quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert (b.late_days, b.late_fee) == (days, expected)
        [settled] = await settlements.settle(s, company.id, NOV, "with_change", on=today)
        await s.commit()
        assert settled.late_fee_total == bill.late_fee_total > 0
        # Billed once: December's bill does not bill it again.
        december = await settlements.preview(s, company.id, Month(2026, 12))
        assert not [b for b in december.lines if b.declaration_id == back.id]


async def test_guiyang_rolls_back_an_unpaid_assessment_and_tianjin_cannot(make_agency, session_as):
    a = await make_agency("set-roll")
    async with session_as(a.system) as s:
        guiyang = await companies.create_company(s, company_values("guiyang"))
        await _declare(s, guiyang, DeclarationKind.ADD, _add(resident_id(), "6000"))
        [assessed] = await settlements.settle(s, guiyang.id, Month(2026, 10))  # the region's only mode
        assert assessed.mode == "assessment"
        rolled = await settlements.rollback(s, assessed.id)
        assert rolled.status is SettlementStatus.ROLLED_BACK
        [again] = await settlements.settle(s, guiyang.id, Month(2026, 10))
        await settlements.mark_paid(s, again.id)
        with pytest.raises(ShebaoError) as caught:
            await settlements.rollback(s, again.id)
        assert caught.value.code == ErrorCode.ALREADY_PAID

        tianjin = await _tianjin_company(s)
        await _declare(s, tianjin, DeclarationKind.ADD, _add(resident_id(), "6000"))
        [settled] = await settlements.settle(s, tianjin.id, Month(2026, 10), "no_change")
        with pytest.raises(ShebaoError) as caught:
            await settlements.rollback(s, settled.id)
        assert caught.value.code == ErrorCode.ROLLBACK_NOT_ALLOWED
        with pytest.raises(ShebaoError) as caught:
            await settlements.settle(s, tianjin.id, NOV, "assessment")
        assert caught.value.code == ErrorCode.UNKNOWN_MODE


async def test_leshan_settles_one_collection_plan_per_insurance_kind(make_agency, session_as):
    a = await make_agency("set-ls")
    async with session_as(a.system) as s:
        company = await companies.create_company(s, company_values("leshan"))
        await _declare(s, company, DeclarationKind.ADD, _add(resident_id(), "6000"))
        empty = await companies.create_company(s, company_values("leshan"))
        await s.commit()
        with pytest.raises(ShebaoError) as caught:
            await settlements.settle(s, empty.id, Month(2026, 10))
        assert caught.value.code == ErrorCode.NOTHING_TO_SETTLE

        [pension] = await settlements.settle(s, company.id, Month(2026, 10), kind="pension")
        assert (pension.kind_scope, pension.mode) == ("pension", "collection_plan")
        with pytest.raises(ShebaoError) as caught:
            await settlements.settle(s, company.id, Month(2026, 10), kind="pension")
        assert caught.value.code == ErrorCode.ALREADY_SETTLED
        with pytest.raises(ShebaoError) as caught:
            await settlements.settle(s, company.id, Month(2026, 10), kind="no_such_kind")
        assert caught.value.code == ErrorCode.SETTLE_KIND_NOT_ALLOWED
        rest = await settlements.settle(s, company.id, Month(2026, 10))  # the other kinds' plans
        await s.commit()
        scopes = [r.kind_scope for r in rest]
        assert "pension" not in scopes and len(scopes) >= 3 and len(set(scopes)) == len(scopes)
        bill = await settlements.preview(s, company.id, Month(2026, 10))
        assert sum((r.total for r in [pension, *rest]), Decimal(0)) == bill.total
        for row in [pension, *rest]:
            lines = (await s.scalars(select(SettlementLine).where(SettlementLine.settlement_id == row.id))).all()
            assert {x.kind for x in lines} == {row.kind_scope}

        tianjin = await _tianjin_company(s)
        await _declare(s, tianjin, DeclarationKind.ADD, _add(resident_id(), "6000"))
        with pytest.raises(ShebaoError) as caught:  # Tianjin settles all kinds at once
            await settlements.settle(s, tianjin.id, Month(2026, 10), "no_change", kind="pension")
        assert caught.value.code == ErrorCode.SETTLE_KIND_NOT_ALLOWED
