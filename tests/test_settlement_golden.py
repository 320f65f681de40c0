"""Golden settlement months: for every region, a scenario built through the services (adds, a base
change, a back payment across a change of figures, refusals) and settled on a fixed date, whose
every stored line is compared to the cent with lines computed by hand from the region's data files
(``tests/golden_settlements/<region>.toml``, format in the README there). Each line's explanation
must cite the figure its rate came from, and the limit for a clamped base. On SQLite and PostgreSQL.

A line or step marked ``known_engine_bug = "…"`` is expected to differ: the test then xfails, and
fails (strict) once the engine is fixed so that the mark can be removed.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from shebao.platform.companies import service as companies
from shebao.platform.core.month import Month
from shebao.platform.declarations import attachments, checks
from shebao.platform.declarations import service as declarations
from shebao.platform.declarations.models import DeclarationStatus
from shebao.platform.errors import ShebaoError
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.regions.registry import registry
from shebao.platform.settlement import basis
from shebao.platform.settlement import service as settlements
from shebao.platform.settlement.compute import IN_FORCE
from shebao.platform.settlement.models import ALL_KINDS, Settlement, SettlementLine
from tests.factories import company_values, resident_id

pytestmark = pytest.mark.anyio

GOLDEN = Path(__file__).parent / "golden_settlements"
FILES = sorted(GOLDEN.glob("*.toml"))
CENT = Decimal("0.01")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SIDES = ("employer", "employee")
DECLARATION_STEPS = {
    "add": DeclarationKind.ADD,
    "base_change": DeclarationKind.BASE_CHANGE,
    "back_payment": DeclarationKind.BACK_PAYMENT,
    "stop": DeclarationKind.STOP,
}
STEP_KEYS = {
    "common": {"do", "about", "refused", "refused_params", "known_engine_bug"},
    "add": {"who", "household_type", "employment_form", "start_month", "monthly_base", "attach"},
    "base_change": {"who", "change_month", "monthly_base"},
    "back_payment": {"who", "from_month", "to_month", "monthly_base"},
    "stop": {"who", "stop_month", "stop_reason"},
    "settle": {"month", "mode", "kind", "on", "settlement", "kinds", "lines"},
}
LINE_KEYS = {
    "who",
    "month",
    "kind",
    "base",
    "declared",
    "clamp",
    "employer",
    "employee",
    "late_fee",
    "late_days",
    "employer_exempt",
    "employee_exempt",
    "known_engine_bug",
}
LINE_REQUIRED = {"who", "kind", "base", "employer", "employee"}


def load(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def format_problems(doc: dict[str, Any]) -> list[str]:
    """What is wrong with a scenario file's shape (so a typo fails loudly, not silently)."""
    out = []
    for key in ("region", "today", "company", "rates", "limits", "late_fee_rule", "due_day", "step"):
        if key not in doc:
            out.append(f"missing top-level key {key!r}")
    whos = set()
    for i, step in enumerate(doc.get("step", [])):
        do = step.get("do")
        if do not in STEP_KEYS or do == "common":
            out.append(f"step[{i}]: unknown do={do!r}")
            continue
        unknown = set(step) - STEP_KEYS["common"] - STEP_KEYS[do]
        if unknown:
            out.append(f"step[{i}] ({do}): unknown keys {sorted(unknown)}")
        if do == "add" and "refused" not in step:
            whos.add(step["who"])
        if do == "settle" and "refused" not in step:
            for key in ("on", "settlement", "kinds", "lines"):
                if key not in step:
                    out.append(f"step[{i}] (settle {step.get('month')}): missing {key!r}")
            for j, line in enumerate(step.get("lines", [])):
                where = f"step[{i}].lines[{j}]"
                if set(line) - LINE_KEYS:
                    out.append(f"{where}: unknown keys {sorted(set(line) - LINE_KEYS)}")
                if LINE_REQUIRED - set(line):
                    out.append(f"{where}: missing {sorted(LINE_REQUIRED - set(line))}")
                if line.get("who") not in whos:
                    out.append(f"{where}: who={line.get('who')!r} is not a person added before")
                if line.get("clamp") and "declared" not in line:
                    out.append(f"{where}: a clamped line needs 'declared'")
                if line.get("kind") not in doc.get("rates", {}):
                    out.append(f"{where}: kind {line.get('kind')!r} has no [rates] entry")
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_golden_file_is_well_formed(path):
    assert format_problems(load(path)) == []


def test_every_region_has_a_golden_settlement_file():
    covered = {load(p)["region"] for p in FILES}
    assert covered == set(registry().codes), "add tests/golden_settlements/<region>.toml"


