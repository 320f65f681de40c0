"""Declare, edit, submit, review: the daily work of an operator, checked by the region's rules.

Every create, edit and submit gathers the facts the region's rules look at (other enrollments,
earlier enrollments here, attachments) and runs :func:`shebao.platform.regions.rules.check_declaration`;
approval applies the change (:mod:`shebao.platform.declarations.apply`). Adapters commit.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.models import ClientCompany
from shebao.platform.companies.service import get_company
from shebao.platform.core.clock import utcnow
from shebao.platform.core.ids import new_id
from shebao.platform.core.month import Month
from shebao.platform.core.pagination import Page, PageRequest, paginate
from shebao.platform.declarations import checks
from shebao.platform.declarations.apply import apply_declaration
from shebao.platform.declarations.models import Declaration, DeclarationStatus
from shebao.platform.declarations.values import EFFECTIVE, loaded, parse_values, stored
from shebao.platform.errors import ErrorCode, Problems, ShebaoError
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.regions.registry import registry
from shebao.platform.tenancy.session import current_actor

ENTITY = "申报 / declaration"
PENDING = (DeclarationStatus.DRAFT, DeclarationStatus.SUBMITTED)


def _hash(company_id: uuid.UUID, kind: DeclarationKind, values: dict[str, Any]) -> str:
    body = json.dumps([str(company_id), kind.value, {k: str(v) for k, v in sorted(values.items())}], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


async def get_declaration(session: AsyncSession, declaration_id: uuid.UUID, field: str = "id") -> Declaration:
    # A SELECT, not session.get(): the tenant and company-scope criteria apply to statements.
    row = await session.scalar(select(Declaration).where(Declaration.id == declaration_id))
    if row is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, field, entity=ENTITY)
    return row


async def _target(session, values: dict[str, Any]) -> Declaration | None:
    if not values.get("target_id"):
        return None
    try:
        target_id = uuid.UUID(values["target_id"])
    except ValueError:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "targetId", entity=ENTITY) from None
    return await get_declaration(session, target_id, "targetId")


def _fill(row: Declaration, kind: DeclarationKind, values: dict[str, Any], target: Declaration | None) -> None:
    row.values = stored(values)
    row.id_number = values.get("id_number") or (target.id_number if target is not None else None)
    row.person_id = target.person_id if target is not None else None
    row.month = values.get(EFFECTIVE.get(kind, "")) or (target.month if target is not None else None)
    row.to_month = values.get("to_month")
    row.monthly_base = values.get("monthly_base")


async def create_declaration(
    session: AsyncSession,
    company_id: uuid.UUID,
    kind: DeclarationKind,
    raw: dict[str, Any],
    idempotency_key: str | None = None,
) -> Declaration:
    """A draft declaration, checked. The same idempotency key answers the first declaration again."""
    actor = current_actor(session)
    actor.require(Permission.DECLARATIONS_WRITE)
    kind = DeclarationKind(kind)
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > 100:
        raise ShebaoError.of(ErrorCode.TOO_LONG, "idempotencyKey", max=100)
    company = await get_company(session, company_id, "companyId")
    problems = Problems()
    values = parse_values(kind, raw, problems)
    problems.raise_if_any()
    earlier = await _answered(session, key, company, kind, values)
    if earlier is not None:
        return earlier
    target = await _target(session, values)
    notices = await checks.check(session, company, kind, values, target)
    try:
        await _refuse_pending_duplicate(session, company.id, kind, values)
    except ShebaoError:
        # The same request retried on another process at the same moment: the winner's row may have
        # been committed between our look-up by key and this check. Answer it, as for any retry.
        if (earlier := await _answered(session, key, company, kind, values)) is not None:
            return earlier
        raise
    row = draft_row(company, kind, values, notices, key, actor.user_id, target)
    person = await checks.person_by_id_number(session, row.id_number)
    row.person_id = row.person_id or (person.id if person is not None else None)
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Both copies passed every check; the unique key let one in. This one answers it.
        if (earlier := await _answered(session, key, company, kind, values)) is not None:
            return earlier
        raise
    await _log(session, "create", row, None)
    return row


async def _answered(session, key: str | None, company, kind, values) -> Declaration | None:
    """The declaration made earlier with this idempotency key (the same request, or a refusal)."""
    if key is None:
        return None
    earlier = await session.scalar(select(Declaration).where(Declaration.idempotency_key == key))
    if earlier is not None and earlier.request_hash != _hash(company.id, kind, values):
        raise ShebaoError.of(ErrorCode.IDEMPOTENCY_MISMATCH, "idempotencyKey", key=key)
    return earlier


def draft_row(
    company: ClientCompany,
    kind: DeclarationKind,
    values: dict[str, Any],
    notices: list[dict[str, str]],
    key: str | None,
    created_by: uuid.UUID | None,
    target: Declaration | None = None,
) -> Declaration:
    """A checked draft, not yet added (a batch import adds thousands at once)."""
    row = Declaration(
        company_id=company.id,
        region_code=company.region_code,
        kind=kind,
        status=DeclarationStatus.DRAFT,
        target_id=target.id if target is not None else None,
        notices=notices,
        idempotency_key=key,
        request_hash=_hash(company.id, kind, values),
        created_by=created_by,
    )
    _fill(row, kind, values, target)
    return row


async def add_drafts(session: AsyncSession, rows: list[Declaration]) -> list[uuid.UUID]:
    """Write many checked drafts (from :func:`draft_row`) and their audit entries in two
    executemany statements: a 10,000-row import must not go through the ORM's unit of work row by
    row. The rows are not attached to the session; their ids are returned."""
    actor, now = current_actor(session), utcnow()
    columns = [c.key for c in Declaration.__table__.columns]
    values = []
    for row in rows:
        row.agency_id, row.id, row.created_at, row.updated_at, row.version = actor.agency_id, new_id(), now, now, 1
        values.append({key: getattr(row, key) for key in columns})
    if values:
        await session.execute(Declaration.__table__.insert(), values)
    entries = [(v["id"], v, v["company_id"]) for v in values]
    await audit.record_many(session, "declaration.create", "declaration", entries)
    return [v["id"] for v in values]


async def _log(session, action: str, row: Declaration, before: dict | None) -> None:
    after = audit.snapshot(row)
    await audit.record(
        session, f"declaration.{action}", "declaration", row.id, before=before, after=after, company_id=row.company_id
    )


async def _refuse_pending_duplicate(session, company_id, kind, values, except_id=None) -> None:
    if not values.get("id_number"):
        return
    stmt = select(func.count(Declaration.id)).where(
        Declaration.company_id == company_id,
        Declaration.kind == kind,
        Declaration.id_number == values["id_number"],
        Declaration.status.in_(PENDING),
    )
    if except_id is not None:
        stmt = stmt.where(Declaration.id != except_id)
    if await session.scalar(stmt):
        raise ShebaoError.of(ErrorCode.DUPLICATE, "idNumber", value=values["id_number"])


async def update_draft(
    session: AsyncSession, declaration_id: uuid.UUID, raw: dict[str, Any], expected_version: int | None = None
) -> Declaration:
    current_actor(session).require(Permission.DECLARATIONS_WRITE)
    row = await _draft(session, declaration_id, expected_version)
    company = await get_company(session, row.company_id, "companyId")
    problems = Problems()
    values = {**loaded(row.values), **parse_values(row.kind, raw, problems)}
    problems.raise_if_any()
    target = await _target(session, values)
    notices = await checks.check(session, company, row.kind, values, target, row)
    await _refuse_pending_duplicate(session, company.id, row.kind, values, except_id=row.id)
    before = audit.snapshot(row)
    _fill(row, row.kind, values, target)
    row.notices = notices
    await session.flush()
    await _log(session, "update", row, before)
    return row


async def _draft(session, declaration_id: uuid.UUID, expected_version: int | None = None) -> Declaration:
    row = await get_declaration(session, declaration_id)
    if expected_version is not None and row.version != expected_version:
        raise ShebaoError.of(ErrorCode.CONFLICT, "expectedVersion")
    if row.status is not DeclarationStatus.DRAFT:
        raise ShebaoError.of(ErrorCode.NOT_DRAFT, "id", status=row.status.label_zh)
    return row


async def delete_draft(session: AsyncSession, declaration_id: uuid.UUID) -> uuid.UUID:
    current_actor(session).require(Permission.DECLARATIONS_WRITE)
    row = await _draft(session, declaration_id)
    before = audit.snapshot(row)
    await session.delete(row)
    await session.flush()
    await audit.record(session, "declaration.delete", "declaration", row.id, before=before, company_id=row.company_id)
    return row.id


@dataclass(frozen=True)
class Outcome:
    """One declaration of a bulk action: what became of it, or why not."""

    id: uuid.UUID
    declaration: Declaration | None
    error: ShebaoError | None


async def _each(session: AsyncSession, ids: list[uuid.UUID], action) -> list[Outcome]:
    """Run ``action`` on each id in its own savepoint: one refusal leaves the others done."""
    out = []
    for declaration_id in ids:
        try:
            async with session.begin_nested():
                out.append(Outcome(declaration_id, await action(declaration_id), None))
        except ShebaoError as err:
            out.append(Outcome(declaration_id, None, err))
    return out


async def submit(session: AsyncSession, ids: list[uuid.UUID]) -> list[Outcome]:
    """申报业务提交: drafts to review, checked again; kinds the region exempts are approved at once."""
    current_actor(session).require(Permission.DECLARATIONS_WRITE)
    return await _each(session, ids, lambda i: _submit_one(session, i))


async def submit_pending(session: AsyncSession, company_ids: list[uuid.UUID] | None = None) -> list[Outcome]:
    """Every draft of these companies (all in the operator's scope when None)."""
    current_actor(session).require(Permission.DECLARATIONS_WRITE)
    for company_id in company_ids or ():
        await get_company(session, company_id, "companyIds")
    stmt = select(Declaration.id).where(Declaration.status == DeclarationStatus.DRAFT).order_by(Declaration.id)
    if company_ids:
        stmt = stmt.where(Declaration.company_id.in_(company_ids))
    return await submit(session, list((await session.scalars(stmt)).all()))


async def _submit_one(session: AsyncSession, declaration_id: uuid.UUID) -> Declaration:
    row = await _draft(session, declaration_id)
    company = await get_company(session, row.company_id, "companyId")
    target = await get_declaration(session, row.target_id) if row.target_id else None
    row.notices = await checks.check(session, company, row.kind, loaded(row.values), target, row, submitting=True)
    before = audit.snapshot(row)
    row.status, row.submitted_at = DeclarationStatus.SUBMITTED, utcnow()
    review = row.kind in registry().get(company.region_code).settlement.review_required
    await session.flush()
    await _log(session, "submit", row, before)
    if not review:  # the region approves this kind on submission
        await _approve(session, row, company, reviewer=None)
    return row


async def approve(session: AsyncSession, ids: list[uuid.UUID]) -> list[Outcome]:
    current_actor(session).require(Permission.DECLARATIONS_REVIEW)
    return await _each(session, ids, lambda i: _review_one(session, i, approve=True))


async def reject(session: AsyncSession, ids: list[uuid.UUID], reason: str) -> list[Outcome]:
    current_actor(session).require(Permission.DECLARATIONS_REVIEW)
    reason = (reason or "").strip()
    if not reason:
        raise ShebaoError.of(ErrorCode.REQUIRED, "reason")
    if len(reason) > 500:
        raise ShebaoError.of(ErrorCode.TOO_LONG, "reason", max=500)
    return await _each(session, ids, lambda i: _review_one(session, i, approve=False, reason=reason))


async def _review_one(session, declaration_id: uuid.UUID, *, approve: bool, reason: str | None = None) -> Declaration:
    actor = current_actor(session)
    row = await get_declaration(session, declaration_id)
    if row.status is not DeclarationStatus.SUBMITTED:
        raise ShebaoError.of(ErrorCode.NOT_SUBMITTED, "id", status=row.status.label_zh)
    company = await get_company(session, row.company_id, "companyId")
    if approve:
        await _approve(session, row, company, reviewer=actor.user_id)
        return row
    before = audit.snapshot(row)
    row.status, row.reviewed_by, row.reviewed_at, row.reject_reason = (
        DeclarationStatus.REJECTED,
        actor.user_id,
        utcnow(),
        reason,
    )
    await session.flush()
    await _log(session, "reject", row, before)
    return row


async def _approve(session, row: Declaration, company: ClientCompany, reviewer: uuid.UUID | None) -> None:
    before = audit.snapshot(row)
    await apply_declaration(session, row, company)
    row.status, row.reviewed_by, row.reviewed_at = DeclarationStatus.APPROVED, reviewer, utcnow()
    await session.flush()  # the version column makes a concurrent second approval fail here
    await _log(session, "approve", row, before)


@dataclass(frozen=True)
class DeclarationFilter:
    company_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None
    id_number: str | None = None
    month: Month | None = None
    kind: DeclarationKind | None = None
    status: DeclarationStatus | None = None


async def list_declarations(
    session: AsyncSession, page: PageRequest, f: DeclarationFilter | None = None
) -> Page[Declaration]:
    f = f or DeclarationFilter()
    stmt = select(Declaration)
    for column, value in (
        (Declaration.company_id, f.company_id),
        (Declaration.person_id, f.person_id),
        (Declaration.id_number, f.id_number),
        (Declaration.month, f.month),
        (Declaration.kind, f.kind),
        (Declaration.status, f.status),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, Declaration.id, page)


MAX_BATCH_ROWS = 500  # larger files go through the batch workbooks, as a job


async def create_base_changes(
    session: AsyncSession,
    company_id: uuid.UUID,
    change_month: Month,
    rows: list[dict[str, Any]],
    idempotency_key: str | None = None,
) -> list[Declaration]:
    """The yearly base declaration: one base change per row, all drafted or none; problems by row."""
    if not rows:
        raise ShebaoError.of(ErrorCode.REQUIRED, "rows")
    if len(rows) > MAX_BATCH_ROWS:
        raise ShebaoError.of(ErrorCode.TOO_LONG, "rows", max=MAX_BATCH_ROWS)
    problems = Problems()
    out = []
    for i, row in enumerate(rows):
        key = f"{idempotency_key}#{i}" if idempotency_key else None
        values = {
            "id_number": row.get("id_number"),
            "monthly_base": row.get("monthly_base"),
            "change_month": change_month,
        }
        try:
            async with session.begin_nested():
                out.append(await create_declaration(session, company_id, DeclarationKind.BASE_CHANGE, values, key))
        except ShebaoError as err:
            problems.extend(err, prefix=f"rows.{i}")
    problems.raise_if_any()
    return out
