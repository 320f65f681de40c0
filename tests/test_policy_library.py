"""The agency's policy library: its own figures over the plugin's, from their month on, audited;
and the region queries of GraphQL, which resolve figures for the caller's agency."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select

from shebao.platform.audit.models import AuditEntry
from shebao.platform.auth.permissions import Permission
from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.policy import service as policy
from shebao.platform.policy.models import PolicyFigure
from shebao.platform.regions import service as regions
from shebao.platform.regions.figures import Layer
from shebao.platform.tenancy.context import Actor

pytestmark = pytest.mark.anyio

FLOOR = policy.NewFigure("tianjin", "base.floor", Month(2026, 7), "5500", "津人社局发〔2026〕示例号")


async def _floor(session, month: Month) -> tuple[Decimal, Layer]:
    figure = (await policy.figure_book(session, "tianjin")).at(month).require("base.floor")
    return figure.value, figure.layer


async def test_a_recorded_figure_applies_from_its_month_on_and_only_for_its_agency(make_agency, session_as):
    a, b = await make_agency("pol-a"), await make_agency("pol-b")
    async with session_as(a.system) as s:
        row = await policy.record_figure(s, FLOOR)
        await s.commit()
        assert row.value == "5500.00" and row.active
        assert await _floor(s, Month(2026, 7)) == (Decimal("5500.00"), Layer.AGENCY)
        assert await _floor(s, Month(2026, 6)) == (Decimal("5013"), Layer.REGION)
        calc = await regions.calculate(
            s, "tianjin", Month(2026, 11), base="5200", household_type="local_urban", employment_form="contract"
        )
        pension = calc.lines[0]
        assert pension.base_used == Decimal("5500.00") and pension.clamp == "floor"
        assert pension.limit.layer is Layer.AGENCY and pension.limit.policy_id == row.id
        assert "津人社局发〔2026〕示例号" in "\n".join(pension.explain())
    async with session_as(b.system) as s:
        assert await _floor(s, Month(2026, 7)) == (Decimal("5013"), Layer.REGION)


async def test_recording_again_for_the_same_month_supersedes_and_withdrawing_restores(make_agency, session_as):
    a = await make_agency("pol-sup")
    async with session_as(a.system) as s:
        first = await policy.record_figure(s, FLOOR)
        await s.commit()
        second = await policy.record_figure(
            s, policy.NewFigure("tianjin", "base.floor", Month(2026, 7), "5600.5", "津人社局发〔2026〕更正号")
        )
        await s.commit()
        await s.refresh(first)
        assert first.withdrawn_at is not None and "superseded" in first.withdraw_reason
        assert await _floor(s, Month(2026, 8)) == (Decimal("5600.50"), Layer.AGENCY)
        await policy.withdraw_figure(s, second.id, "录入有误")
        await s.commit()
        assert await _floor(s, Month(2026, 8)) == (Decimal("5013"), Layer.REGION)
        with pytest.raises(ShebaoError) as caught:
            await policy.withdraw_figure(s, second.id, "again")
        assert caught.value.code == ErrorCode.ALREADY_WITHDRAWN
        await s.rollback()
        actions = (await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
        assert actions.count("policy.record") == 2 and actions.count("policy.withdraw") == 2
        page = await policy.list_figures(s, policy.PageRequest(first=10), region_code="tianjin", include_withdrawn=True)
        assert page.total_count == 2
        active = await policy.list_figures(s, policy.PageRequest(first=10), region_code="tianjin")
        assert active.total_count == 0


@pytest.mark.parametrize(
    ("new", "code", "field"),
    [
        (policy.NewFigure("atlantis", "base.floor", Month(2026, 7), "5500", "x"), "UNKNOWN_REGION", "regionCode"),
        (policy.NewFigure("tianjin", "base.flor", Month(2026, 7), "5500", "x"), "UNKNOWN_PARAMETER", "name"),
        (policy.NewFigure("tianjin", "maternity.employer_rate", Month(2026, 7), "1", "x"), "UNKNOWN_PARAMETER", "name"),
        (policy.NewFigure("tianjin", "rounding.mode", Month(2026, 7), "1", "x"), "UNKNOWN_PARAMETER", "name"),
        (
            policy.NewFigure("tianjin", "pension.employer_rate", Month(2026, 7), "160", "x"),
            "FIGURE_OUT_OF_RANGE",
            "value",
        ),
        (policy.NewFigure("tianjin", "base.floor", Month(2026, 7), "5500.123", "x"), "FIGURE_OUT_OF_RANGE", "value"),
        (policy.NewFigure("tianjin", "base.floor", Month(2026, 7), "-1", "x"), "FIGURE_OUT_OF_RANGE", "value"),
        (policy.NewFigure("tianjin", "base.floor", Month(2026, 7), "lots", "x"), "INVALID_AMOUNT", "value"),
        (policy.NewFigure("tianjin", "base.floor", Month(2026, 7), "30000", "x"), "FIGURE_OUT_OF_RANGE", "value"),
        (policy.NewFigure("tianjin", "base.floor", Month(1999, 1), "5500", "x"), "INVALID_MONTH", "since"),
        (policy.NewFigure("tianjin", "base.floor", Month(2026, 7), "5500", "  "), "REQUIRED", "source"),
    ],
    ids=[
        "region",
        "name",
        "kind-not-billed",
        "mode",
        "percent",
        "decimals",
        "negative",
        "text",
        "above-ceiling",
        "month",
        "source",
    ],
)
async def test_bad_figures_are_refused_with_a_code_and_nothing_written(make_agency, session_as, new, code, field):
    a = await make_agency("pol-bad")
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as caught:
            await policy.record_figure(s, new)
        assert (caught.value.problems[0].code, caught.value.problems[0].field) == (code, field), caught.value
        await s.rollback()
        assert (await s.scalars(select(PolicyFigure))).all() == []
        assert (await s.scalars(select(AuditEntry).where(AuditEntry.action == "policy.record"))).all() == []


async def test_only_holders_of_policy_manage_record_figures(make_agency, session_as):
    a = await make_agency("pol-perm")
    clerk = Actor(agency_id=a.id, user_id=a.admin_id, permissions=frozenset({Permission.COMPANIES_READ.value}))
    async with session_as(clerk) as s:
        with pytest.raises(ShebaoError) as caught:
            await policy.record_figure(s, FLOOR)
        assert caught.value.code == ErrorCode.PERMISSION_DENIED


async def test_two_operators_recording_the_same_figure_at_once_leave_one_active(make_agency, session_as):
    a = await make_agency("pol-race")

    async def record(value: str):
        async with session_as(a.system) as s:
            try:
                await policy.record_figure(s, policy.NewFigure("tianjin", "base.floor", Month(2026, 7), value, "x"))
                await s.commit()
                return "ok"
            except Exception as exc:  # the loser hits the unique index (the adapter maps it to CONFLICT)
                await s.rollback()
                return type(exc).__name__

    outcomes = await asyncio.gather(record("5500"), record("5600"))
    async with session_as(a.system) as s:
        active = (await s.scalars(select(PolicyFigure).where(PolicyFigure.withdrawn_at.is_(None)))).all()
    assert len(active) == 1, outcomes
    assert "ok" in outcomes


# --- GraphQL ---------------------------------------------------------------------------------------

REGIONS = """
query { regions { code nameZh plugin pluginVersion insuranceKinds { kind labelZh yearly }
  codedLists { name labelZh values { code labelZh formCode } }
  fieldRules { required { declaration fields } attachments { document employmentForms } notices { declaration textZh }
               insuredElsewhereRefused arrearsBlockStop addBeforeBackPayment baseBelowFloor }
  exemptions { rule kinds side employmentForms }
  templates { declaration titleZh columns { key labelZh required codedList example } }
  documents { kind titleZh monthRange seal }
  settlement { modes { code labelZh precondition carriesPreviousMonth rollbackWhilePaid: rollbackWhileUnpaid perKind }
               reviewRequired rollbackKinds }
  sources { key title } } }
