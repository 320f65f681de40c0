"""The database facts a declaration is checked against, loaded once for one row or for a whole file.

A single declaration and a 10,000-row batch workbook ask the same questions (is this person insured
elsewhere, ever insured here, in arrears here; is the month settled; is the same change already
pending); :class:`KnownFacts` answers them from a handful of queries for every ID number at once, so
the batch path costs a few queries per thousand rows and both paths share one set of rules.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.month import Month
from shebao.platform.declarations.models import Declaration, DeclarationStatus
from shebao.platform.declarations.values import EFFECTIVE
from shebao.platform.errors import ErrorCode, Problems
from shebao.platform.people.models import Enrollment, Person
from shebao.platform.regions.api import DeclarationFacts, DeclarationKind, OtherEnrollment
from shebao.platform.regions.rules import camel as camel_field
from shebao.platform.settlement.compute import IN_FORCE
from shebao.platform.settlement.models import Settlement, SettlementLine, SettlementStatus

PENDING = (DeclarationStatus.DRAFT, DeclarationStatus.SUBMITTED)
_line_settlement = (Settlement.agency_id == SettlementLine.agency_id) & (Settlement.id == SettlementLine.settlement_id)
CHUNK = 1000  # ids in one IN (...): well under SQLite's and PostgreSQL's parameter limits


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = sorted(set(values), key=str)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


@dataclass
class KnownFacts:
    company: ClientCompany
    today: date
    persons: dict[str, Person] = field(default_factory=dict)  # ID number -> person (any company)
    enrollments: dict[uuid.UUID, list[tuple[Enrollment, ClientCompany]]] = field(default_factory=dict)
    arrears: dict[uuid.UUID, Decimal] = field(default_factory=dict)  # person -> unpaid settled amounts here
    settled: set[Month] = field(default_factory=set)  # months with a settlement in force here
    pending: set[tuple[DeclarationKind, str]] = field(default_factory=set)  # (kind, ID number) drafted or submitted

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        company: ClientCompany,
        id_numbers: Iterable[str | None],
        months: Iterable[Month | None],
        today: date,
    ) -> KnownFacts:
        known = cls(company, today)
        numbers = [n for n in id_numbers if n]
        for chunk in _chunks(numbers):
            stmt = select(Person).where(Person.id_number.in_(chunk)).execution_options(company_scope=False)
            known.persons.update((p.id_number, p) for p in await session.scalars(stmt))
        person_ids = [p.id for p in known.persons.values()]
        for chunk in _chunks(person_ids):
            # Every company of the agency, whatever the operator's scope: "insured elsewhere" must see them.
            stmt = (
                select(Enrollment, ClientCompany)
                .join(
                    ClientCompany,
                    (ClientCompany.agency_id == Enrollment.agency_id) & (ClientCompany.id == Enrollment.company_id),
                )
                .where(Enrollment.person_id.in_(chunk))
                .execution_options(company_scope=False)
            )
            for enrollment, owner in await session.execute(stmt):
                known.enrollments.setdefault(enrollment.person_id, []).append((enrollment, owner))
        arrears: dict[uuid.UUID, Decimal] = defaultdict(lambda: Decimal("0.00"))
        for chunk in _chunks(person_ids):
            # Summed as Decimal here, not in SQL, where SQLite would sum the text amounts as floats.
            stmt = (
                select(
                    SettlementLine.person_id,
                    SettlementLine.employer_amount,
                    SettlementLine.employee_amount,
                    SettlementLine.late_fee,
                )
                .join(Settlement, _line_settlement)
                .where(
                    SettlementLine.company_id == company.id,
                    SettlementLine.person_id.in_(chunk),
                    Settlement.status == SettlementStatus.SETTLED,
                )
            )
            for person_id, *amounts in await session.execute(stmt):
                arrears[person_id] += sum(amounts, Decimal("0.00"))
        known.arrears = dict(arrears)
        wanted = [m for m in months if isinstance(m, Month)]
        for chunk in _chunks(wanted):
            stmt = select(Settlement.month).where(
                Settlement.company_id == company.id, Settlement.month.in_(chunk), Settlement.status.in_(IN_FORCE)
            )
            known.settled.update(await session.scalars(stmt))
        for chunk in _chunks(numbers):
            stmt = select(Declaration.kind, Declaration.id_number).where(
                Declaration.company_id == company.id,
                Declaration.status.in_(PENDING),
                Declaration.id_number.in_(chunk),
            )
            known.pending.update((k, n) for k, n in await session.execute(stmt))
        return known

    def facts(
        self,
        kind: DeclarationKind,
        values: dict[str, Any],
        *,
        target_kind: str | None = None,
        paid: bool = False,
        attachments: frozenset[str] = frozenset(),
    ) -> DeclarationFacts:
        """What the region's rules see for one declaration of this company."""
        person = self.persons.get(values.get("id_number") or "")
        rows = self.enrollments.get(person.id, []) if person is not None else []
        month = values.get(EFFECTIVE.get(kind, ""), None) or Month(self.today.year, self.today.month)
        check_values = dict(values)
        if target_kind is not None:
            check_values["target_kind"] = target_kind
        return DeclarationFacts(
            declaration=kind,
            region_code=self.company.region_code,
            values=check_values,
            today=self.today,
            other_enrollments=tuple(
                OtherEnrollment(c.name, c.region_code, e.start_month)
                for e, c in rows
                if e.company_id != self.company.id and (e.end_month is None or e.end_month >= month)
            ),
            ever_enrolled_here=any(e.company_id == self.company.id for e, _ in rows),
            arrears=self.arrears.get(person.id, Decimal("0.00")) if person is not None else Decimal(0),
            paid=paid,
            attachments=attachments,
        )

    def enrolled_at(self, id_number: str, month: Month) -> bool:
        person = self.persons.get(id_number)
        rows = self.enrollments.get(person.id, []) if person is not None else []
        return any(e.company_id == self.company.id and e.covers(month) for e, _ in rows)

    def state_problems(self, kind: DeclarationKind, values: dict[str, Any], problems: Problems) -> None:
        """What the region's rules cannot see: the enrollment a change needs, a settled month."""
        id_number = values.get("id_number")
        month = values.get(EFFECTIVE.get(kind, ""))
        if kind in (DeclarationKind.STOP, DeclarationKind.BASE_CHANGE) and id_number and isinstance(month, Month):
            if not self.enrolled_at(id_number, month):
                problems.add(ErrorCode.NOT_ENROLLED, "idNumber", month=str(month))
        frozen = kind in (DeclarationKind.ADD, DeclarationKind.STOP, DeclarationKind.BASE_CHANGE)
        if frozen and isinstance(month, Month) and month in self.settled:
            problems.add(ErrorCode.MONTH_SETTLED, camel_field(EFFECTIVE[kind]), month=str(month))

    def is_pending(self, kind: DeclarationKind, id_number: str | None) -> bool:
        return bool(id_number) and (kind, id_number) in self.pending
