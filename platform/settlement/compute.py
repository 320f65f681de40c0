"""The bill of one client company for one month: the roster's lines and the back payments' lines.

The roster is every enrollment covering the month, at the base in force that month (its base
history). Approved back payments not yet billed add lines for each month they cover, with that
month's figures, plus the late fee from that month's due date to the settlement date.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.month import Month
from shebao.platform.declarations.models import Declaration, DeclarationStatus, EnrollmentBase
from shebao.platform.people.models import Enrollment
from shebao.platform.policy.service import figure_book
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.regions.contributions import ContributionInput, ContributionLine, RateCard
from shebao.platform.settlement.models import Settlement, SettlementLine, SettlementStatus

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class BillLine:
    person_id: uuid.UUID
    enrollment_id: uuid.UUID | None
    declaration_id: uuid.UUID | None
    month: Month
    line: ContributionLine
    late_fee: Decimal = ZERO
    late_days: int = 0


@dataclass
class Bill:
    company: ClientCompany
    month: Month
    settled_on: date
    lines: list[BillLine] = field(default_factory=list)

    @property
    def employer_total(self) -> Decimal:
        return sum((b.line.employer.amount for b in self.lines), ZERO)

    @property
    def employee_total(self) -> Decimal:
        return sum((b.line.employee.amount for b in self.lines), ZERO)

    @property
    def late_fee_total(self) -> Decimal:
        return sum((b.late_fee for b in self.lines), ZERO)

    def totals_by_kind(self) -> dict[str, tuple[Decimal, Decimal]]:
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for b in self.lines:
            employer, employee = out.get(b.line.kind.value, (ZERO, ZERO))
            out[b.line.kind.value] = (employer + b.line.employer.amount, employee + b.line.employee.amount)
        return out


def _covering(month: Month):
    return (Enrollment.start_month <= month) & or_(Enrollment.end_month.is_(None), Enrollment.end_month >= month)


async def _bases(session: AsyncSession, enrollment_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[EnrollmentBase]]:
    out: dict[uuid.UUID, list[EnrollmentBase]] = {}
    if not enrollment_ids:
        return out
    stmt = select(EnrollmentBase).where(EnrollmentBase.enrollment_id.in_(enrollment_ids)).order_by(EnrollmentBase.since)
    for row in await session.scalars(stmt):
        out.setdefault(row.enrollment_id, []).append(row)
    return out


def _base_at(enrollment: Enrollment, history: list[EnrollmentBase], month: Month) -> Decimal:
    base = enrollment.monthly_base
    for row in history:  # sorted by since
        if row.since <= month:
            base = row.base
    return base


async def compute_bill(session: AsyncSession, company: ClientCompany, month: Month, settled_on: date) -> Bill:
    book = await figure_book(session, company.region_code)
    bill = Bill(company, month, settled_on)
    card = RateCard(book.at(month))
    roster = list(
        (
            await session.scalars(
                select(Enrollment).where(Enrollment.company_id == company.id, _covering(month)).order_by(Enrollment.id)
            )
        ).all()
    )
    history = await _bases(session, [e.id for e in roster])
    for e in roster:
        who = ContributionInput(
            _base_at(e, history.get(e.id, []), month),
            e.household_type.value,
            e.employment_form.value,
            company.industry_class,
            company.industry_grade,
        )
        bill.lines += [BillLine(e.person_id, e.id, None, month, line) for line in card.lines(who) if line.total]
    await _back_payments(session, company, bill, book)
    return bill


async def _back_payments(session: AsyncSession, company: ClientCompany, bill: Bill, book) -> None:
    billed = (
        select(SettlementLine.declaration_id)
        .join(
            Settlement,
            (Settlement.agency_id == SettlementLine.agency_id) & (Settlement.id == SettlementLine.settlement_id),
        )
        .where(SettlementLine.declaration_id.is_not(None), Settlement.status != SettlementStatus.ROLLED_BACK)
    )
    pending = (
        await session.scalars(
            select(Declaration)
            .where(
                Declaration.company_id == company.id,
                Declaration.kind == DeclarationKind.BACK_PAYMENT,
                Declaration.status == DeclarationStatus.APPROVED,
                Declaration.id.not_in(billed),
            )
            .order_by(Declaration.id)
        )
    ).all()
    for d in pending:
        enrollment = await session.scalar(
            select(Enrollment)
            .where(Enrollment.company_id == company.id, Enrollment.person_id == d.person_id)
            .order_by(Enrollment.start_month.desc())
        )
        household = enrollment.household_type.value if enrollment else "local_urban"
        form = enrollment.employment_form.value if enrollment else "contract"
        month = d.month
        while month <= d.to_month:
            figures = book.at(month)
            card = RateCard(figures)
            who = ContributionInput(d.monthly_base, household, form, company.industry_class, company.industry_grade)
            due_day = int(figures.number("payment.due_day") or 25)
            due = date(month.year, month.month, min(due_day, calendar.monthrange(month.year, month.month)[1]))
            days = max((bill.settled_on - due).days, 0)
            rate = figures.number("late_fee.daily_rate") or Decimal(0)
            for line in card.lines(who):
                if not line.total:
                    continue
                fee = card.rounding.apply(line.total * rate / Decimal(100) * days)
                bill.lines.append(
                    BillLine(d.person_id, enrollment.id if enrollment else None, d.id, month, line, fee, days)
                )
            month = month.add(1)