# ---------------------------------------------------------------------------------------- running


@dataclass
class Difference:
    text: str
    key: tuple | None = None  # the line it concerns, if any


@dataclass
class Outcome:
    differences: list[Difference] = field(default_factory=list)
    marked_lines: dict[tuple, str] = field(default_factory=dict)  # line key → known_engine_bug
    marked_steps: dict[int, str] = field(default_factory=dict)  # step index → known_engine_bug
    step_differences: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, step: int, text: str, key: tuple | None = None) -> None:
        self.differences.append(Difference(f"step[{step}] {text}", key))
        self.step_differences[step] += 1


def _limit(doc: dict[str, Any], month: Month) -> dict[str, Any]:
    found = [x for x in doc["limits"] if Month.parse(x["since"]) <= month]
    assert found, f"no [[limits]] entry covers {month}"
    return max(found, key=lambda x: Month.parse(x["since"]))


def _side_text(doc: dict[str, Any], exp: dict[str, Any], side: str) -> str:
    """The explanation's line for one side, as the data files say it must read."""
    amount = money(exp[side])
    exempt = exp.get(f"{side}_exempt")
    if exempt:  # the end of the text: the rule and the amount
        return f"({exempt}) → {amount}"
    rates = doc["rates"][exp["kind"]]
    rate = rates.get(side)
    if rate is None:
        return f"{side}: nothing charged (no figure) → {amount}"
    cite = rates[f"{side}_cite"]
    if exp["kind"] == "work_injury" and side == "employer":
        c = doc["company"]
        return f"{side}: {rate}% = class rate {c['class_rate']}% × grade {c['industry_grade']}% from {cite} → {amount}"
    return f"{side}: {rate}% from {cite} → {amount}"


def explain_differences(doc: dict[str, Any], line: SettlementLine, row: Settlement, exp: dict[str, Any]) -> list[str]:
    """The stored line's explanation must cite the rate's figure, the clamp and its limit, the late fee."""
    text = basis.explain(line, row.basis)
    out = []
    month = line.month
    base = money(exp["base"])
    clamp = exp.get("clamp")
    if clamp:
        direction = "below the floor" if clamp == "floor" else "above the ceiling"
        wanted = [f"base: declared {money(exp['declared'])}, {direction} → {base}"]
        limit = _limit(doc, month)
        wanted.append(f"  {clamp} {limit[clamp]} from {limit['cite']}")
    else:
        wanted = [f"base: {base} (within the floor and ceiling)"]
    for w in wanted:
        if w not in text:
            out.append(f"explanation lacks {w!r}")
    for side in SIDES:
        want = _side_text(doc, exp, side)
        got = next((t for t in text if t.startswith(f"{side}: ")), "")
        if exp.get(f"{side}_exempt"):  # "employer: exempt: <label> (<rule>) → 0.00"
            ok = got.startswith(f"{side}: exempt: ") and got.endswith(want)
        else:
            ok = got == want
        if not ok:
            out.append(f"explanation of the {side} side is {got!r}, expected {want!r}")
    days = int(exp.get("late_days", 0))
    if days:
        due = date(month.year, month.month, int(doc["due_day"]))
        want = f"late fee: {days} days, {doc['late_fee_rule']}, due {due.isoformat()} → {money(exp['late_fee'])}"
        if want not in text:
            out.append(f"explanation lacks {want!r}; it reads {text!r}")
    return out


def _compare_line(line: SettlementLine, exp: dict[str, Any], doc: dict[str, Any], settled: Month) -> list[str]:
    rates = doc["rates"][exp["kind"]]
    clamp = exp.get("clamp") or None
    want = {
        "base_used": money(exp["base"]),
        "base_declared": money(exp.get("declared", exp["base"])),
        "clamp": clamp,
        "employer_amount": money(exp["employer"]),
        "employee_amount": money(exp["employee"]),
        "late_fee": money(exp.get("late_fee", 0)),
        "late_days": int(exp.get("late_days", 0)),
        "employer_exempt": exp.get("employer_exempt"),
        "employee_exempt": exp.get("employee_exempt"),
        "employer_rate": None if exp.get("employer_exempt") else rates.get("employer"),
        "employee_rate": None if exp.get("employee_exempt") else rates.get("employee"),
        "back_payment": line.month != settled,
    }
    got = {k: getattr(line, k) for k in want if k != "back_payment"}
    got["back_payment"] = line.declaration_id is not None
    return [f"{k}: expected {want[k]}, got {got[k]}" for k in want if want[k] != got[k]]


