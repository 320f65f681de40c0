"""Settlements (结算 / 核定 / 征集计划): a client company's month, computed once and frozen.

A settlement holds one line per person, insurance kind and month billed (the settlement's month,
or a month a back payment covers). The figures it used are frozen once per settlement in ``basis``
(each month's floor, ceiling, rates and rounding with their sources); a line keeps its own numbers
and which exemption applied, so it explains itself long after the figures change, and a month of a
hundred thousand lines does not store the same citation a hundred thousand times.

At most one settlement per company, month and scope is in force (rolled-back ones stay for the
record). The scope is ``all`` kinds, or one insurance kind where the region settles a plan per kind
(Leshan's 征集计划).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shebao.platform.core.month import Month
from shebao.platform.db.base import Base, TenantOwned, Timestamps, str_enum
from shebao.platform.db.types import Money, MonthType

ALL_KINDS = "all"


class SettlementStatus(enum.StrEnum):
    SETTLED = "settled"  # 已结算 (billed, unpaid)
    PAID = "paid"  # 已缴费
    ROLLED_BACK = "rolled_back"  # 已回退 (Guiyang 核定回退, while unpaid)


class Settlement(TenantOwned, Timestamps, Base):
    __tablename__ = "settlements"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "company_id"], ["client_companies.agency_id", "client_companies.id"]),
        ForeignKeyConstraint(["agency_id", "settled_by"], ["users.agency_id", "users.id"]),
        Index(
            "uq_settlements_in_force",
            "agency_id",
            "company_id",
            "month",
            "kind_scope",
            unique=True,
            sqlite_where=text("status != 'rolled_back'"),
            postgresql_where=text("status != 'rolled_back'"),
        ),
    )
    __company_scope__ = "company_id"

    company_id: Mapped[uuid.UUID]
    region_code: Mapped[str] = mapped_column(String(40))
    month: Mapped[Month] = mapped_column(MonthType())
    mode: Mapped[str] = mapped_column(String(32))  # the region's settlement mode code
    kind_scope: Mapped[str] = mapped_column(String(32), default=ALL_KINDS)  # or one insurance kind
    status: Mapped[SettlementStatus] = mapped_column(str_enum(SettlementStatus, 16), default=SettlementStatus.SETTLED)
    employer_total: Mapped[Decimal] = mapped_column(Money())
    employee_total: Mapped[Decimal] = mapped_column(Money())
    late_fee_total: Mapped[Decimal] = mapped_column(Money())
    line_count: Mapped[int]
    settled_by: Mapped[uuid.UUID | None]
    paid_at: Mapped[datetime | None]
    rolled_back_at: Mapped[datetime | None]
    basis: Mapped[dict[str, Any]] = mapped_column(JSON)  # the figures used, see settlement.basis
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def total(self) -> Decimal:
        return self.employer_total + self.employee_total + self.late_fee_total


class SettlementLine(TenantOwned, Base):
    __tablename__ = "settlement_lines"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "settlement_id"], ["settlements.agency_id", "settlements.id"]),
        ForeignKeyConstraint(["agency_id", "company_id"], ["client_companies.agency_id", "client_companies.id"]),
        ForeignKeyConstraint(["agency_id", "person_id"], ["persons.agency_id", "persons.id"]),
        ForeignKeyConstraint(["agency_id", "declaration_id"], ["declarations.agency_id", "declarations.id"]),
        Index("ix_settlement_lines_settlement", "agency_id", "settlement_id"),
        Index("ix_settlement_lines_person", "agency_id", "person_id"),
    )
    __company_scope__ = "company_id"

    settlement_id: Mapped[uuid.UUID]
    company_id: Mapped[uuid.UUID]
    person_id: Mapped[uuid.UUID]
    enrollment_id: Mapped[uuid.UUID | None]
    declaration_id: Mapped[uuid.UUID | None]  # the back payment this line bills
    month: Mapped[Month] = mapped_column(MonthType())  # the month billed
    kind: Mapped[str] = mapped_column(String(32))
    base_declared: Mapped[Decimal] = mapped_column(Money())
    base_used: Mapped[Decimal | None] = mapped_column(Money())
    clamp: Mapped[str | None] = mapped_column(String(8))
    employer_rate: Mapped[str | None] = mapped_column(String(16))  # percent, exact text
    employer_amount: Mapped[Decimal] = mapped_column(Money())
    employee_rate: Mapped[str | None] = mapped_column(String(16))
    employee_amount: Mapped[Decimal] = mapped_column(Money())
    late_fee: Mapped[Decimal] = mapped_column(Money())
    late_days: Mapped[int] = mapped_column(default=0)
    employer_exempt: Mapped[str | None] = mapped_column(String(64))  # the exemption rule, if any
    employee_exempt: Mapped[str | None] = mapped_column(String(64))
