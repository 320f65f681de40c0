"""What a declaration is checked against: the region's rules, fed with facts from the database.

The facts (other enrollments, earlier enrollments here, arrears, attachments, whether a target is
paid) are gathered here; :func:`shebao.platform.regions.rules.check_declaration` stays pure.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.clock import SHANGHAI, utcnow
from shebao.platform.core.month import Month
from shebao.platform.declarations.attachments import attachments_of
from shebao.platform.declarations.facts import KnownFacts
from shebao.platform.declarations.models import Declaration, DeclarationStatus
from shebao.platform.declarations.values import EFFECTIVE
from shebao.platform.errors import ErrorCode, Problems
from shebao.platform.people.models import Enrollment, Person
from shebao.platform.policy.service import figure_book
from shebao.platform.regions.api import DeclarationFacts, DeclarationKind
from shebao.platform.regions.figures import FigureBook
from shebao.platform.regions.registry import registry
from shebao.platform.regions.rules import check_declaration
from shebao.platform.settlement import service as settlements


def _today():
    return utcnow().astimezone(SHANGHAI).date()


async def person_by_id_number(session: AsyncSession, id_number: str | None) -> Person | None:
    if not id_number:
        return None
    stmt = select(Person).where(Person.id_number == id_number).execution_options(company_scope=False)
    return await session.scalar(stmt)


async def _known(session: AsyncSession, company: ClientCompany, kind: DeclarationKind, values: dict[str, Any]):
    month = values.get(EFFECTIVE.get(kind, ""))
    return await KnownFacts.load(session, company, [values.get("id_number")], [month], _today())


async def _facts(
    known: KnownFacts,
    session: AsyncSession,
    kind: DeclarationKind,
    values: dict[str, Any],
    target=None,
    declaration_id: uuid.UUID | None = None,
) -> DeclarationFacts:
    return known.facts(
        kind,
        values,
        target_kind=target.kind.value if target is not None else None,
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
    """Run the region's rules; raise every problem at once; return the notices for the operator."""
    known = await _known(session, company, kind, values)
    facts = await _facts(known, session, kind, values, target, row.id if row is not None else None)
    notices, problems = judge(known, await figure_book(session, company.region_code), facts, target, submitting)
    problems.raise_if_any()
    return notices


def judge(
    known: KnownFacts, book: FigureBook, facts: DeclarationFacts, target=None, submitting: bool = False
) -> tuple[list[dict[str, str]], Problems]:
    """The region's rules and the state checks on one declaration: its notices and its problems.

    A missing attachment does not stop a draft (the file is uploaded to the draft): it is a notice
    until the declaration is submitted.
    """
    outcome = check_declaration(book, facts, registry().plugin_rules)
    problems = Problems()
    notices = [{"zh": n.text_zh, "en": n.text_en} for n in outcome.notices]
    for p in outcome.problems:
        if p.code == ErrorCode.ATTACHMENT_REQUIRED and not submitting:
            notices.append(
                {"zh": f"提交前请附上{p.params['label']}", "en": f"Attach before submitting: {p.params['label_en']}"}
            )
        else:
            problems.items.append(p)
    _check_state(known, facts.declaration, facts.values, target, problems)
    return notices, problems


def _check_state(known: KnownFacts, kind, values, target, problems: Problems) -> None:
    """What the region's rules cannot see: the enrollment a change needs, a settled month, a target."""
    known.state_problems(kind, values, problems)
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
