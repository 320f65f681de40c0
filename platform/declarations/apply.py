"""What an approved declaration changes: the enrollment's start, stop and base history, the person.

A stop's month is the first month no longer insured (减员年月): the enrollment's last paid month is
the month before. A base change writes the base from its month on; a back payment changes nothing
here (settlement bills it for the months it covers); a rollback marks its target rolled back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.companies.models import ClientCompany
from shebao.platform.declarations.models import Declaration, DeclarationStatus, EnrollmentBase
from shebao.platform.declarations.values import loaded
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.people.models import EmploymentForm, Enrollment, HouseholdType, Person
from shebao.platform.people.service import active_enrollment_elsewhere, register_person
from shebao.platform.regions.api import DeclarationKind


async def apply_declaration(session: AsyncSession, row: Declaration, company: ClientCompany) -> None:
    values = loaded(row.values)
    kind = row.kind
    if kind is DeclarationKind.ADD:
        await _add(session, row, company, values)
    elif kind is DeclarationKind.STOP:
        enrollment = await _enrollment(session, row, company, values["stop_month"])
        if values["stop_month"] <= enrollment.start_month:
            raise ShebaoError.of(ErrorCode.MONTH_ORDER, "stopMonth", start=str(enrollment.start_month), end="")
        before = audit.snapshot(enrollment)
        enrollment.end_month = values["stop_month"].add(-1)
        await _record(session, enrollment, before, company)
    elif kind is DeclarationKind.BASE_CHANGE:
        enrollment = await _enrollment(session, row, company, values["change_month"])
        await _set_base(session, enrollment, row, values["change_month"], values["monthly_base"])
    elif kind in (DeclarationKind.CORRECTION, DeclarationKind.SENSITIVE_CORRECTION):
        person = await _person(session, row)
        before = audit.snapshot(person)
        for key in ("phone", "name"):
            if key in values:
                setattr(person, key, values[key])
        await session.flush()
        await audit.record(session, "person.update", "person", person.id, before=before, after=audit.snapshot(person))
    elif kind is DeclarationKind.ROLLBACK:
        target = await session.get(Declaration, (row.agency_id, row.target_id))
        if target is None or target.status is not DeclarationStatus.APPROVED:
            raise ShebaoError.of(ErrorCode.NOT_SUBMITTED, "targetId", status=target.status.label_zh if target else "-")
        target.status = DeclarationStatus.ROLLED_BACK
        await session.flush()


async def _add(session, row: Declaration, company: ClientCompany, values) -> None:
    person = await _person(session, row, must_exist=False)
    if person is None:
        person = await register_person(session, values["id_number"], values["name"], values.get("phone"))
    # Checked at submission too; checked again here, where it counts (another add may have won since).
    clash = await active_enrollment_elsewhere(session, person.id, values["start_month"])
    if clash:
        other, other_company = clash
        raise ShebaoError.of(
            ErrorCode.INSURED_ELSEWHERE,
            "idNumber",
            company=other_company.name,
            region=other_company.region_code,
            since=str(other.start_month),
        )
    enrollment = Enrollment(
        person_id=person.id,
        company_id=company.id,
        region_code=company.region_code,
        start_month=values["start_month"],
        household_type=HouseholdType(values["household_type"]),
        employment_form=EmploymentForm(values["employment_form"]),
        monthly_base=values["monthly_base"],
    )
    session.add(enrollment)
    await session.flush()
    row.person_id, row.enrollment_id = person.id, enrollment.id
    session.add(
        EnrollmentBase(
            enrollment_id=enrollment.id,
            company_id=company.id,
            since=enrollment.start_month,
            base=enrollment.monthly_base,
            declaration_id=row.id,
        )
    )
    await session.flush()
    await audit.record(
        session,
        "enrollment.create",
        "enrollment",
        enrollment.id,
        after=audit.snapshot(enrollment),
        company_id=company.id,
    )


async def _person(session, row: Declaration, must_exist: bool = True) -> Person | None:
    stmt = select(Person).where(Person.id_number == row.id_number).execution_options(company_scope=False)
    person = await session.scalar(stmt)
    if person is None and must_exist:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "idNumber", entity="参保人员 / person")
    return person


async def _enrollment(session, row: Declaration, company: ClientCompany, month) -> Enrollment:
    from shebao.platform.declarations.checks import enrollment_at

    enrollment = await enrollment_at(session, company.id, row.id_number, month)
    if enrollment is None:
        raise ShebaoError.of(ErrorCode.NOT_ENROLLED, "idNumber", month=str(month))
    row.person_id, row.enrollment_id = enrollment.person_id, enrollment.id
    return enrollment


async def _set_base(session, enrollment: Enrollment, row: Declaration, since, base) -> None:
    existing = await session.scalar(
        select(EnrollmentBase).where(EnrollmentBase.enrollment_id == enrollment.id, EnrollmentBase.since == since)
    )
    if existing is not None:
        existing.base, existing.declaration_id = base, row.id
    else:
        session.add(
            EnrollmentBase(
                enrollment_id=enrollment.id,
                company_id=enrollment.company_id,
                since=since,
                base=base,
                declaration_id=row.id,
            )
        )
    latest = await session.scalar(
        select(EnrollmentBase.since)
        .where(EnrollmentBase.enrollment_id == enrollment.id)
        .order_by(EnrollmentBase.since.desc())
    )
    before = audit.snapshot(enrollment)
    if latest is None or since >= latest:
        enrollment.monthly_base = base  # the enrollment shows its latest declared base
    await session.flush()
    await _record(session, enrollment, before, enrollment.company_id)


async def _record(session, enrollment: Enrollment, before, company) -> None:
    await session.flush()
    company_id = company if not isinstance(company, ClientCompany) else company.id
    await audit.record(
        session,
        "enrollment.update",
        "enrollment",
        enrollment.id,
        before=before,
        after=audit.snapshot(enrollment),
        company_id=company_id,
    )