async def _declare(s, storage, company, kind: DeclarationKind, values: dict[str, Any], attach: list[str]):
    row = await declarations.create_declaration(s, company.id, kind, values)
    for document in attach:
        await attachments.attach(s, storage, row.id, document, PDF, f"{document}.pdf")
    [outcome] = await declarations.submit(s, [row.id])
    if outcome.error is not None:  # refused at submission: the draft goes, so it blocks no settlement
        await declarations.delete_draft(s, row.id)
        raise outcome.error
    if outcome.declaration.status is DeclarationStatus.SUBMITTED:  # the region reviews this kind
        [outcome] = await declarations.approve(s, [row.id])
        if outcome.error is not None:
            raise outcome.error
    assert outcome.declaration.status is DeclarationStatus.APPROVED
    return outcome.declaration


def _values(step: dict[str, Any], people: dict[str, str]) -> dict[str, Any]:
    who = step["who"]
    out: dict[str, Any] = {"id_number": people.setdefault(who, resident_id())}
    if step["do"] == "add":
        out["name"] = f"金{who}"
    for key in STEP_KEYS[step["do"]] - {"who", "attach"}:
        if key in step:
            out[key] = str(step[key])
    return out


async def _settle_step(s, doc, company, i: int, step: dict[str, Any], persons: dict, result: Outcome) -> None:
    month = Month.parse(step["month"])
    rows = await settlements.settle(s, company.id, month, step.get("mode"), kind=step.get("kind"), on=step.get("on"))
    await s.commit()
    stored = (
        await s.scalars(
            select(Settlement)
            .where(Settlement.company_id == company.id, Settlement.month == month, Settlement.status.in_(IN_FORCE))
            .order_by(Settlement.kind_scope)
        )
    ).all()
    assert {r.id for r in rows} <= {r.id for r in stored}
    pairs = (
        await s.execute(
            select(SettlementLine, Settlement)
            .join(
                Settlement,
                (Settlement.agency_id == SettlementLine.agency_id) & (Settlement.id == SettlementLine.settlement_id),
            )
            .where(Settlement.company_id == company.id, Settlement.month == month, Settlement.status.in_(IN_FORCE))
        )
    ).all()
    who_of = {pid: who for who, pid in persons.items()}
    actual: dict[tuple, list[tuple[SettlementLine, Settlement]]] = defaultdict(list)
    for line, row in pairs:
        actual[(who_of.get(line.person_id, str(line.person_id)), str(line.month), line.kind)].append((line, row))
    expected: dict[tuple, dict[str, Any]] = {}
    for exp in step["lines"]:
        key = (exp["who"], exp.get("month", step["month"]), exp["kind"])
        assert key not in expected, f"step[{i}]: the line {key} is listed twice"
        expected[key] = exp
        if exp.get("known_engine_bug"):
            result.marked_lines[(i, *key)] = exp["known_engine_bug"]

    def fmt(line: SettlementLine) -> str:
        return (
            f"base_used={line.base_used} clamp={line.clamp} employer={line.employer_amount} "
            f"employee={line.employee_amount} late_fee={line.late_fee} late_days={line.late_days}"
        )

    for key in sorted(set(expected) - set(actual)):
        result.add(i, f"missing line {key}: expected {expected[key]}", (i, *key))
    for key in sorted(set(actual) - set(expected)):
        for line, _ in actual[key]:
            result.add(i, f"extra line {key}: {fmt(line)}", (i, *key))
    per_kind = region_per_kind(doc["region"])
    for key in sorted(set(actual) & set(expected)):
        found, exp = actual[key], expected[key]
        if len(found) > 1:
            result.add(i, f"line {key} stored {len(found)} times", (i, *key))
        line, row = found[0]
        for diff in _compare_line(line, exp, doc, month):
            result.add(i, f"line {key}: {diff}", (i, *key))
        scope = line.kind if per_kind else ALL_KINDS
        if row.kind_scope != scope:
            result.add(i, f"line {key} is in the {row.kind_scope} settlement, expected {scope}", (i, *key))
        for diff in explain_differences(doc, line, row, exp):
            result.add(i, f"line {key}: {diff}", (i, *key))

    # Totals per kind (summed from the stored lines) and per settlement (as stored).
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for line, _ in pairs:
        t = sums[line.kind]
        t[0], t[1], t[2] = t[0] + line.employer_amount, t[1] + line.employee_amount, t[2] + line.late_fee
    for kind in sorted(set(sums) | set(step["kinds"])):
        want = step["kinds"].get(kind, {})
        want_t = [money(want.get(k, 0)) for k in ("employer", "employee", "late_fee")]
        if want_t != sums.get(kind, [Decimal(0)] * 3):
            result.add(i, f"totals of {kind}: expected {want_t}, got {sums.get(kind)}")
    by_scope = {r.kind_scope: r for r in stored}
    wanted = {x["scope"]: x for x in step["settlement"]}
    if set(by_scope) != set(wanted):
        result.add(i, f"settlements: expected scopes {sorted(wanted)}, got {sorted(by_scope)}")
    for scope in sorted(set(by_scope) & set(wanted)):
        row, want = by_scope[scope], wanted[scope]
        got_t = (row.employer_total, row.employee_total, row.late_fee_total, row.line_count, row.mode)
        want_t = (
            money(want["employer"]),
            money(want["employee"]),
            money(want.get("late_fee", 0)),
            int(want["lines"]),
            want.get("mode", step.get("mode")) or row.mode,
        )
        if got_t != want_t:
            result.add(i, f"settlement {scope}: expected {want_t}, got {got_t}")
        mine = [line for line, r in pairs if r.id == row.id]
        summed = (
            sum((x.employer_amount for x in mine), Decimal(0)),
            sum((x.employee_amount for x in mine), Decimal(0)),
            sum((x.late_fee for x in mine), Decimal(0)),
            len(mine),
        )
        if summed != got_t[:4]:
            result.add(i, f"settlement {scope}: stored totals {got_t[:4]} differ from its lines' sums {summed}")


