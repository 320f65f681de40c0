"""What a declaration is checked against: the region's rules, fed with facts from the database.

The facts (other enrollments, earlier enrollments here, arrears, attachments, whether a target is
paid) are gathered here; :func:`shebao.platform.regions.rules.check_declaration` stays pure.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.clock import SHANGHAI, utcnow
from shebao.platform.core.month import Month
from shebao.platform.declarations.attachments import attachments_of
from shebao.platform.declarations.models import Declaration, DeclarationStatus
from shebao.platform.declarations.values import EFFECTIVE
from shebao.platform.errors import ErrorCode, Problems
from shebao.platform.people.models import Enrollment, Person
from shebao.platform.policy.service import figure_book
from shebao.platform.regions.api import DeclarationFacts, DeclarationKind, OtherEnrollment
from shebao.platform.regions.registry import registry
from shebao.platform.regions.rules import camel as camel_field
from shebao.platform.regions.rules import check_declaration
from shebao.platform.settlement import service as settlements

_same_company = (ClientCompany.agency_id == Enrollment.agency_id) & (ClientCompany.id == Enrollment.company_id)


def _today():
    return utcnow().astimezone(SHANGHAI).date()


async def person_by_id_number(session: AsyncSession, id_number: str | None) -> Person | None:
    if not id_number:
        return None
    stmt = select(Person).where(Person.id_number == id_number).execution_options(company_scope=False)
    return await session.scalar(stmt)


async def _facts(
    session: AsyncSession,
    company: ClientCompany,
    kind: DeclarationKind,
    values: dict[str, Any],
    target=None,
    declaration_id: uuid.UUID | None = None,
) -> DeclarationFacts:
    person = await person_by_id_number(session, values.get("id_number"))
    others: tuple[OtherEnrollment, ...] = ()
    ever_here = False
    if person is not None:
        month = values.get(EFFECTIVE.get(kind, ""), None) or Month(_today().year, _today().month)
        rows = (
            await session.execute(
                select(Enrollment, ClientCompany)
                .join(
                    ClientCompany,
                    (ClientCompany.agency_id == Enrollment.agency_id) & (ClientCompany.id == Enrollment.company_id),
                )
                .where(Enrollment.person_id == person.id)
                .execution_options(company_scope=False)
            )
        ).all()
        ever_here = any(e.company_id == company.id for e, _ in rows)
        others = tuple(
            OtherEnrollment(c.name, c.region_code, e.start_month)
            for e, c in rows
            if e.company_id != company.id and (e.end_month is None or e.end_month >= month)
        )
    check_values = dict(values)
    if target is not None:
        check_values["target_kind"] = target.kind.value
    return DeclarationFacts(
        declaration=kind,
        region_code=company.region_code,
        values=check_values,
        today=_today(),
        other_enrollments=others,
        ever_enrolled_here=ever_here,
        arrears=await settlements.arrears(session, company.id, person.id) if person is not None else Decimal(0),
        paid=await settlements.is_billed_and_paid(session, target.id) if target is not None else False,
        attachments=frozenset(
            a.document for a in (await attachments_of(session, declaration_id) if declaration_id else ())
        ),
    )


async def check(
    session: AsyncSession,
    company: ClientCompany,
    kind: DeclarationKind,
    values: dict[str, Any],
    target=None,
    row: Declaration | None = None,
    submitting: bool = False,
) -> list[dict[str, str]]:
    """Run the region's rules; raise every problem at once; return the notices for the operator.

    A missing attachment does not stop a draft (the file is uploaded to the draft): it is a notice
    until the declaration is submitted.
    """
    facts = await _facts(session, company, kind, values, target, row.id if row is not None else None)
    outcome = check_declaration(await figure_book(session, company.region_code), facts, registry().plugin_rules)
    problems = Problems()
    notices = [{"zh": n.text_zh, "en": n.text_en} for n in outcome.notices]
    for p in outcome.problems:
        if p.code == ErrorCode.ATTACHMENT_REQUIRED and not submitting:
            notices.append(
                {"zh": f"提交前请附上{p.params['label']}", "en": f"Attach before submitting: {p.params['label_en']}"}
            )
        else:
            problems.items.append(p)
    await _check_state(session, company, kind, values, target, problems)
    problems.raise_if_any()
    return notices


async def _check_state(session, company, kind, values, target, problems: Problems) -> None:
    """What the region's rules cannot see: the enrollment a change needs, a pending duplicate."""
    id_number = values.get("id_number")
    if kind in (DeclarationKind.STOP, DeclarationKind.BASE_CHANGE) and id_number:
        month = values.get(EFFECTIVE[kind])
        if isinstance(month, Month) and await enrollment_at(session, company.id, id_number, month) is None:
            problems.add(ErrorCode.NOT_ENROLLED, "idNumber", month=str(month))
    month = values.get(EFFECTIVE.get(kind, ""))
    if kind in (DeclarationKind.ADD, DeclarationKind.STOP, DeclarationKind.BASE_CHANGE) and isinstance(month, Month):
        if await settlements.in_force(session, company.id, month) is not None:
            problems.add(ErrorCode.MONTH_SETTLED, camel_field(EFFECTIVE[kind]), month=str(month))
    if kind is DeclarationKind.ROLLBACK and target is not None and target.status is not DeclarationStatus.APPROVED:
        problems.add(ErrorCode.NOT_SUBMITTED, "targetId", status=target.status.label_zh)


async def enrollment_at(session, company_id: uuid.UUID, id_number: str, month: Month) -> Enrollment | None:
    stmt = (
        select(Enrollment)
        .join(Person, (Person.agency_id == Enrollment.agency_id) & (Person.id == Enrollment.person_id))
        .where(
            Enrollment.company_id == company_id,
            Person.id_number == id_number,
            Enrollment.start_month <= month,
            or_(Enrollment.end_month.is_(None), Enrollment.end_month >= month),
        )
    )
    return await session.scalar(stmt)