"""

FIGURES = """
query($code:String!, $month:Month!){ region(code:$code){ figures(month:$month){
  name value unit since layer confidence sourceTitle sourceReference reviewed policyFigureId } } }
"""

CALCULATE = """
query($month:Month!){ region(code:"tianjin"){ calculate(month:$month, base:"3000", householdType:"local_urban",
  employmentForm:"rural_worker", industryClass:3, industryGrade:120){
  month employerTotal employeeTotal total
  lines { kind baseDeclared baseUsed clamp limit { value layer } total rounding explanation
          employer { amount rate classRate { value } grade }
          employee { amount exemption { rule labelZh } } } } } }
"""

RECORD = """
mutation($input: RecordPolicyFigureInput!){ recordPolicyFigure(input:$input){
  figure { id regionCode name since value source confidence active } errors { code field message } } }
"""


async def test_regions_expose_rules_lists_forms_and_settlement(make_agency, gql):
    a = await make_agency("gql-reg")
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    data = await gql(REGIONS, token=token)
    by_code = {r["code"]: r for r in data["regions"]}
    assert {
        "fujian.fuzhou",
        "fujian.xiamen",
        "tianjin",
        "yunnan.kunming",
        "yunnan.lijiang",
        "guiyang",
        "leshan",
    } <= set(by_code)
    tianjin = by_code["tianjin"]
    assert [m["code"] for m in tianjin["settlement"]["modes"]] == ["no_change", "with_change"]
    assert tianjin["settlement"]["modes"][0]["precondition"] == "NOTHING_DECLARED"
    assert tianjin["fieldRules"]["arrearsBlockStop"] is True
    lists = {c["name"]: c for c in tianjin["codedLists"]}
    assert [v["labelZh"] for v in lists["stop_reasons"]["values"]] == ["停缴费"]
    add = next(t for t in tianjin["templates"] if t["declaration"] == "ADD")
    assert next(c for c in add["columns"] if c["key"] == "household_type")["codedList"] == "household_types"
    assert {d["titleZh"] for d in tianjin["documents"]} >= {
        "单位缴费通知单",
        "单位征集核定单",
        "大额医疗救助人员缴费名册",
    }
    rules = {e["rule"] for e in tianjin["exemptions"]}
    assert {"part_time_work_injury_only", "rural_worker_no_personal_unemployment"} <= rules
    assert "ROLLBACK" not in tianjin["settlement"]["rollbackKinds"]
    assert by_code["guiyang"]["settlement"]["rollbackKinds"] == ["BACK_PAYMENT"]
    assert by_code["leshan"]["settlement"]["modes"][0]["perKind"] is True
    assert any(d["seal"] for d in by_code["leshan"]["documents"])
    assert by_code["fujian.fuzhou"]["insuranceKinds"][2]["kind"] == "MATERNITY"
    unknown = await gql('query { region(code:"atlantis"){ code } }', token=token)
    assert unknown["region"] is None


async def test_figures_and_calculation_follow_the_agency_policy_library(make_agency, gql):
    a = await make_agency("gql-pol")
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    figures = await gql(FIGURES, {"code": "tianjin", "month": "2026-11"}, token=token)
    floor = next(f for f in figures["region"]["figures"] if f["name"] == "base.floor")
    assert floor == {
        "name": "base.floor",
        "value": "5013",
        "unit": "YUAN",
        "since": "2024-07",
        "layer": "REGION",
        "confidence": "LOW",
        "sourceTitle": floor["sourceTitle"],
        "sourceReference": "",
        "reviewed": "2026-11-20",
        "policyFigureId": None,
    }
    assert "jiabin-xu" in floor["sourceTitle"]

    calc = (await gql(CALCULATE, {"month": "2026-11"}, token=token))["region"]["calculate"]
    unemployment = next(line for line in calc["lines"] if line["kind"] == "UNEMPLOYMENT")
    assert unemployment["baseUsed"] == "5013.00" and unemployment["clamp"] == "floor"
    assert unemployment["employer"]["amount"] == "25.07"
    assert unemployment["employee"]["exemption"]["rule"] == "rural_worker_no_personal_unemployment"
    injury = next(line for line in calc["lines"] if line["kind"] == "WORK_INJURY")
    assert injury["employer"]["rate"] == "0.84" and injury["employer"]["grade"] == 120
    assert Decimal(calc["total"]) == Decimal(calc["employerTotal"]) + Decimal(calc["employeeTotal"])

    given = {
        "regionCode": "tianjin",
        "name": "base.floor",
        "since": "2026-07",
        "value": "5500",
        "source": "津人社局发〔2026〕示例号",
    }
    recorded = (await gql(RECORD, {"input": given}, token=token))["recordPolicyFigure"]
    assert recorded["errors"] == [] and recorded["figure"]["value"] == "5500.00"
    assert recorded["figure"]["confidence"] == "OFFICIAL" and recorded["figure"]["active"] is True
    figures = await gql(FIGURES, {"code": "tianjin", "month": "2026-11"}, token=token)
    floor = next(f for f in figures["region"]["figures"] if f["name"] == "base.floor")
    assert (floor["value"], floor["layer"], floor["since"]) == ("5500.00", "AGENCY", "2026-07")
    assert floor["policyFigureId"] == recorded["figure"]["id"] and floor["sourceTitle"] == "津人社局发〔2026〕示例号"
    calc = (await gql(CALCULATE, {"month": "2026-11"}, token=token))["region"]["calculate"]
    assert calc["lines"][0]["baseUsed"] == "5500.00" and calc["lines"][0]["limit"]["layer"] == "AGENCY"
    before = (await gql(CALCULATE, {"month": "2026-06"}, token=token))["region"]["calculate"]
    assert before["lines"][0]["baseUsed"] == "5013.00"

    bad = (await gql(RECORD, {"input": {**given, "name": "base.flor"}}, token=token, lang="en"))["recordPolicyFigure"]
    assert (
        bad["figure"] is None
        and bad["errors"][0]["code"] == "UNKNOWN_PARAMETER"
        and "base.flor" in bad["errors"][0]["message"]
    )

    listed = await gql('query { policyFigures(regionCode:"tianjin") { totalCount nodes { id name } } }', token=token)
    assert listed["policyFigures"]["totalCount"] == 1
    withdrawn = await gql(
        'mutation($id:ID!){ withdrawPolicyFigure(id:$id, reason:"录入有误")'
        "{ figure { active withdrawReason } errors { code } } }",
        {"id": recorded["figure"]["id"]},
        token=token,
    )
    assert withdrawn["withdrawPolicyFigure"]["figure"] == {"active": False, "withdrawReason": "录入有误"}


async def test_calculation_errors_are_typed(make_agency, gql):
    a = await make_agency("gql-calc")
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    body = await gql(
        'query { region(code:"tianjin"){ calculate(month:"2020-01", base:"5000", householdType:"local_urban",'
        ' employmentForm:"contract"){ total } } }',
        token=token,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "NO_FIGURE"
    body = await gql(
        'query { region(code:"tianjin"){ calculate(month:"2026-11", base:"5000", householdType:"martian",'
        ' employmentForm:"contract"){ total } } }',
        token=token,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CODE"
