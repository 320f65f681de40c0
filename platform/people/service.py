"""Insured persons and their enrollments: registration, queries, and the one-unit-at-a-time rule.

Enrollments are normally created and ended by approved declarations (add, stop); :func:`enroll`
is the single place that writes one, and it refuses a person already insured elsewhere.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.models import ClientCompany
from shebao.platform.companies.service import get_company
from shebao.platform.core.identity import check_mobile, check_resident_id
from shebao.platform.core.month import Month
from shebao.platform.core.pagination import Page, PageRequest, paginate
from shebao.platform.declarations.models import EnrollmentBase
from shebao.platform.errors import ErrorCode, Problems, ShebaoError
from shebao.platform.people.models import EmploymentForm, Enrollment, Gender, HouseholdType, Person
from shebao.platform.tenancy.session import current_actor

PERSON = "参保人员 / insured person"
ENROLLMENT = "参保关系 / enrollment"


@dataclass
class PersonFilter:
    name_contains: str | None = None
    id_number: str | None = None
    company_id: uuid.UUID | None = None
    region_code: str | None = None
    insured_in: Month | None = None  # has an enrollment covering this month


@dataclass
class EnrollmentFilter:
    company_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None
    region_code: str | None = None
    active_in: Month | None = None
    household_type: HouseholdType | None = None
    employment_form: EmploymentForm | None = None


async def get_person(session: AsyncSession, person_id: uuid.UUID, field: str = "id") -> Person:
    person = await session.scalar(select(Person).where(Person.id == person_id))
    if person is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, field, entity=PERSON)
    return person


async def get_enrollment(session: AsyncSession, enrollment_id: uuid.UUID) -> Enrollment:
    row = await session.scalar(select(Enrollment).where(Enrollment.id == enrollment_id))
    if row is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "id", entity=ENROLLMENT)
    return row


def _covering(month: Month):
    return (Enrollment.start_month <= month) & (or_(Enrollment.end_month.is_(None), Enrollment.end_month >= month))


async def list_persons(session: AsyncSession, page: PageRequest, f: PersonFilter | None = None) -> Page[Person]:
    current_actor(session).require(Permission.PERSONS_READ)
    f = f or PersonFilter()
    stmt = select(Person)
    if f.name_contains:
        stmt = stmt.where(Person.name.contains(f.name_contains.strip(), autoescape=True))
    if f.id_number:
        stmt = stmt.where(Person.id_number == f.id_number.strip())
    conditions = []
    if f.company_id:
        conditions.append(Enrollment.company_id == f.company_id)
    if f.region_code:
        conditions.append(Enrollment.region_code == f.region_code)
    if f.insured_in:
        conditions.append(_covering(f.insured_in))
    if conditions:
        stmt = stmt.where(exists(select(Enrollment.id).where(Enrollment.person_id == Person.id, *conditions)))
    return await paginate(session, stmt, Person.id, page)


async def list_enrollments(session: AsyncSession, page: PageRequest, f: EnrollmentFilter | None = None) -> Page:
    current_actor(session).require(Permission.PERSONS_READ)
    f = f or EnrollmentFilter()
    stmt = select(Enrollment)
    if f.company_id:
        stmt = stmt.where(Enrollment.company_id == f.company_id)
    if f.person_id:
        stmt = stmt.where(Enrollment.person_id == f.person_id)
    if f.region_code:
        stmt = stmt.where(Enrollment.region_code == f.region_code)
    if f.active_in:
        stmt = stmt.where(_covering(f.active_in))
    if f.household_type:
        stmt = stmt.where(Enrollment.household_type == f.household_type)
    if f.employment_form:
        stmt = stmt.where(Enrollment.employment_form == f.employment_form)
    return await paginate(session, stmt, Enrollment.id, page)


async def register_person(session: AsyncSession, id_number: str, name: str, phone: str | None = None) -> Person:
    """Record a natural person; gender and birth date come from the ID number."""
    actor = current_actor(session)
    actor.require(Permission.PERSONS_WRITE)
    problems = Problems()
    rid = problems.check(check_resident_id, id_number, field="idNumber")
    name = (name or "").strip()
    if not name:
        problems.add(ErrorCode.REQUIRED, "name")
    elif len(name) > 100:
        problems.add(ErrorCode.TOO_LONG, "name", max=100)
    phone = (phone or "").strip() or None
    if phone:
        problems.check(check_mobile, phone, "phone", field="phone")
    if rid and await session.scalar(
        select(Person.id).where(Person.id_number == rid.number).execution_options(company_scope=False)
    ):
        problems.add(ErrorCode.DUPLICATE, "idNumber", value=rid.number)
    problems.raise_if_any()
    person = Person(
        agency_id=actor.agency_id,
        id_number=rid.number,
        name=name,
        phone=phone,
        gender=Gender(rid.gender),
        birth_date=rid.birth_date,
    )
    session.add(person)
    await session.flush()
    await audit.record(session, "person.create", "person", person.id, after=audit.snapshot(person))
    return person


async def update_person(
    session: AsyncSession, person_id: uuid.UUID, *, name: str | None = None, phone: str | None = None
) -> Person:
    """Ordinary corrections (name, phone). The ID number is corrected by declaration, not here."""
    current_actor(session).require(Permission.PERSONS_WRITE)
    person = await get_person(session, person_id)
    problems = Problems()
    changes = {}
    if name is not None:
        name = name.strip()
        if not name:
            problems.add(ErrorCode.REQUIRED, "name")
        elif len(name) > 100:
            problems.add(ErrorCode.TOO_LONG, "name", max=100)
        changes["name"] = name
    if phone is not None:
        phone = phone.strip() or None
        if phone:
            problems.check(check_mobile, phone, "phone", field="phone")
        changes["phone"] = phone
    problems.raise_if_any()
    changes = {k: v for k, v in changes.items() if getattr(person, k) != v}
    if not changes:
        raise ShebaoError.of(ErrorCode.NO_CHANGES)
    before = {k: getattr(person, k) for k in changes}
    for key, value in changes.items():
        setattr(person, key, value)
    await session.flush()
    await audit.record(session, "person.update", "person", person.id, before=before, after=changes)
    return person


def parse_base(value, field: str = "monthlyBase") -> Decimal:
    try:
        # A workbook's amounts arrive as Decimal already: no round trip through a string.
        amount = value if value.__class__ is Decimal else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ShebaoError.of(ErrorCode.INVALID_AMOUNT, field, value=value) from None
    # The size first: quantizing 1e30 to the fen exceeds Decimal's precision (InvalidOperation).
    if not amount.is_finite() or amount <= 0 or amount >= 10**10 or amount != amount.quantize(Decimal("0.01")):
        raise ShebaoError.of(ErrorCode.INVALID_AMOUNT, field, value=value)
    return amount.quantize(Decimal("0.01"))  # 9000 and 9000.00 are the same base: always to the fen


async def active_enrollment_elsewhere(
    session: AsyncSession, person_id: uuid.UUID, start: Month
) -> tuple[Enrollment, ClientCompany] | None:
    """An enrollment of the person that is still open at ``start`` (at any company of the agency)."""
    stmt = (
        select(Enrollment, ClientCompany)
        .join(
            ClientCompany,
            (ClientCompany.agency_id == Enrollment.agency_id) & (ClientCompany.id == Enrollment.company_id),
        )
        .where(Enrollment.person_id == person_id, or_(Enrollment.end_month.is_(None), Enrollment.end_month >= start))
        .execution_options(company_scope=False)  # the rule is agency-wide, whoever is asking
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def enroll(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    company_id: uuid.UUID,
    start_month: Month,
    household_type: HouseholdType,
    employment_form: EmploymentForm,
    monthly_base,
) -> Enrollment:
    actor = current_actor(session)
    actor.require(Permission.PERSONS_WRITE)
    company = await get_company(session, company_id, "companyId")
    person = await session.scalar(select(Person).where(Person.id == person_id).execution_options(company_scope=False))
    if person is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "personId", entity=PERSON)
    base = parse_base(monthly_base)
    clash = await active_enrollment_elsewhere(session, person.id, start_month)
    if clash:
        other, other_company = clash
        raise ShebaoError.of(
            ErrorCode.ALREADY_ENROLLED,
            "personId",
            company=other_company.name,
            start=str(other.start_month),
            company_id=str(other_company.id),
        )
    row = Enrollment(
        agency_id=actor.agency_id,
        person_id=person.id,
        company_id=company.id,
        region_code=company.region_code,
        start_month=start_month,
        household_type=HouseholdType(household_type),
        employment_form=EmploymentForm(employment_form),
        monthly_base=base,
    )
    session.add(row)
    await session.flush()
    session.add(
        EnrollmentBase(
            agency_id=actor.agency_id, enrollment_id=row.id, company_id=company.id, since=start_month, base=base
        )
    )
    await session.flush()
    await audit.record(
        session, "enrollment.create", "enrollment", row.id, after=audit.snapshot(row), company_id=company.id
    )
    return row
