"""Settling a chunk of companies: decide for each whether its month may be settled (its region's
mode, what is declared, what is already in force), compute the bills together, and freeze them.

Shared by a single settle and the agency-wide job, so both follow exactly the same rules. A
refusal is an outcome, not an exception, so one company's pending declaration never stops the
others; the caller raises it for a single settle or records it for the job.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.ids import new_id
from shebao.platform.core.month import Month
from shebao.platform.declarations.models import Declaration, DeclarationStatus
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import Region, SettlementMode, SettlePrecondition
from shebao.platform.regions.registry import registry
from shebao.platform.settlement.basis import exemption_of
from shebao.platform.settlement.compute import IN_FORCE, Bill, Cards, compute_bills
from shebao.platform.settlement.models import ALL_KINDS, Settlement, SettlementLine, SettlementStatus
from shebao.platform.tenancy.session import current_actor

BLOCKING_LISTED = 10  # a refusal names this many declarations, then counts the rest


@dataclass
class Planned:
    company: ClientCompany
    mode: SettlementMode | None = None
    scopes: list[str] = field(default_factory=list)  # ALL_KINDS, or the kinds to settle as plans
    refusal: ShebaoError | None = None
    bills: list[Bill] = field(default_factory=list)


def choose_mode(company: ClientCompany, code: str | None) -> SettlementMode:
    return region_mode(registry().get(company.region_code), code)


def region_mode(region: Region, code: str | None) -> SettlementMode:
    """The region's mode ``code``; None is allowed when the region has a single mode."""
    modes = region.settlement.modes
    if code is None and len(modes) == 1:
        return modes[0]
    found = region.settlement.mode(code or "")
    if found is None:
        allowed = "、".join(f"{m.code}（{m.label_zh}）" for m in modes)
        raise ShebaoError.of(
            ErrorCode.UNKNOWN_MODE,
            "mode",
            value=code or "（未选择 / none chosen）",
            region=region.name_zh,
            allowed=allowed,
        )
    return found


def _scopes(company: ClientCompany, mode: SettlementMode, kind: str | None, settled: set[str], month: Month):
    region = registry().get(company.region_code)
    kinds = [k.kind.value for k in region.kinds if not k.yearly]
    if kind is not None and (not mode.per_kind or kind not in kinds):
        allowed = "、".join(kinds) if mode.per_kind else "-"
        raise ShebaoError.of(ErrorCode.SETTLE_KIND_NOT_ALLOWED, "kind", value=kind, mode=mode.label_zh, allowed=allowed)
    wanted = ([kind] if kind else kinds) if mode.per_kind else [ALL_KINDS]
    left = [scope for scope in wanted if scope not in settled and ALL_KINDS not in settled]
    if not left:
        raise ShebaoError.of(ErrorCode.ALREADY_SETTLED, "month", company=company.name, month=str(month))
    return left


def _blocking_error(mode: SettlementMode, month: Month, blocking: list[Declaration]) -> ShebaoError:
    listed = "、".join(f"{d.kind.value} {d.id_number or ''}（{d.status.label_zh}）" for d in blocking[:BLOCKING_LISTED])
    more = f" +{len(blocking) - BLOCKING_LISTED}" if len(blocking) > BLOCKING_LISTED else ""
    if mode.precondition is SettlePrecondition.NOTHING_DECLARED:
        reason = f"{month} 有 {len(blocking)} 笔申报：{listed}{more}"
        reason_en = f"{len(blocking)} declarations for {month}: {listed}{more}"
    else:
        reason = f"{month} 还有 {len(blocking)} 笔申报未审核通过：{listed}{more}"
        reason_en = f"{len(blocking)} declarations for {month} are not approved yet: {listed}{more}"
    return ShebaoError.of(
        ErrorCode.SETTLE_NOT_ALLOWED,
        "mode",
        mode=mode.label_zh,
        mode_en=mode.label_en,
        reason=reason,
        reason_en=reason_en,
        declaration_ids=[str(d.id) for d in blocking],
    )


