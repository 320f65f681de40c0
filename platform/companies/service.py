"""Client companies: create, update (ordinary at once, sensitive through review), query."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth.models import UserCompanyScope
from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.models import ChangeStatus, ClientCompany, CompanyChangeRequest
from shebao.platform.companies.validation import (
    ORDINARY_FIELDS,
    REQUIRED_FIELDS,
    SENSITIVE_FIELDS,
    camel,
    check_company_fields,
    clean,
)
from shebao.platform.core.clock import utcnow
from shebao.platform.core.pagination import Page, PageRequest, paginate
from shebao.platform.errors import ErrorCode, Problems, ShebaoError
from shebao.platform.regions.registry import registry
from shebao.platform.tenancy.filters import bind_actor
from shebao.platform.tenancy.session import current_actor

COMPANY = "参保单位 / client company"
CHANGE_REQUEST = "变更申请 / change request"


@dataclass
class CompanyFilter:
    region_code: str | None = None
    name_contains: str | None = None
    credit_code: str | None = None


@dataclass(frozen=True)
class CompanyUpdate:
    company: ClientCompany
    applied: dict[str, Any]  # ordinary fields changed at once
    change_request: CompanyChangeRequest | None  # sensitive fields waiting for review


async def get_company(session: AsyncSession, company_id: uuid.UUID, field: str = "id") -> ClientCompany:
    """The company, if it is the actor's agency's and in the actor's scope: NOT_FOUND otherwise."""
    company = await session.scalar(select(ClientCompany).where(ClientCompany.id == company_id))
    if company is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, field, entity=COMPANY)
    return company


async def find_company(session: AsyncSession, ref: str, region_code: str | None = None) -> ClientCompany:
    """A company by its id, credit code (统一社会信用代码) or unit number (单位社保编号), as an
    operator types it on a command line; NOT_FOUND when none or several match."""
    ref = ref.strip()
    try:
        return await get_company(session, uuid.UUID(ref), "company")
    except ValueError:
        pass
    stmt = select(ClientCompany).where((ClientCompany.credit_code == ref.upper()) | (ClientCompany.unit_number == ref))
    if region_code is not None:
        stmt = stmt.where(ClientCompany.region_code == region_code)
    found = (await session.scalars(stmt.limit(2))).all()
    if len(found) != 1:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "company", entity=COMPANY)
    return found[0]


async def list_companies(session: AsyncSession, page: PageRequest, filters: CompanyFilter | None = None) -> Page:
    current_actor(session).require(Permission.COMPANIES_READ)
    stmt = select(ClientCompany)
    f = filters or CompanyFilter()
    if f.region_code:
        stmt = stmt.where(ClientCompany.region_code == f.region_code)
    if f.name_contains:
        stmt = stmt.where(ClientCompany.name.contains(f.name_contains.strip(), autoescape=True))
    if f.credit_code:
        stmt = stmt.where(ClientCompany.credit_code == f.credit_code.strip())
    return await paginate(session, stmt, ClientCompany.id, page)


async def create_company(session: AsyncSession, values: dict[str, Any]) -> ClientCompany:
    actor = current_actor(session)
    actor.require(Permission.COMPANIES_WRITE)
    values = clean(values)
    values.setdefault("industry_class", 1)
    values.setdefault("industry_grade", 100)
    problems = Problems()
    for key in REQUIRED_FIELDS:
        if not values.get(key):
            problems.add(ErrorCode.REQUIRED, camel(key))
    region_code = values.get("region_code")
    if region_code:
        problems.check(registry().get, region_code, field="regionCode")
    check_company_fields(values, region_code, problems)
    if not problems and await _credit_code_taken(session, region_code, values["credit_code"]):
        problems.add(ErrorCode.DUPLICATE, "creditCode", value=values["credit_code"])
    problems.raise_if_any()
    company = ClientCompany(agency_id=actor.agency_id, **values)
    session.add(company)
    await session.flush()
    if actor.company_ids is not None and actor.user_id is not None:
        # An operator limited to some companies keeps access to the one they created: from now on,
        # and in this session too (the actor bound to it is a snapshot taken at authentication).
        session.add(UserCompanyScope(agency_id=actor.agency_id, user_id=actor.user_id, company_id=company.id))
        await bind_actor(session, replace(actor, company_ids=actor.company_ids | {company.id}))
    await audit.record(
        session, "company.create", "company", company.id, after=audit.snapshot(company), company_id=company.id
    )
    return company


async def _credit_code_taken(
    session: AsyncSession, region_code: str, credit_code: str, except_id: uuid.UUID | None = None
) -> bool:
    # Bypasses the operator's company scope on purpose: uniqueness is agency-wide.
    stmt = (
        select(func.count())
        .select_from(ClientCompany)
        .where(ClientCompany.region_code == region_code, ClientCompany.credit_code == credit_code)
    )
    if except_id:
        stmt = stmt.where(ClientCompany.id != except_id)
    return bool(await session.scalar(stmt.execution_options(company_scope=False)))


