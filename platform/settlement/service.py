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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.service import get_company
from shebao.platform.core.clock import today, utcnow
from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.registry import registry
from shebao.platform.settlement.compute import IN_FORCE, Bill, compute_bills
from shebao.platform.settlement.freeze import freeze, plan
from shebao.platform.settlement.models import Settlement, SettlementLine, SettlementStatus
from shebao.platform.tenancy.session import current_actor

ENTITY = "结算 / settlement"
_line_settlement = (Settlement.agency_id == SettlementLine.agency_id) & (Settlement.id == SettlementLine.settlement_id)


async def in_force(session: AsyncSession, company_id: uuid.UUID, month: Month) -> Settlement | None:
    """A settlement in force for the company's month (any scope: one settled plan freezes the month)."""
    stmt = select(Settlement).where(
        Settlement.company_id == company_id, Settlement.month == month, Settlement.status.in_(IN_FORCE)
    )
    return await session.scalar(stmt.limit(1))


async def preview(session: AsyncSession, company_id: uuid.UUID, month: Month, *, on: date | None = None) -> Bill:
    """The bill, exactly as a settlement would store it, without freezing anything (every kind;
    ``on``: the settlement date the late fees run to, today in Shanghai by default)."""
    current_actor(session).require(Permission.PERSONS_READ)
    company = await get_company(session, company_id, "companyId")
    bills = await compute_bills(session, [company], month, on or today())
    return bills[company.id]


async def settle(
    session: AsyncSession,
    company_id: uuid.UUID,
    month: Month,
    mode: str | None = None,
    *,
    kind: str | None = None,
    on: date | None = None,
) -> list[Settlement]:
    """Settle the company's month by its region's mode: one settlement, or one per insurance kind
    where the region settles plans per kind (``kind``: only that plan). Refused with the reason
    (pending declarations, already settled, nothing to bill)."""
    current_actor(session).require(Permission.SETTLEMENTS_MANAGE)
    company = await get_company(session, company_id, "companyId")
    [planned] = await plan(session, [company], month, mode, kind, on or today())
    if planned.refusal is not None:
        raise planned.refusal
    try:
        async with session.begin_nested():
            return await freeze(session, planned)
    except IntegrityError:  # another settlement of the same month won the race
        raise ShebaoError.of(ErrorCode.ALREADY_SETTLED, "month", company=company.name, month=str(month)) from None


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
