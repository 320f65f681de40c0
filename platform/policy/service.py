"""Record and withdraw the agency's own figures; resolve a region's figures with them.

An agency often has the bureau's official notice before a plugin release carries it: it records
the figure here, with its effective month and source, and computation uses it from that month on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth.permissions import Permission
from shebao.platform.core.clock import utcnow
from shebao.platform.core.month import Month
from shebao.platform.core.pagination import Page, PageRequest, paginate
from shebao.platform.errors import ErrorCode, Problems, ShebaoError
from shebao.platform.policy.models import PolicyFigure
from shebao.platform.regions.api import Confidence, Unit, parameter_names, parameter_unit
from shebao.platform.regions.conformance import check_limits
from shebao.platform.regions.datafile import figure_value_problem
from shebao.platform.regions.figures import AgencyFigure, FigureBook
from shebao.platform.regions.registry import registry
from shebao.platform.tenancy.session import current_actor

EARLIEST = Month(2000, 1)
MAX_AHEAD_MONTHS = 24  # a figure announced for the next two years at most


@dataclass(frozen=True)
class NewFigure:
    region_code: str
    name: str
    since: Month
    value: str | Decimal
    source: str
    source_url: str | None = None
    confidence: Confidence = Confidence.OFFICIAL
    note: str | None = None


def _clean(text: str | None) -> str | None:
    return (text or "").strip() or None


def check_value(name: str, raw: str | Decimal, problems: Problems) -> Decimal | None:
    """The value as Decimal if it makes sense for the parameter's unit (the plugin data's rule)."""
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        problems.add(ErrorCode.INVALID_AMOUNT, "value", value=str(raw))
        return None
    unit = parameter_unit(name)
    problem = figure_value_problem(unit, value)
    if problem:
        problems.add(ErrorCode.FIGURE_OUT_OF_RANGE, "value", name=name, value=str(raw), rule=problem, rule_en=problem)
        return None
    # Canonical text: 0.50 → 0.5, and never an exponent (120, not 1.2E+2).
    return value.quantize(Decimal("0.01")) if unit is Unit.YUAN else Decimal(format(value.normalize(), "f"))


async def agency_figures(session: AsyncSession, region_code: str) -> tuple[AgencyFigure, ...]:
    rows = await session.scalars(
        select(PolicyFigure).where(PolicyFigure.region_code == region_code, PolicyFigure.withdrawn_at.is_(None))
    )
    return tuple(_as_agency_figure(r) for r in rows)


def _as_agency_figure(row: PolicyFigure) -> AgencyFigure:
    return AgencyFigure(
        id=row.id,
        name=row.name,
        since=row.since,
        value=Decimal(row.value),
        source=row.source,
        confidence=row.confidence,
        note=row.note or "",
        recorded_on=row.created_at.date() if row.created_at else None,
    )


async def figure_book(session: AsyncSession, region_code: str) -> FigureBook:
    """The region's figures as this agency sees them: national, plugin, then its own."""
    registry().get(region_code)
    return registry().book(region_code, await agency_figures(session, region_code))


