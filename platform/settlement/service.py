"""Settle a client company's month by its region's semantics; preview; roll back; record payment.

A mode's precondition decides whether the month may be settled (无变动结算: nothing declared for the
month; 有变动结算 and the others: every declaration of the month approved). A refusal says which
declarations stand in the way. Settling freezes the month: one settlement in force per company and
month (a partial unique index makes ten simultaneous attempts yield one).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.models import ClientCompany
from shebao.platform.companies.service import get_company
from shebao.platform.core.clock import SHANGHAI, utcnow
from shebao.platform.core.month import Month
from shebao.platform.declarations.models import Declaration, DeclarationStatus
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import SettlementMode, SettlePrecondition
from shebao.platform.regions.registry import registry
from shebao.platform.settlement.compute import Bill, compute_bill
from shebao.platform.settlement.models import Settlement, SettlementLine, SettlementStatus
from shebao.platform.tenancy.session import current_actor

ENTITY = "结算 / settlement"
_line_settlement = (Settlement.agency_id == SettlementLine.agency_id) & (Settlement.id == SettlementLine.settlement_id)
IN_FORCE = (SettlementStatus.SETTLED, SettlementStatus.PAID)


def _today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


def _mode(company: ClientCompany, code: str | None) -> SettlementMode:
    region = registry().get(company.region_code)
    modes = region.settlement.modes
    if code is None and len(modes) == 1:
        return modes[0]
    found = region.settlement.mode(code or "")
    if found is None:
        allowed = "、".join(f"{m.code}（{m.label_zh}）" for m in modes)
        raise ShebaoError.of(ErrorCode.UNKNOWN_MODE, "mode", value=code or "-", region=region.name_zh, allowed=allowed)
    return found


async def in_force(session: AsyncSession, company_id: uuid.UUID, month: Month) -> Settlement | None:
    stmt = select(Settlement).where(
        Settlement.company_id == company_id, Settlement.month == month, Settlement.status.in_(IN_FORCE)
    )
    return await session.scalar(stmt)


async def _check_precondition(session: AsyncSession, company: ClientCompany, month: Month, mode: SettlementMode):
    statuses = (
        (DeclarationStatus.DRAFT, DeclarationStatus.SUBMITTED, DeclarationStatus.APPROVED)
        if mode.precondition is SettlePrecondition.NOTHING_DECLARED
        else (DeclarationStatus.DRAFT, DeclarationStatus.SUBMITTED)
    )
    blocking = (
        await session.scalars(
            select(Declaration)
            .where(Declaration.company_id == company.id, Declaration.month == month, Declaration.status.in_(statuses))
            .order_by(Declaration.id)
        )
    ).all()
    if not blocking:
        return
    listed = "、".join(f"{d.kind.value} {d.id_number or ''}（{d.status.label_zh}）" for d in blocking[:10])
    more = f" +{len(blocking) - 10}" if len(blocking) > 10 else ""
    if mode.precondition is SettlePrecondition.NOTHING_DECLARED:
        reason = f"{month} 有 {len(blocking)} 笔申报：{listed}{more}"
        reason_en = f"{len(blocking)} declarations for {month}: {listed}{more}"
    else:
        reason = f"{month} 还有 {len(blocking)} 笔申报未审核通过：{listed}{more}"
        reason_en = f"{len(blocking)} declarations for {month} are not approved yet: {listed}{more}"
    raise ShebaoError.of(
        ErrorCode.SETTLE_NOT_ALLOWED,
        "mode",
        mode=mode.label_zh,
        mode_en=mode.label_en,
        reason=reason,
        reason_en=reason_en,
        declaration_ids=[str(d.id) for d in blocking],
    )


async def preview(session: AsyncSession, company_id: uuid.UUID, month: Month) -> Bill:
    """The bill, exactly as a settlement would store it, without freezing anything."""
    current_actor(session).require(Permission.PERSONS_READ)
    company = await get_company(session, company_id, "companyId")
    return await compute_bill(session, company, month, _today())


async def settle(session: AsyncSession, company_id: uuid.UUID, month: Month, mode: str | None = None) -> Settlement:
    actor = current_actor(session)
    actor.require(Permission.SETTLEMENTS_MANAGE)
    company = await get_company(session, company_id, "companyId")
    chosen = _mode(company, mode)
    if await in_force(session, company.id, month) is not None:
        raise ShebaoError.of(ErrorCode.ALREADY_SETTLED, "month", company=company.name, month=str(month))
    await _check_precondition(session, company, month, chosen)
    bill = await compute_bill(session, company, month, _today())
    row = Settlement(
        company_id=company.id,
        region_code=company.region_code,
        month=month,
        mode=chosen.code,
        status=SettlementStatus.SETTLED,
        employer_total=bill.employer_total,
        employee_total=bill.employee_total,
        late_fee_total=bill.late_fee_total,
        line_count=len(bill.lines),
        settled_by=actor.user_id,
    )
    session.add(row)
    await session.flush()  # the unique index refuses a second settlement in force here
    session.add_all(_lines(row, bill))
    await session.flush()
    await audit.record(
        session, "settlement.settle", "settlement", row.id, after=audit.snapshot(row), company_id=company.id
    )
    return row


def _rate(charge) -> str | None:
    return None if charge.rate is None else format(charge.rate.normalize(), "f")


def _lines(row: Settlement, bill: Bill) -> list[SettlementLine]:
    return [
        SettlementLine(
            settlement_id=row.id,
            company_id=row.company_id,
            person_id=b.person_id,
            enrollment_id=b.enrollment_id,
            declaration_id=b.declaration_id,
            month=b.month,
            kind=b.line.kind.value,
            base_declared=b.line.base_declared,
            base_used=b.line.base_used,
            clamp=b.line.clamp,
            employer_rate=_rate(b.line.employer),
            employer_amount=b.line.employer.amount,
            employee_rate=_rate(b.line.employee),
            employee_amount=b.line.employee.amount,
            late_fee=b.late_fee,
            explanation=b.line.explain() + ([f"late fee: {b.late_days} days → {b.late_fee}"] if b.late_days else []),
        )
        for b in bill.lines
    ]


async def get_settlement(session: AsyncSession, settlement_id: uuid.UUID, field: str = "id") -> Settlement:
    row = await session.scalar(select(Settlement).where(Settlement.id == settlement_id))
    if row is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, field, entity=ENTITY)
    return row


async def rollback(session: AsyncSession, settlement_id: uuid.UUID) -> Settlement:
    """核定回退: while unpaid, where the region's mode allows it; the month opens again."""
    current_actor(session).require(Permission.SETTLEMENTS_MANAGE)
    row = await get_settlement(session, settlement_id)
    region = registry().get(row.region_code)
    mode = region.settlement.mode(row.mode)
    if mode is None or not mode.rollback_while_unpaid:
        allowed = "、".join(m.code for m in region.settlement.modes if m.rollback_while_unpaid) or "-"
        raise ShebaoError.of(
            ErrorCode.ROLLBACK_NOT_ALLOWED, "id", kind=row.mode, region=region.name_zh, allowed=allowed
        )
    if row.status is not SettlementStatus.SETTLED:
        raise ShebaoError.of(ErrorCode.ALREADY_PAID, "id", kind=row.mode)
    before = audit.snapshot(row)
    row.status, row.rolled_back_at = SettlementStatus.ROLLED_BACK, utcnow()
    await session.flush()
    after = audit.snapshot(row)
    await audit.record(
        session, "settlement.rollback", "settlement", row.id, before=before, after=after, company_id=row.company_id
    )
    return row


