"""Golden cases: data files with inputs and the expected outcome, run against a region.

Two kinds of case live in a plugin's ``golden/*.toml`` (format in ``docs/regions.md``):

- ``[[case]]``: a month, a declared base, a household type, an employment form and the company's
  work-injury class and grade; the expected line per insurance kind, to the cent;
- ``[[rule_case]]``: a declaration and the facts around it; the error codes it must get (``[]``
  when it must be accepted).
"""

from __future__ import annotations

import tomllib
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from shebao.platform.core.month import Month
from shebao.platform.errors import ShebaoError
from shebao.platform.regions.api import (
    Confidence,
    DeclarationFacts,
    DeclarationKind,
    InsuranceKind,
    OtherEnrollment,
)
from shebao.platform.regions.contributions import ContributionInput, RateCard
from shebao.platform.regions.datafile import RegionDataError
from shebao.platform.regions.figures import AgencyFigure
from shebao.platform.regions.registry import RegionRegistry
from shebao.platform.regions.rules import check_declaration

MONTH_FIELDS = {"start_month", "stop_month", "change_month", "from_month", "to_month"}


@dataclass(frozen=True)
class GoldenCase:
    id: str
    kind: str  # "case" or "rule_case"
    file: str
    data: dict[str, Any]

    @property
    def region(self) -> str:
        return self.data["region"]


def load_cases(folder: Path) -> list[GoldenCase]:
    out: list[GoldenCase] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise RegionDataError(str(path), "", f"is not valid TOML: {exc}") from exc
        for kind in ("case", "rule_case"):
            for i, item in enumerate(data.get(kind, [])):
                if "id" not in item or "region" not in item:
                    raise RegionDataError(path.name, f"{kind}[{i}]", "needs an id and a region")
                out.append(GoldenCase(f"{path.stem}:{item['id']}", kind, path.name, item))
    ids = [c.id for c in out]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RegionDataError(str(folder), "", f"duplicate case ids: {sorted(dupes)}")
    return out


def run_case(reg: RegionRegistry, case: GoldenCase) -> list[str]:
    """Run one case; return what differs from the expectation (empty when it passes)."""
    return _run_contribution(reg, case.data) if case.kind == "case" else _run_rule(reg, case.data)


def _policy(data: dict[str, Any]) -> tuple[AgencyFigure, ...]:
    return tuple(
        AgencyFigure(
            id=uuid.uuid5(uuid.NAMESPACE_URL, f"golden:{p['name']}:{p['since']}"),
            name=p["name"],
            since=Month.parse(p["since"]),
            value=Decimal(p["value"]),
            source=p.get("source", "golden case"),
            confidence=Confidence(p.get("confidence", "official")),
        )
        for p in data.get("policy", [])
    )


def _run_contribution(reg: RegionRegistry, data: dict[str, Any]) -> list[str]:
    region = reg.get(data["region"])
    book = reg.book(region.code, _policy(data))
    who = ContributionInput(
        base=Decimal(data["base"]),
        household_type=data["household_type"],
        employment_form=data["employment_form"],
        industry_class=int(data.get("industry_class", 1)),
        industry_grade=int(data.get("industry_grade", 100)),
    )
    try:
        lines = RateCard(book.at(Month.parse(data["month"]))).lines(who)
    except ShebaoError as exc:
        if data.get("expect_error") == exc.code:
            return []
        return [f"failed with {exc.code}: {exc.problems[0].message('en')}"]
    if "expect_error" in data:
        return [f"expected the error {data['expect_error']}, got lines"]
    expect: dict[str, dict[str, Any]] = data.get("expect", {})
    problems = [f"expect.{k}: {region.code} does not bill {k}" for k in expect if region.kind(k) is None]
    expect = {k: v for k, v in expect.items() if region.kind(k) is not None}
    computed = {line.kind.value for line in lines}
    problems += [f"expect.{k}: no line is computed for it (a yearly kind?)" for k in expect if k not in computed]
    for line in lines:
        want = expect.get(line.kind.value)
        got = {"base": line.base_used, "employer": line.employer.amount, "employee": line.employee.amount}
        if want is None:
            if line.total:
                problems.append(f"{line.kind.value}: not expected, got {_fmt(got)}")
            continue
        for key in ("base", "employer", "employee"):
            if key in want and (got[key] is None or Decimal(want[key]) != got[key]):
                problems.append(f"{line.kind.value}.{key}: expected {want[key]}, got {got[key]}")
        exempt = want.get("exempt")
        if exempt is not None:
            sides = {"employer": line.employer.exemption, "employee": line.employee.exemption}
            wanted = {"employer", "employee"} if exempt == "both" else {exempt}
            actual = {side for side, e in sides.items() if e is not None}
            if actual != wanted:
                problems.append(f"{line.kind.value}.exempt: expected {sorted(wanted)}, got {sorted(actual)}")
    return problems


def _fmt(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _run_rule(reg: RegionRegistry, data: dict[str, Any]) -> list[str]:
    region = reg.get(data["region"])
    values = {}
    for key, value in data.get("values", {}).items():
        if key in MONTH_FIELDS:
            value = Month.parse(str(value))
        elif key == "monthly_base":
            value = Decimal(value)
        values[key] = value
    facts = DeclarationFacts(
        declaration=DeclarationKind(data["declaration"]),
        region_code=region.code,
        values=values,
        today=data.get("today", date(2026, 11, 23)),
        other_enrollments=tuple(
            OtherEnrollment(o["company_name"], o["region_code"], Month.parse(o["since"]))
            for o in data.get("other_enrollments", [])
        ),
        ever_enrolled_here=bool(data.get("ever_enrolled_here", False)),
        arrears=Decimal(data.get("arrears", 0)),
        attachments=frozenset(data.get("attachments", [])),
        paid=bool(data.get("paid", False)),
    )
    outcome = check_declaration(reg.book(region.code, _policy(data)), facts, reg.plugin_rules)
    got = sorted(str(p.code) for p in outcome.problems)
    want = sorted(data.get("expect", []))
    problems = []
    if got != want:
        detail = "; ".join(f"{p.code}@{p.field}: {p.message('en')}" for p in outcome.problems)
        problems.append(f"expected {want}, got {got} ({detail or 'accepted'})")
    if "expect_notices" in data and len(outcome.notices) != int(data["expect_notices"]):
        problems.append(f"expected {data['expect_notices']} notices, got {len(outcome.notices)}")
    return problems


def kinds_covered(cases: list[GoldenCase]) -> set[InsuranceKind]:
    return {InsuranceKind(k) for c in cases if c.kind == "case" for k in c.data.get("expect", {})}
