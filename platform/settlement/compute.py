"""The bills of client companies for one month: the roster's lines and the back payments' lines.

The roster is every enrollment covering the month, at the base in force that month (its base
history). Approved back payments not yet billed add lines for each month they cover, with that
month's figures, plus the late fee from that month's due date to the settlement date.

Bills are computed for a chunk of companies at once: one query per kind of fact for the whole
chunk, never one per company or per person, so an agency-wide run costs a few queries per chunk.
"""

from __future__ import annotations

import calendar
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.month import Month
from shebao.platform.declarations.models import Declaration, DeclarationStatus, EnrollmentBase
from shebao.platform.people.models import Enrollment
from shebao.platform.policy.service import figure_book
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.regions.contributions import ContributionInput, ContributionLine, RateCard
from shebao.platform.regions.figures import FigureBook
from shebao.platform.settlement.basis import BasisRecorder
from shebao.platform.settlement.models import ALL_KINDS, Settlement, SettlementLine, SettlementStatus

ZERO = Decimal("0.00")
IN_FORCE = (SettlementStatus.SETTLED, SettlementStatus.PAID)


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
    kind_scope: str = ALL_KINDS
    lines: list[BillLine] = field(default_factory=list)
    basis: BasisRecorder = field(default_factory=BasisRecorder)

    @property
    def employer_total(self) -> Decimal:
        return sum((b.line.employer.amount for b in self.lines), ZERO)

    @property
    def employee_total(self) -> Decimal:
        return sum((b.line.employee.amount for b in self.lines), ZERO)

    @property
    def late_fee_total(self) -> Decimal:
        return sum((b.late_fee for b in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.employer_total + self.employee_total + self.late_fee_total

    def totals_by_kind(self) -> dict[str, tuple[Decimal, Decimal]]:
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for b in self.lines:
            employer, employee = out.get(b.line.kind.value, (ZERO, ZERO))
            out[b.line.kind.value] = (employer + b.line.employer.amount, employee + b.line.employee.amount)
        return out

    def split_by_kind(self) -> list[Bill]:
        """One bill per insurance kind (a region's per-kind plans), in the region's kind order."""
        kinds = [k.kind.value for k in self.basis.region_kinds] or sorted({b.line.kind.value for b in self.lines})
        out = []
        for kind in kinds:
            part = Bill(self.company, self.month, self.settled_on, kind, basis=self.basis)
            part.lines = [b for b in self.lines if b.line.kind.value == kind]
            out.append(part)
        return out


class Cards:
    """Rate cards per region and month, resolved once per run; lines memoized per input (people at
    the same base, household type and employment form get the same lines)."""

    def __init__(self) -> None:
        self._books: dict[str, FigureBook] = {}
        self._cards: dict[tuple[str, Month], RateCard] = {}
        self._lines: dict[tuple, list[ContributionLine]] = {}

    async def book(self, session: AsyncSession, region_code: str) -> FigureBook:
        if region_code not in self._books:
            self._books[region_code] = await figure_book(session, region_code)
        return self._books[region_code]

    def card(self, book: FigureBook, month: Month) -> RateCard:
        key = (book.region.code, month)
        if key not in self._cards:
            self._cards[key] = RateCard(book.at(month))
        return self._cards[key]

    def lines(self, card: RateCard, who: ContributionInput) -> list[ContributionLine]:
        key = (card.figures.region.code, card.month, who)
        found = self._lines.get(key)
        if found is None:
            if len(self._lines) > 10_000:  # bounded: memory stays flat however large the agency
                self._lines.clear()
            found = self._lines[key] = [line for line in card.lines(who) if line.total]
        return found


def _covering(month: Month):
    return (Enrollment.start_month <= month) & or_(Enrollment.end_month.is_(None), Enrollment.end_month >= month)


def _base_at(enrollment: Enrollment, history: list[EnrollmentBase], month: Month) -> Decimal:
    base = enrollment.monthly_base
    for row in history:  # sorted by since
        if row.since <= month:
            base = row.base
    return base


async def compute_bills(
    session: AsyncSession,
    companies: list[ClientCompany],
    month: Month,
    settled_on: date,
    cards: Cards | None = None,
) -> dict[uuid.UUID, Bill]:
    """The bill of each company for ``month`` (every kind), from a few queries for the chunk."""
    cards = cards or Cards()
    bills = {c.id: Bill(c, month, settled_on) for c in companies}
    ids = list(bills)
    roster = (
        await session.scalars(
            select(Enrollment)
            .where(Enrollment.company_id.in_(ids), _covering(month))
            .order_by(Enrollment.company_id, Enrollment.id)
        )
    ).all()
    history: dict[uuid.UUID, list[EnrollmentBase]] = defaultdict(list)
    bases = (
        select(EnrollmentBase)
        .join(
            Enrollment,
            and_(Enrollment.agency_id == EnrollmentBase.agency_id, Enrollment.id == EnrollmentBase.enrollment_id),
        )
        .where(Enrollment.company_id.in_(ids), _covering(month), EnrollmentBase.since <= month)
        .order_by(EnrollmentBase.since)
    )
    for row in await session.scalars(bases):
        history[row.enrollment_id].append(row)
    for company in companies:
        book = await cards.book(session, company.region_code)
        bills[company.id].basis.start(book.region, company)
    for e in roster:
        bill = bills[e.company_id]
        company = bill.company
        card = cards.card(await cards.book(session, company.region_code), month)
        bill.basis.record_card(card)
        who = ContributionInput(
            _base_at(e, history.get(e.id, []), month),
            e.household_type.value,
            e.employment_form.value,
            company.industry_class,
            company.industry_grade,
        )
        for line in cards.lines(card, who):
            bill.basis.record_line(month, line)
            bill.lines.append(BillLine(e.person_id, e.id, None, month, line))
    await _back_payments(session, bills, cards)
    return bills


async def _back_payments(session: AsyncSession, bills: dict[uuid.UUID, Bill], cards: Cards) -> None:
    billed = (
        select(SettlementLine.declaration_id, SettlementLine.kind)
        .join(
            Settlement,
            (Settlement.agency_id == SettlementLine.agency_id) & (Settlement.id == SettlementLine.settlement_id),
        )
        .where(
            SettlementLine.company_id.in_(list(bills)),
            SettlementLine.declaration_id.is_not(None),
            Settlement.status.in_(IN_FORCE),
        )
    )
    pending = (
        await session.scalars(
            select(Declaration)
            .where(
                Declaration.company_id.in_(list(bills)),
                Declaration.kind == DeclarationKind.BACK_PAYMENT,
                Declaration.status == DeclarationStatus.APPROVED,
            )
            .order_by(Declaration.company_id, Declaration.id)
        )
    ).all()
    if not pending:
        return
    done = {(d, k) for d, k in await session.execute(billed)}
    people = {d.person_id for d in pending}
    enrollments: dict[tuple[uuid.UUID, uuid.UUID], Enrollment] = {}
    stmt = (
        select(Enrollment)
        .where(Enrollment.company_id.in_(list(bills)), Enrollment.person_id.in_(people))
        .order_by(Enrollment.start_month)
    )
    for e in await session.scalars(stmt):
        enrollments[(e.company_id, e.person_id)] = e  # the latest enrollment wins
    for d in pending:
        bill = bills[d.company_id]
        company = bill.company
        enrollment = enrollments.get((d.company_id, d.person_id))
        household = enrollment.household_type.value if enrollment else "local_urban"
        form = enrollment.employment_form.value if enrollment else "contract"
        book = await cards.book(session, company.region_code)
        month = d.month
        while month <= d.to_month:
            card = cards.card(book, month)
            bill.basis.record_card(card)
            figures = card.figures
            who = ContributionInput(d.monthly_base, household, form, company.industry_class, company.industry_grade)
            due_day = int(figures.number("payment.due_day") or 25)
            due = date(month.year, month.month, min(due_day, calendar.monthrange(month.year, month.month)[1]))
            days = max((bill.settled_on - due).days, 0)
            rate = figures.number("late_fee.daily_rate") or Decimal(0)
            bill.basis.record_late_fee(month, figures, due)
            for line in cards.lines(card, who):
                if (d.id, line.kind.value) in done or not line.total:
                    continue
                bill.basis.record_line(month, line)
                fee = card.rounding.apply(line.total * rate / Decimal(100) * days)
                bill.lines.append(
                    BillLine(d.person_id, enrollment.id if enrollment else None, d.id, month, line, fee, days)
                )
            month = month.add(1)