async def update_company(
    session: AsyncSession, company_id: uuid.UUID, changes: dict[str, Any], expected_version: int | None = None
) -> CompanyUpdate:
    """Apply ordinary changes at once; record sensitive ones as a change request for review."""
    actor = current_actor(session)
    actor.require(Permission.COMPANIES_WRITE)
    company = await get_company(session, company_id)
    if expected_version is not None and expected_version != company.version:
        raise ShebaoError.of(ErrorCode.CONFLICT, "version")
    changes = clean(changes)
    unknown = set(changes) - set(ORDINARY_FIELDS) - set(SENSITIVE_FIELDS)
    if unknown:
        raise ShebaoError.of(
            ErrorCode.INVALID_VALUE,
            camel(sorted(unknown)[0]),
            value=sorted(unknown)[0],
            allowed="ordinary or sensitive company fields",
        )
    changed = {k: v for k, v in changes.items() if getattr(company, k) != v}
    if not changed:
        raise ShebaoError.of(ErrorCode.NO_CHANGES)
    problems = Problems()
    for key in ("name", "credit_code", "legal_rep_name"):
        if key in changed and not changed[key]:
            problems.add(ErrorCode.REQUIRED, camel(key))
    checked = dict(changed)
    if "industry_class" in checked or "industry_grade" in checked:
        checked.setdefault("industry_class", company.industry_class)
        checked.setdefault("industry_grade", company.industry_grade)
    check_company_fields(checked, company.region_code, problems)
    sensitive = {k: v for k, v in changed.items() if k in SENSITIVE_FIELDS}
    if sensitive and actor.user_id is None:
        # A change request names the user who asked (and who may not review it); a system actor
        # (CLI, job) has none, so it cannot ask for a sensitive change.
        problems.add(ErrorCode.PERMISSION_DENIED, camel(sorted(sensitive)[0]), permission="a user account")
    elif sensitive:
        pending = await session.scalar(
            select(CompanyChangeRequest.id).where(
                CompanyChangeRequest.company_id == company.id, CompanyChangeRequest.status == ChangeStatus.PENDING
            )
        )
        if pending:
            problems.add(ErrorCode.CHANGE_PENDING, camel(sorted(sensitive)[0]))
    if (
        sensitive.get("credit_code")
        and not problems
        and await _credit_code_taken(session, company.region_code, sensitive["credit_code"], company.id)
    ):
        problems.add(ErrorCode.DUPLICATE, "creditCode", value=sensitive["credit_code"])
    problems.raise_if_any()

    ordinary = {k: v for k, v in changed.items() if k in ORDINARY_FIELDS}
    request = None
    if ordinary:
        before = {k: getattr(company, k) for k in ordinary}
        for key, value in ordinary.items():
            setattr(company, key, value)
        await session.flush()
        await audit.record(
            session, "company.update", "company", company.id, before=before, after=ordinary, company_id=company.id
        )
    if sensitive:
        request = CompanyChangeRequest(
            agency_id=actor.agency_id,
            company_id=company.id,
            changes=audit.jsonable(sensitive),
            previous=audit.jsonable({k: getattr(company, k) for k in sensitive}),
            requested_by=actor.user_id,
        )
        session.add(request)
        await session.flush()
        await audit.record(
            session,
            "company.change_request",
            "company_change_request",
            request.id,
            before=request.previous,
            after=request.changes,
            company_id=company.id,
        )
    return CompanyUpdate(company, ordinary, request)


async def get_change_request(session: AsyncSession, request_id: uuid.UUID) -> CompanyChangeRequest:
    request = await session.scalar(select(CompanyChangeRequest).where(CompanyChangeRequest.id == request_id))
    if request is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "id", entity=CHANGE_REQUEST)
    return request


async def list_change_requests(
    session: AsyncSession, page: PageRequest, status: ChangeStatus | None = None, company_id: uuid.UUID | None = None
) -> Page:
    current_actor(session).require(Permission.COMPANIES_READ)
    stmt = select(CompanyChangeRequest)
    if status:
        stmt = stmt.where(CompanyChangeRequest.status == status)
    if company_id:
        stmt = stmt.where(CompanyChangeRequest.company_id == company_id)
    return await paginate(session, stmt, CompanyChangeRequest.id, page)


async def _decide(session: AsyncSession, request_id: uuid.UUID) -> CompanyChangeRequest:
    actor = current_actor(session)
    actor.require(Permission.COMPANIES_REVIEW)
    request = await get_change_request(session, request_id)
    if request.status != ChangeStatus.PENDING:
        raise ShebaoError.of(ErrorCode.NOT_PENDING, "id", status=request.status.value)
    if request.requested_by == actor.user_id:
        raise ShebaoError.of(ErrorCode.SELF_REVIEW, "id")
    return request


async def approve_change(session: AsyncSession, request_id: uuid.UUID) -> CompanyChangeRequest:
    actor = current_actor(session)
    request = await _decide(session, request_id)
    company = await get_company(session, request.company_id, "companyId")
    changes = request.changes
    if changes.get("credit_code") and await _credit_code_taken(
        session, company.region_code, changes["credit_code"], company.id
    ):
        raise ShebaoError.of(ErrorCode.DUPLICATE, "creditCode", value=changes["credit_code"])
    before = audit.snapshot(company)
    for key, value in changes.items():
        setattr(company, key, value)
    request.status, request.reviewed_by, request.reviewed_at = ChangeStatus.APPROVED, actor.user_id, utcnow()
    await session.flush()
    await audit.record(
        session,
        "company.change_approve",
        "company",
        company.id,
        before=before,
        after=audit.snapshot(company),
        company_id=company.id,
    )
    return request


async def reject_change(session: AsyncSession, request_id: uuid.UUID, reason: str) -> CompanyChangeRequest:
    actor = current_actor(session)
    reason = (reason or "").strip()
    if not reason:
        raise ShebaoError.of(ErrorCode.REQUIRED, "reason")
    if len(reason) > 500:
        raise ShebaoError.of(ErrorCode.TOO_LONG, "reason", max=500)
    request = await _decide(session, request_id)
    before = audit.snapshot(request)
    request.status, request.reviewed_by, request.reviewed_at = ChangeStatus.REJECTED, actor.user_id, utcnow()
    request.reason = reason
    await session.flush()
    await audit.record(
        session,
        "company.change_reject",
        "company_change_request",
        request.id,
        before=before,
        after=audit.snapshot(request),
        company_id=request.company_id,
    )
    return request