async def record_figure(session: AsyncSession, new: NewFigure) -> PolicyFigure:
    actor = current_actor(session)
    actor.require(Permission.POLICY_MANAGE)
    problems = Problems()
    region = problems.check(registry().get, new.region_code, field="regionCode")
    name = (new.name or "").strip()
    unit = parameter_unit(name)
    known = parameter_names([k.kind for k in region.kinds]) if region is not None else parameter_names()
    if unit is None or unit is Unit.MODE or name not in known:
        problems.add(ErrorCode.UNKNOWN_PARAMETER, "name", name=name or "-", allowed=", ".join(known))
        unit = None
    value = check_value(name, new.value, problems) if unit is not None else None
    latest = Month(utcnow().year, utcnow().month).add(MAX_AHEAD_MONTHS)
    if not EARLIEST <= new.since <= latest:
        problems.add(ErrorCode.INVALID_MONTH, "since", value=str(new.since))
    source = _clean(new.source)
    if source is None:
        problems.add(ErrorCode.REQUIRED, "source")
    for field, text, limit in (("source", source, 500), ("sourceUrl", new.source_url, 500), ("note", new.note, 1000)):
        if text and len(text) > limit:
            problems.add(ErrorCode.TOO_LONG, field, max=limit)
    problems.raise_if_any()

    existing = await session.scalar(
        select(PolicyFigure).where(
            PolicyFigure.region_code == new.region_code,
            PolicyFigure.name == name,
            PolicyFigure.since == new.since,
            PolicyFigure.withdrawn_at.is_(None),
        )
    )
    others = tuple(f for f in await agency_figures(session, new.region_code) if existing is None or f.id != existing.id)
    row = PolicyFigure(
        agency_id=actor.agency_id,
        region_code=new.region_code,
        name=name,
        since=new.since,
        value=str(value),
        source=source,
        source_url=_clean(new.source_url),
        confidence=new.confidence,
        note=_clean(new.note),
        recorded_by=actor.user_id,
    )
    _check_consistent(new.region_code, (*others, _as_agency_figure_pending(row, value)))
    if existing is not None:
        await _withdraw(session, existing, f"superseded by a figure recorded on {utcnow().date()}")
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        "policy.record",
        "policy_figure",
        row.id,
        before=audit.snapshot(existing) if existing is not None else None,
        after=audit.snapshot(row),
    )
    return row


def _as_agency_figure_pending(row: PolicyFigure, value: Decimal) -> AgencyFigure:
    return AgencyFigure(uuid.UUID(int=0), row.name, row.since, value, row.source, row.confidence)


def _check_consistent(region_code: str, figures: tuple[AgencyFigure, ...]) -> None:
    """Floor below ceiling in every month, once the new figure is in."""
    problems = Problems()

    def error(where: str, message: str) -> None:
        name = where.removeprefix("figures.")
        problems.add(ErrorCode.FIGURE_OUT_OF_RANGE, "value", name=name, value="-", rule=message, rule_en=message)

    check_limits(registry().book(region_code, figures), error)
    problems.raise_if_any()


async def _withdraw(session: AsyncSession, row: PolicyFigure, reason: str) -> None:
    actor = current_actor(session)
    before = audit.snapshot(row)
    row.withdrawn_at, row.withdrawn_by, row.withdraw_reason = utcnow(), actor.user_id, reason
    await session.flush()
    await audit.record(session, "policy.withdraw", "policy_figure", row.id, before=before, after=audit.snapshot(row))


async def get_figure(session: AsyncSession, figure_id: uuid.UUID) -> PolicyFigure:
    row = await session.scalar(select(PolicyFigure).where(PolicyFigure.id == figure_id))
    if row is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "id", entity="政策参数 / policy figure")
    return row


async def withdraw_figure(session: AsyncSession, figure_id: uuid.UUID, reason: str) -> PolicyFigure:
    current_actor(session).require(Permission.POLICY_MANAGE)
    reason = (reason or "").strip()
    if not reason:
        raise ShebaoError.of(ErrorCode.REQUIRED, "reason")
    if len(reason) > 500:
        raise ShebaoError.of(ErrorCode.TOO_LONG, "reason", max=500)
    row = await get_figure(session, figure_id)
    if row.withdrawn_at is not None:
        raise ShebaoError.of(ErrorCode.ALREADY_WITHDRAWN, "id", at=row.withdrawn_at.date().isoformat())
    remaining = tuple(f for f in await agency_figures(session, row.region_code) if f.id != row.id)
    _check_consistent(row.region_code, remaining)
    await _withdraw(session, row, reason)
    return row


async def list_figures(
    session: AsyncSession,
    page: PageRequest,
    *,
    region_code: str | None = None,
    name: str | None = None,
    include_withdrawn: bool = False,
) -> Page[PolicyFigure]:
    stmt = select(PolicyFigure)
    if region_code:
        stmt = stmt.where(PolicyFigure.region_code == region_code)
    if name:
        stmt = stmt.where(PolicyFigure.name == name)
    if not include_withdrawn:
        stmt = stmt.where(PolicyFigure.withdrawn_at.is_(None))
    return await paginate(session, stmt, PolicyFigure.id, page, newest_first=True)
