"""Checks of a region's data: errors stop start-up; warnings are for the maintainer (``shebao regions check``).

The same checks run at start-up, in ``shebao regions check`` and in the conformance kit
(:mod:`shebao.platform.regions.testing`), so a region maintainer sees in a test what would stop
a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from shebao.platform.core.month import Month
from shebao.platform.errors import ShebaoError
from shebao.platform.regions.api import (
    REGION_CODE,
    TEMPLATE_FIELDS,
    Confidence,
    DocumentKind,
    Region,
)
from shebao.platform.regions.contributions import RateCard
from shebao.platform.regions.figures import FigureBook

STALE_AFTER_DAYS = 400  # a figure nobody checked for more than a year is flagged
_SHAKY = (Confidence.LOW, Confidence.ASSUMPTION, Confidence.NATIONAL_DEFAULT)


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


def check_region(region: Region, national: Region | None, today: date | None = None) -> list[Finding]:
    out: list[Finding] = []

    def error(where: str, message: str) -> None:
        out.append(Finding("error", where, message))

    def warn(where: str, message: str) -> None:
        out.append(Finding("warning", where, message))

    if not REGION_CODE.match(region.code):
        error("region.code", f"{region.code!r} is not a region code (lowercase, 'plugin' or 'plugin.city')")
    if region.unit_number_pattern is not None:
        try:
            re.compile(region.unit_number_pattern)
        except re.error as exc:
            error("region.unit_number_pattern", f"is not a regular expression: {exc}")
    _check_sources(region, national, error)
    _check_lists(region, error)
    _check_forms(region, error, warn)
    if not region.settlement.modes:
        error("settlement.modes", "the region declares no way to settle a month")
    codes = [m.code for m in region.settlement.modes]
    if len(set(codes)) != len(codes):
        error("settlement.modes", f"duplicate mode codes: {codes}")
    if not region.kinds:
        error("kinds", "the region bills no insurance kind")
    book = FigureBook(region, national)
    check_limits(book, error)
    today = today or date.today()
    latest = max((f.since for f in region.figures), default=None)
    if latest is not None and region.kinds:
        now = max(latest, Month(today.year, today.month))
        try:
            card = RateCard(book.at(now))
        except ShebaoError as exc:
            error("figures", f"in {now}: {exc.problems[0].message('en')}")
        else:
            for confidence in _SHAKY:
                names = sorted(f.name for f in card.figures.all() if f.confidence is confidence)
                if names:
                    warn("figures", f"in force in {now} with confidence {confidence.value}: {_short(names)}")
    stale = sorted({f.name for f in region.figures if (today - f.reviewed).days > STALE_AFTER_DAYS})
    if stale:
        warn("figures", f"not reviewed for more than {STALE_AFTER_DAYS} days: {', '.join(stale)}")
    return out


def _short(names: list[str]) -> str:
    """'cutoff.add, cutoff.stop, ...' → 'cutoff.*'."""
    grouped = ("cutoff.", "work_injury.class_rate.")
    keys = {next((g + "*" for g in grouped if name.startswith(g)), name): None for name in names}
    return ", ".join(keys)


def _check_sources(region: Region, national: Region | None, error) -> None:
    known = set(region.sources)
    if national is not None and region.inherit_national:
        known |= set(national.sources)
    seen: set[tuple[str, Month]] = set()
    for f in region.figures:
        if f.source not in known:
            error(f"figures.{f.name}", f"cites the unknown source {f.source!r}")
        if (f.name, f.since) in seen:
            error(f"figures.{f.name}", f"has two values since {f.since}")
        seen.add((f.name, f.since))
    for e in region.exemptions:
        if e.source not in known:
            error(f"exemptions.{e.rule}", f"cites the unknown source {e.source!r}")


def _check_lists(region: Region, error) -> None:
    from shebao.platform.people.models import EmploymentForm, HouseholdType

    fixed = {"household_types": {h.value for h in HouseholdType}, "employment_forms": {e.value for e in EmploymentForm}}
    lists = region.fields.coded_lists
    for name in ("household_types", "employment_forms", "stop_reasons"):
        if name not in lists:
            error(f"coded_lists.{name}", "is missing")
    for name, coded in lists.items():
        codes = coded.codes
        if not codes:
            error(f"coded_lists.{name}", "has no values")
        if len(set(codes)) != len(codes):
            error(f"coded_lists.{name}", f"has duplicate codes: {codes}")
        unknown = set(codes) - fixed.get(name, set(codes))
        if unknown:
            error(f"coded_lists.{name}", f"codes {sorted(unknown)} are not Shebao's: {sorted(fixed[name])}")

    def within(where: str, name: str, values: frozenset[str]) -> None:
        coded = lists.get(name)
        if values and coded is not None and not values <= set(coded.codes):
            error(where, f"{sorted(values - set(coded.codes))} are not in coded_lists.{name}")

    for e in region.exemptions:
        within(f"exemptions.{e.rule}", "employment_forms", e.employment_forms)
        within(f"exemptions.{e.rule}", "household_types", e.household_types)
    for a in region.fields.attachments:
        within(f"attachments.{a.document}", "employment_forms", a.employment_forms)
        within(f"attachments.{a.document}", "household_types", a.household_types)
    for n in region.fields.notices:
        within(f"notices.{n.declaration}", "employment_forms", n.employment_forms)
        within(f"notices.{n.declaration}", "household_types", n.household_types)
    for kind, keys in region.fields.required.items():
        for key in keys:
            if key not in TEMPLATE_FIELDS:
                error(f"required.{kind}", f"{key!r} is not a declaration field: {sorted(TEMPLATE_FIELDS)}")


def _check_forms(region: Region, error, warn) -> None:
    from shebao.platform.regions.rules import CORE_REQUIRED

    seen = set()
    for t in region.templates:
        where = f"templates.{t.declaration}"
        if t.declaration in seen:
            error(where, "appears twice")
        seen.add(t.declaration)
        keys = [c.key for c in t.columns]
        if len(set(keys)) != len(keys):
            error(where, f"has duplicate columns: {keys}")
        for c in t.columns:
            if c.key not in TEMPLATE_FIELDS:
                error(f"{where}.{c.key}", f"is not a declaration field: {sorted(TEMPLATE_FIELDS)}")
            if c.coded is not None and region.coded_list(c.coded) is None:
                error(f"{where}.{c.key}", f"refers to the unknown coded list {c.coded!r}")
        for key in (*CORE_REQUIRED.get(t.declaration, ()), *region.fields.required.get(t.declaration, ())):
            column = next((c for c in t.columns if c.key == key), None)
            if column is None or not column.required:
                error(where, f"needs the required column {key!r}, marked required")
    docs = [d.kind for d in region.documents]
    if len(set(docs)) != len(docs):
        error("documents", f"a document kind appears twice: {docs}")
    if DocumentKind.PAYMENT_NOTICE not in docs:
        warn("documents", "the region issues no payment notice")


def check_limits(book: FigureBook, error) -> None:
    """Floor below ceiling in every month where either changes, for every kind's limits."""
    region = book.region
    limits = [name for name in book.names if "floor" in name or "ceiling" in name]
    months = sorted({f.since for name in limits for f in book.history(name)})
    prefixes = ["base"] + [k.kind.value for k in region.kinds]
    for month in months:
        figures = book.at(month)
        for prefix in prefixes:
            floor = figures.get(f"{prefix}.base_floor" if prefix != "base" else "base.floor")
            ceiling = figures.get(f"{prefix}.base_ceiling" if prefix != "base" else "base.ceiling")
            if prefix != "base":
                floor = floor or figures.get("base.floor")
                ceiling = ceiling or figures.get("base.ceiling")
            if floor is not None and ceiling is not None and floor.value >= ceiling.value:
                message = f"in {month} the floor {floor.value} is not below the ceiling {ceiling.value}"
                error(f"figures.{prefix}", message)