async def mark_paid(session: AsyncSession, settlement_id: uuid.UUID) -> Settlement:
    current_actor(session).require(Permission.SETTLEMENTS_MANAGE)
    row = await get_settlement(session, settlement_id)
    if row.status is not SettlementStatus.SETTLED:
        raise ShebaoError.of(ErrorCode.ALREADY_PAID, "id", kind=row.mode)
    before = audit.snapshot(row)
    row.status, row.paid_at = SettlementStatus.PAID, utcnow()
    await session.flush()
    after = audit.snapshot(row)
    await audit.record(
        session, "settlement.paid", "settlement", row.id, before=before, after=after, company_id=row.company_id
    )
    return row


async def arrears(session: AsyncSession, company_id: uuid.UUID, person_id: uuid.UUID) -> Decimal:
    """欠缴: what settled, unpaid months bill this person at this company (summed as Decimal, not in SQL,
    where SQLite would sum the text amounts as floats)."""
    stmt = (
        select(SettlementLine.employer_amount, SettlementLine.employee_amount, SettlementLine.late_fee)
        .join(Settlement, _line_settlement)
        .where(
            SettlementLine.company_id == company_id,
            SettlementLine.person_id == person_id,
            Settlement.status == SettlementStatus.SETTLED,
        )
    )
    return sum((sum(row, Decimal("0.00")) for row in await session.execute(stmt)), Decimal("0.00"))


async def is_billed_and_paid(session: AsyncSession, declaration_id: uuid.UUID) -> bool:
    """Whether a back payment's lines sit in a paid settlement (it can no longer be rolled back)."""
    stmt = (
        select(func.count(SettlementLine.id))
        .join(
            Settlement,
            (Settlement.agency_id == SettlementLine.agency_id) & (Settlement.id == SettlementLine.settlement_id),
        )
        .where(SettlementLine.declaration_id == declaration_id, Settlement.status == SettlementStatus.PAID)
    )
    return bool(await session.scalar(stmt))