async def plan(
    session: AsyncSession,
    companies: list[ClientCompany],
    month: Month,
    mode_code: str | None,
    kind: str | None,
    settled_on: date,
    cards: Cards | None = None,
) -> list[Planned]:
    """For each company: a refusal saying why, or its bills (one per scope)."""
    ids = [c.id for c in companies]
    settled: dict[uuid.UUID, set[str]] = defaultdict(set)
    stmt = select(Settlement.company_id, Settlement.kind_scope).where(
        Settlement.company_id.in_(ids), Settlement.month == month, Settlement.status.in_(IN_FORCE)
    )
    for company_id, scope in await session.execute(stmt):
        settled[company_id].add(scope)
    declared: dict[uuid.UUID, list[Declaration]] = defaultdict(list)
    stmt = (
        select(Declaration)
        .where(
            Declaration.company_id.in_(ids),
            Declaration.month == month,
            Declaration.status.in_((DeclarationStatus.DRAFT, DeclarationStatus.SUBMITTED, DeclarationStatus.APPROVED)),
        )
        .order_by(Declaration.id)
    )
    for d in await session.scalars(stmt):
        declared[d.company_id].append(d)

    out: list[Planned] = []
    for company in companies:
        planned = Planned(company)
        out.append(planned)
        try:
            planned.mode = choose_mode(company, mode_code)
            planned.scopes = _scopes(company, planned.mode, kind, settled[company.id], month)
            blocking = [
                d
                for d in declared[company.id]
                if planned.mode.precondition is SettlePrecondition.NOTHING_DECLARED
                or d.status is not DeclarationStatus.APPROVED
            ]
            if blocking:
                raise _blocking_error(planned.mode, month, blocking)
        except ShebaoError as refused:
            planned.refusal = refused
    ready = [p for p in out if p.refusal is None]
    if ready:
        bills = await compute_bills(session, [p.company for p in ready], month, settled_on, cards)
        for p in ready:
            bill = bills[p.company.id]
            if not bill.lines:
                p.refusal = ShebaoError.of(
                    ErrorCode.NOTHING_TO_SETTLE, "month", company=p.company.name, month=str(month)
                )
            elif p.scopes == [ALL_KINDS]:
                p.bills = [bill]
            else:
                p.bills = [b for b in bill.split_by_kind() if b.kind_scope in p.scopes and b.lines]
    return out


def _rate(charge) -> str | None:
    return None if charge.rate is None else format(charge.rate.normalize(), "f")


async def freeze(session: AsyncSession, planned: Planned) -> list[Settlement]:
    """Write one company's planned bills (see :func:`freeze_many`)."""
    [rows] = await freeze_many(session, [planned])
    return rows


async def freeze_many(session: AsyncSession, plans: list[Planned]) -> list[list[Settlement]]:
    """Write the planned bills of a chunk of companies: one settlement per scope, every line in one
    bulk insert, one audit entry per settlement. The partial unique index refuses a second
    settlement in force (IntegrityError at flush). Answers each plan's settlements."""
    actor = current_actor(session)
    out: list[list[Settlement]] = []
    pairs: list[tuple[Settlement, Bill]] = []
    for planned in plans:
        rows = []
        for bill in planned.bills:
            row = Settlement(
                company_id=bill.company.id,
                region_code=bill.company.region_code,
                month=bill.month,
                mode=planned.mode.code,  # type: ignore[union-attr]
                kind_scope=bill.kind_scope,
                status=SettlementStatus.SETTLED,
                employer_total=bill.employer_total,
                employee_total=bill.employee_total,
                late_fee_total=bill.late_fee_total,
                line_count=len(bill.lines),
                settled_by=actor.user_id,
                basis=bill.basis.data,
            )
            session.add(row)
            rows.append(row)
            pairs.append((row, bill))
        out.append(rows)
    await session.flush()
    lines = [
        {
            "agency_id": actor.agency_id,
            "id": new_id(),
            "settlement_id": row.id,
            "company_id": row.company_id,
            "person_id": b.person_id,
            "enrollment_id": b.enrollment_id,
            "declaration_id": b.declaration_id,
            "month": b.month,
            "kind": b.line.kind.value,
            "base_declared": b.line.base_declared,
            "base_used": b.line.base_used,
            "clamp": b.line.clamp,
            "employer_rate": _rate(b.line.employer),
            "employer_amount": b.line.employer.amount,
            "employee_rate": _rate(b.line.employee),
            "employee_amount": b.line.employee.amount,
            "late_fee": b.late_fee,
            "late_days": b.late_days,
            "employer_exempt": exemption_of(b.line, "employer"),
            "employee_exempt": exemption_of(b.line, "employee"),
        }
        for row, bill in pairs
        for b in bill.lines
    ]
    if lines:
        # A Core insert: the ORM's bulk insert leaves out None values, which splits lines with and
        # without a clamp or an exemption into a separate tiny batch each (measured: 3x slower).
        await session.execute(SettlementLine.__table__.insert(), lines)
    for row, _ in pairs:
        snapshot = audit.snapshot(row, exclude=frozenset({"basis"}))
        await audit.record(
            session, "settlement.settle", "settlement", row.id, after=snapshot, company_id=row.company_id
        )
    return out
