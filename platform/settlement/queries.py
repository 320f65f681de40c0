"""Reading settlements back: lists with filters, a settlement's lines page by page, and each line's
explanation from the settlement's frozen basis."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.auth.permissions import Permission
from shebao.platform.core.month import Month
from shebao.platform.core.pagination import Page, PageRequest, paginate
from shebao.platform.settlement.models import Settlement, SettlementLine, SettlementStatus
from shebao.platform.settlement.service import get_settlement
from shebao.platform.tenancy.session import current_actor


@dataclass(frozen=True)
class SettlementFilter:
    company_id: uuid.UUID | None = None
    region_code: str | None = None
    month: Month | None = None
    status: SettlementStatus | None = None
    kind_scope: str | None = None


async def list_settlements(
    session: AsyncSession, page: PageRequest, f: SettlementFilter | None = None
) -> Page[Settlement]:
    current_actor(session).require(Permission.PERSONS_READ)
    f = f or SettlementFilter()
    stmt = select(Settlement)
    for column, value in (
        (Settlement.company_id, f.company_id),
        (Settlement.region_code, f.region_code),
        (Settlement.month, f.month),
        (Settlement.status, f.status),
        (Settlement.kind_scope, f.kind_scope),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, Settlement.id, page, newest_first=True)


@dataclass(frozen=True)
class LineFilter:
    person_id: uuid.UUID | None = None
    kind: str | None = None
    month: Month | None = None  # the month billed (a back payment's lines bill earlier months)


async def list_lines(
    session: AsyncSession, settlement_id: uuid.UUID, page: PageRequest, f: LineFilter | None = None
) -> tuple[Settlement, Page[SettlementLine]]:
    """The settlement (its basis explains the lines) and one page of its lines."""
    current_actor(session).require(Permission.PERSONS_READ)
    settlement = await get_settlement(session, settlement_id, "settlementId")
    f = f or LineFilter()
    stmt = select(SettlementLine).where(SettlementLine.settlement_id == settlement.id)
    for column, value in (
        (SettlementLine.person_id, f.person_id),
        (SettlementLine.kind, f.kind),
        (SettlementLine.month, f.month),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return settlement, await paginate(session, stmt, SettlementLine.id, page)
