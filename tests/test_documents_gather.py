"""Gathering a document's data from the database: totals to the cent against the settlement lines,
month ranges over several settled months, a person across months, adds and stops with reasons, the
stable error codes, and tenancy (another agency's company or person is not found). SQLite and PostgreSQL.

:func:`build_scenario` is shared with tests/test_documents_render.py: a client company of a region
with two people from September, October settled and paid, then in November a third person, a stop
and a back payment for July-August, November settled (unpaid).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from shebao.platform.companies import service as companies
from shebao.platform.core.month import Month
from shebao.platform.declarations import service as declarations
from shebao.platform.declarations.models import DeclarationStatus
from shebao.platform.documents.gather import gather
from shebao.platform.documents.numerals import rmb
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import DeclarationKind, DocumentKind, SettlePrecondition
from shebao.platform.regions.registry import registry
from shebao.platform.settlement import service as settlements
from shebao.platform.settlement.models import Settlement, SettlementLine, SettlementStatus
from shebao.platform.tenancy.context import Actor
from tests.factories import company_values, resident_id

pytestmark = pytest.mark.anyio
SEP, OCT, NOV = Month(2026, 9), Month(2026, 10), Month(2026, 11)
CENT = Decimal("0.01")


@dataclass
class Scenario:
    region_code: str
    company: object
    people: dict[str, tuple[str, str]]  # role -> (name, ID number)
    person_ids: dict[str, uuid.UUID]
    settlements: list[Settlement]
    stop_reason: str  # the region's label of the stop reason used


async def _declare(s, company, kind, values):
    row = await declarations.create_declaration(s, company.id, kind, values)
    [outcome] = await declarations.submit(s, [row.id])
    assert outcome.error is None, outcome.error
    if outcome.declaration.status is DeclarationStatus.SUBMITTED:
        [outcome] = await declarations.approve(s, [row.id])
        assert outcome.error is None, outcome.error
    return outcome.declaration


async def settle(s, company_id, month, mode) -> list[Settlement]:
    """settle() returns one settlement, or a list of them (one per kind plan) once kind_scope lands."""
    result = await settlements.settle(s, company_id, month, mode)
    return list(result) if isinstance(result, list | tuple) else [result]


def _add(id_number: str, name: str, base: str, start: str, form: str = "contract") -> dict:
    return {
        "id_number": id_number,
        "name": name,
        "household_type": "local_urban",
        "employment_form": form,
        "start_month": start,
        "monthly_base": base,
        "phone": "13912345678",
    }


async def build_scenario(s, region_code: str, name: str | None = None) -> Scenario:
    region = registry().get(region_code)
    modes = region.settlement.modes
    mode = next((m.code for m in modes if m.precondition is SettlePrecondition.ALL_APPROVED), modes[0].code)
    values = company_values(region_code, unit_number="1200000012345", industry_class=1)
    if name:
        values["name"] = name
    company = await companies.create_company(s, values)
    people = {
        "a": ("王小明", resident_id("19880512")),
        "b": ("李秀英", resident_id("19920303", female=True)),
        "c": ("欧阳建国", resident_id("19950817")),
    }
    await _declare(s, company, DeclarationKind.ADD, _add(people["a"][1], people["a"][0], "8000.00", "2026-09"))
    await _declare(s, company, DeclarationKind.ADD, _add(people["b"][1], people["b"][0], "6500.00", "2026-09"))
    done = await settle(s, company.id, OCT, mode)
    for row in done:
        await settlements.mark_paid(s, row.id)
    reason = region.coded_list("stop_reasons").values[0]
    await _declare(s, company, DeclarationKind.ADD, _add(people["c"][1], people["c"][0], "7200.00", "2026-11"))
    await _declare(
        s,
        company,
        DeclarationKind.STOP,
        {"id_number": people["b"][1], "stop_month": "2026-11", "stop_reason": reason.code},
    )
    back = {"id_number": people["a"][1], "from_month": "2026-07", "to_month": "2026-08", "monthly_base": "8000.00"}
    await _declare(s, company, DeclarationKind.BACK_PAYMENT, back)
    done += await settle(s, company.id, NOV, mode)
    await s.commit()
    from shebao.platform.people.models import Person

    ids = {p.id_number: p.id for p in await s.scalars(select(Person))}
    person_ids = {role: ids[idn] for role, (_, idn) in people.items()}
    return Scenario(region_code, company, people, person_ids, done, reason.label_zh)


async def _lines(s, settlement_ids) -> list[tuple[SettlementLine, Month]]:
    stmt = (
        select(SettlementLine, Settlement.month)
        .join(
            Settlement,
            (Settlement.agency_id == SettlementLine.agency_id) & (Settlement.id == SettlementLine.settlement_id),
        )
        .where(SettlementLine.settlement_id.in_(settlement_ids))
    )
    return list(await s.execute(stmt))


async def test_payment_notice_totals_match_the_settlement_lines_over_several_months(make_agency, session_as):
    a = await make_agency("doc-notice")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "tianjin")
        doc = await gather(s, DocumentKind.PAYMENT_NOTICE, sc.company.id, OCT, NOV)
        lines = await _lines(s, [x.id for x in sc.settlements])

    assert doc.header.title_zh == "单位缴费通知单" and doc.header.period == "2026-10 至 2026-11"
    assert [m.month for m in doc.months] == [OCT, NOV]
    assert [m.status_zh for m in doc.months] == ["已缴费", "未缴费"]
    expected: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for line, month in lines:
        cell = expected[(month, line.kind)]
        cell[0] += line.employer_amount
        cell[1] += line.employee_amount
        cell[2] += line.late_fee
    got: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for m in doc.months:
        for r in m.rows:
            cell = got[(m.month, r.kind)]
            cell[0] += r.amounts.employer
            cell[1] += r.amounts.employee
            cell[2] += r.amounts.late_fee
            assert r.amounts.employer == r.amounts.employer.quantize(CENT)
    assert got == expected
    billed = sum((x.employer_total + x.employee_total + x.late_fee_total for x in sc.settlements), Decimal(0))
    assert doc.amounts.total == billed and doc.total_capital == rmb(billed)
    assert doc.total_capital.startswith("人民币") and doc.total_capital.endswith(("分", "整"))
    # November: the month's own rows, then the back payment (July-August) on rows of their own, with late fees.
    november = doc.months[1]
    backs = [r for r in november.rows if r.back_payment]
    assert backs and {r.periods for r in backs} == {"2026-07 至 2026-08"}
    assert all(r.label_zh.endswith("（补缴）") for r in backs)
    assert sum((r.amounts.late_fee for r in backs), Decimal(0)) > 0
    pension = next(r for r in november.rows if r.kind == "pension" and not r.back_payment)
    assert (pension.head_count, pension.employer_rate, pension.employee_rate) == (2, "16%", "8%")
    # The detail: one row per person and month billed, its kinds summing to the same totals.
    assert len(doc.details) == len({(month, x.person_id, x.month) for x, month in lines})
    assert sum((r.amounts.total for r in doc.details), Decimal(0)) == billed
    assert {r.name for r in doc.details} == {name for name, _ in sc.people.values()}
    assert [k.kind for k in doc.kinds] == ["pension", "medical", "unemployment", "work_injury", "large_medical"]


async def test_collection_verification_has_one_section_per_plan_in_force(make_agency, session_as):
    a = await make_agency("doc-plan")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "leshan")
        doc = await gather(s, "collection_verification", sc.company.id, NOV)
        lines = await _lines(s, [x.id for x in sc.settlements if x.month == NOV])
    november = [x for x in sc.settlements if x.month == NOV]
    assert doc.header.title_zh == "乐山市社会保险费申报核定表" and doc.header.seal
    assert len(doc.sections) == len(november)
    scopes = {getattr(x, "kind_scope", None) or "all" for x in november}
    if scopes == {"all"}:
        assert [sec.scope_zh for sec in doc.sections] == ["全部险种"]
    else:  # one collection plan per insurance kind
        labels = {registry().get("leshan").kind(k).label_zh for k in scopes}
        assert {sec.scope_zh for sec in doc.sections} == labels
    total = sum((x.employer_amount + x.employee_amount + x.late_fee for x, _ in lines), Decimal(0))
    assert doc.amounts.total == total and doc.total_capital == rmb(total)
    assert all(sec.total_capital == rmb(sec.amounts.total) for sec in doc.sections)


async def test_unit_certificate_tells_paid_from_unpaid_months(make_agency, session_as):
    a = await make_agency("doc-cert")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "guiyang")
        doc = await gather(s, "unit_payment_certificate", sc.company.id, "2026-08", "2026-11")
    assert [(m.month, m.head_count, m.paid, m.status_zh) for m in doc.months] == [
        (OCT, 2, True, "已缴费"),
        (NOV, 2, False, "未缴费"),  # B left (last month October), C joined
    ]
    assert doc.paid_amount == doc.months[0].amounts.total
    assert doc.unpaid_amount == doc.months[1].amounts.total
    assert doc.amounts.total == sum(x.employer_total + x.employee_total + x.late_fee_total for x in sc.settlements)


async def test_a_persons_certificate_and_statement_across_months(make_agency, session_as):
    a = await make_agency("doc-person")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "guiyang")
        cert = await gather(s, "personal_certificate", sc.company.id, "2026-07", NOV, sc.person_ids["a"])
        statement = await gather(s, "personal_statement", sc.company.id, "2026-07", NOV, str(sc.person_ids["a"]))
        lines = [x for x, _ in await _lines(s, [x.id for x in sc.settlements]) if x.person_id == sc.person_ids["a"]]
    assert cert.person.name == "王小明" and cert.person.gender_zh == "男"
    # July and August (the back payment, billed in November), October, November; September was never settled.
    assert [r.period for r in cert.rows] == [Month(2026, 7), Month(2026, 8), OCT, NOV]
    assert [r.status_zh for r in cert.rows] == ["未缴费", "未缴费", "已缴费", "未缴费"]
    assert cert.months_count == 4 and all(r.company_name == sc.company.name for r in cert.rows)
    assert cert.amounts.total == sum((x.employer_amount + x.employee_amount + x.late_fee for x in lines), Decimal(0))
    pension = [k.kind for k in cert.kinds].index("pension")
    assert cert.kind_totals[pension].employee == sum(x.employee_amount for x in lines if x.kind == "pension")

    pension_lines = sorted((x for x in lines if x.kind == "pension"), key=lambda x: x.month)
    assert [r.amount for r in statement.rows] == [x.employee_amount for x in pension_lines]
    assert statement.opening_balance == 0
    paid_october = next(x.employee_amount for x in pension_lines if x.month == OCT)
    # The individual account counts paid months only: October.
    assert [r.running_total for r in statement.rows] == [0, 0, paid_october, paid_october]
    assert statement.closing_balance == paid_october
    assert statement.period_total == sum((x.employee_amount for x in pension_lines), Decimal(0))


async def test_a_single_month_statement_covers_the_year_to_date(make_agency, session_as):
    a = await make_agency("doc-ytd")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "leshan")
        statement = await gather(s, "personal_statement", sc.company.id, NOV, None, sc.person_ids["a"])
        assert (statement.header.month_from, statement.header.month_to) == (Month(2026, 1), NOV)
        assert statement.header.title_zh == "养老保险个人对账单"
        assert [r.period for r in statement.rows] == [Month(2026, 7), Month(2026, 8), OCT, NOV]


async def test_changes_table_and_new_enrollees(make_agency, session_as):
    a = await make_agency("doc-changes")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "leshan")
        november = await gather(s, "changes_table", sc.company.id, NOV)
        september = await gather(s, "changes_table", sc.company.id, SEP)
        quiet = await gather(s, "changes_table", sc.company.id, OCT)
        enrollees = await gather(s, "new_enrollee_form", sc.company.id, SEP)
    assert [(r.name, r.direction_zh, r.reason_zh, r.month) for r in november.adds] == [
        ("欧阳建国", "增加", "新参保", NOV)
    ]
    assert [(r.name, r.direction_zh, r.reason_zh, r.month) for r in november.stops] == [
        ("李秀英", "减少", sc.stop_reason, NOV)
    ]
    assert november.stops[0].employment_form_zh == "合同制" and november.stops[0].household_zh == "本市城镇"
    assert {r.name for r in september.adds} == {"王小明", "李秀英"} and not september.stops
    assert not quiet.adds and not quiet.stops  # a month without changes is still a (short) table
    assert [(p.name, p.gender_zh, p.base) for p in enrollees.people] == sorted(
        [("王小明", "男", Decimal("8000.00")), ("李秀英", "女", Decimal("6500.00"))],
        key=lambda p: sc.people["a" if p[0] == "王小明" else "b"][1],
    )
    assert enrollees.base_total == Decimal("14500.00")
    assert enrollees.people[0].household_zh == "本市城镇" and enrollees.people[0].phone == "13912345678"


async def test_large_medical_roster_lists_each_person_and_month(make_agency, session_as):
    a = await make_agency("doc-large")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "tianjin")
        doc = await gather(s, "large_medical_roster", sc.company.id, OCT, NOV)
        lines = [x for x, _ in await _lines(s, [x.id for x in sc.settlements]) if x.kind == "large_medical"]
    assert doc.header.title_zh == "大额医疗救助人员缴费名册" and doc.kind_label_zh == "大额医疗救助"
    assert len(doc.rows) == len(lines) and doc.head_count == 3
    assert doc.amounts.total == sum((x.employer_amount + x.employee_amount + x.late_fee for x in lines), Decimal(0))


async def _code(coro) -> tuple[ErrorCode, str | None]:
    with pytest.raises(ShebaoError) as caught:
        await coro
    problem = caught.value.problems[0]
    for lang in ("zh", "en"):  # every placeholder filled: a missing parameter leaves the raw template
        assert "{" not in problem.message(lang), (problem.code, problem.message(lang))
    return problem.code, problem.field


async def test_wrong_inputs_get_stable_codes(make_agency, session_as):
    a = await make_agency("doc-errors")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "tianjin")
        other = await companies.create_company(s, company_values("tianjin"))
        leshan = await build_scenario(s, "leshan")
        cid, person = sc.company.id, sc.person_ids["a"]
        cases = [
            (gather(s, "nope", cid, NOV), (ErrorCode.INVALID_VALUE, "kind")),
            (gather(s, "payment_notice", uuid.uuid4(), NOV), (ErrorCode.NOT_FOUND, "companyId")),
            (gather(s, "payment_notice", "not-a-uuid", NOV), (ErrorCode.NOT_FOUND, "companyId")),
            (gather(s, "personal_statement", cid, NOV), (ErrorCode.DOCUMENT_NOT_OFFERED, "kind")),
            (gather(s, "payment_notice", cid, "2026-13"), (ErrorCode.INVALID_MONTH, "monthFrom")),
            (gather(s, "payment_notice", cid, NOV, OCT), (ErrorCode.MONTH_ORDER, "monthTo")),
            (gather(s, "payment_notice", cid, Month(2025, 11), NOV), (ErrorCode.DOCUMENT_RANGE_TOO_LONG, "monthTo")),
            (
                gather(s, "payment_notice", cid, Month(2026, 1), Month(2026, 3)),
                (ErrorCode.DOCUMENT_NOTHING_SETTLED, "monthFrom"),
            ),
            (gather(s, "unit_payment_certificate", cid, OCT, NOV), (ErrorCode.DOCUMENT_SINGLE_MONTH, "monthTo")),
            (gather(s, "payment_notice", other.id, OCT), (ErrorCode.DOCUMENT_NOTHING_SETTLED, "monthFrom")),
            (gather(s, "personal_statement", leshan.company.id, NOV), (ErrorCode.REQUIRED, "personId")),
            (
                gather(s, "personal_statement", leshan.company.id, NOV, None, person),
                (ErrorCode.PERSON_NOT_AT_COMPANY, "personId"),
            ),
            (
                gather(s, "personal_statement", leshan.company.id, NOV, None, uuid.uuid4()),
                (ErrorCode.NOT_FOUND, "personId"),
            ),
            (gather(s, "new_enrollee_form", leshan.company.id, OCT), (ErrorCode.DOCUMENT_EMPTY, None)),
        ]
        for coro, expected in cases:
            assert await _code(coro) == expected
        # 12 months is the cap of a unit document; exactly 12 is fine.
        doc = await gather(s, "payment_notice", cid, Month(2025, 12), NOV)
        assert [m.month for m in doc.months] == [OCT, NOV]
        with pytest.raises(ShebaoError) as caught:
            await gather(s, "payment_notice", cid, Month(2025, 11), NOV)
        assert caught.value.problems[0].params["max"] == 12
        assert "最多打印 12 个月" in caught.value.problems[0].message("zh")


async def test_another_agencys_company_and_person_are_not_found(make_agency, session_as):
    mine, theirs = await make_agency("doc-mine"), await make_agency("doc-theirs")
    async with session_as(theirs.system) as s:
        sc = await build_scenario(s, "tianjin")
    async with session_as(mine.system) as s:
        own = await companies.create_company(s, company_values("guiyang"))
        await s.commit()
        assert await _code(gather(s, "payment_notice", sc.company.id, OCT)) == (ErrorCode.NOT_FOUND, "companyId")
        person = sc.person_ids["a"]
        assert await _code(gather(s, "personal_certificate", own.id, OCT, None, person)) == (
            ErrorCode.NOT_FOUND,
            "personId",
        )
    # An operator of the same agency scoped to other companies does not see it either.
    scoped = Actor(
        agency_id=theirs.id,
        permissions=frozenset({"persons:read", "companies:read"}),
        company_ids=frozenset({uuid.uuid4()}),
    )
    async with session_as(scoped) as s:
        assert await _code(gather(s, "payment_notice", sc.company.id, OCT)) == (ErrorCode.NOT_FOUND, "companyId")
    reader = Actor(agency_id=theirs.id, permissions=frozenset({"companies:read"}))
    async with session_as(reader) as s:
        assert await _code(gather(s, "payment_notice", sc.company.id, OCT)) == (ErrorCode.PERMISSION_DENIED, None)
    async with session_as(theirs.system) as s:
        doc = await gather(s, "payment_notice", sc.company.id, OCT)
        assert doc.header.company_name == sc.company.name
        assert {x.status for x in sc.settlements if x.month == OCT} == {SettlementStatus.PAID}