def region_per_kind(code: str) -> bool:
    return any(m.per_kind for m in registry().get(code).settlement.modes)


async def run_scenario(doc: dict[str, Any], make_agency, session_as, storage) -> Outcome:
    result = Outcome()
    a = await make_agency("golden")
    people: dict[str, str] = {}  # who → ID number
    persons: dict[str, Any] = {}  # who → person id
    async with session_as(a.system) as s:
        c = doc["company"]
        company = await companies.create_company(
            s,
            company_values(doc["region"], industry_class=c["industry_class"], industry_grade=c["industry_grade"]),
        )
        for i, step in enumerate(doc["step"]):  # one transaction, committed at each settlement
            if step.get("known_engine_bug"):
                result.marked_steps[i] = step["known_engine_bug"]
            do = step["do"]
            try:
                if do == "settle":
                    await _settle_step(s, doc, company, i, step, persons, result)
                else:
                    row = await _declare(
                        s, storage, company, DECLARATION_STEPS[do], _values(step, people), step.get("attach", [])
                    )
                    if do == "add":
                        persons[step["who"]] = row.person_id
            except ShebaoError as err:  # nothing was written: the session goes on
                codes = [p.code.value for p in err.problems]
                if step.get("refused") not in codes:
                    result.add(i, f"{do} refused with {codes}: {err}")
                    continue
                problem = next(p for p in err.problems if p.code.value == step["refused"])
                for k, v in step.get("refused_params", {}).items():
                    if str(problem.params.get(k)) != str(v):
                        result.add(i, f"{do} refusal {k}: expected {v!r}, got {problem.params.get(k)!r}")
                continue
            if step.get("refused"):
                result.add(i, f"{do} was accepted, expected the refusal {step['refused']}")
    return result


def judge(result: Outcome) -> None:
    """Fail on an unexplained difference; xfail when every difference is a marked engine bug; fail
    (strict) when a marked case no longer differs."""
    fixed = [f"{k}: {why}" for k, why in result.marked_lines.items() if not any(d.key == k for d in result.differences)]
    fixed += [f"step[{i}]: {why}" for i, why in result.marked_steps.items() if not result.step_differences.get(i)]
    if fixed:
        pytest.fail("marked known_engine_bug but now as expected (remove the mark): " + "; ".join(fixed))
    explained, unexplained = [], []
    for d in result.differences:
        step = int(d.text.split("]", 1)[0].removeprefix("step["))
        if (d.key is not None and d.key in result.marked_lines) or step in result.marked_steps:
            explained.append(d.text)
        elif d.key is None and any(k[0] == step for k in result.marked_lines):
            explained.append(d.text)  # a total that follows from a marked line
        else:
            unexplained.append(d.text)
    if unexplained:
        pytest.fail(f"{len(unexplained)} differences:\n" + "\n".join(unexplained))
    if explained:
        reasons = sorted(set(result.marked_lines.values()) | set(result.marked_steps.values()))
        pytest.xfail("known engine bug: " + " | ".join(reasons) + "\n" + "\n".join(explained))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
async def test_golden_settlement(path, make_agency, session_as, storage, monkeypatch):
    doc = load(path)
    assert format_problems(doc) == []
    today: date = doc["today"]
    monkeypatch.setattr(checks, "_today", lambda: today)  # the back-payment window runs from this day
    judge(await run_scenario(doc, make_agency, session_as, storage))
