"""Staged imports of batch workbooks (报盘): upload → checked preview → confirm (all drafts, or none).

Uploading records the file (in the storage, under its digest) and a check job; the job stores the
preview (:mod:`.jobs`). Confirming records a confirm job that makes every draft in one transaction.
The same bytes for the same company, region and kind are one import: a second upload answers the
first, and a confirmed file is refused, so a file is never declared twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.service import get_company
from shebao.platform.core.pagination import Page, PageRequest, paginate
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.imports.models import AGENCY_SCOPE, ImportStatus, WorkbookImport
from shebao.platform.jobs.models import Job
from shebao.platform.jobs.service import create_job
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.regions.registry import registry
from shebao.platform.storage.base import Storage
from shebao.platform.tenancy.session import current_actor
from shebao.platform.workbooks import Limits, template_layout

ENTITY = "导入 / import"
CHECK = "workbook_check"
CONFIRM = "workbook_confirm"
LABELS = {
    ImportStatus.CHECKING: ("检查中", "being checked"),
    ImportStatus.READY: ("待确认", "ready"),
    ImportStatus.REJECTED: ("已拒绝", "rejected"),
    ImportStatus.CONFIRMING: ("导入中", "being confirmed"),
    ImportStatus.CONFIRMED: ("已导入", "confirmed"),
    ImportStatus.DISCARDED: ("已放弃", "discarded"),
}


@dataclass(frozen=True)
class Started:
    """An import and the job just recorded for it (None when an earlier upload already had one)."""

    workbook_import: WorkbookImport
    job: Job | None


async def get_import(session: AsyncSession, import_id: uuid.UUID, field: str = "id") -> WorkbookImport:
    current_actor(session).require(Permission.PERSONS_READ)
    row = await session.scalar(select(WorkbookImport).where(WorkbookImport.id == import_id))
    if row is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, field, entity=ENTITY)
    return row


async def list_imports(session: AsyncSession, page: PageRequest) -> Page[WorkbookImport]:
    current_actor(session).require(Permission.PERSONS_READ)
    return await paginate(session, select(WorkbookImport), WorkbookImport.id, page, newest_first=True)


async def upload(
    session: AsyncSession,
    storage: Storage,
    data: bytes,
    filename: str | None,
    kind: DeclarationKind | str,
    *,
    company_id: uuid.UUID | None = None,
    region_code: str | None = None,
) -> Started:
    """Keep the file and record its check. ``company_id`` for a company's file; an agency-wide file
    (rows naming their companies) gives ``region_code`` instead and needs an agency-wide operator."""
    actor = current_actor(session)
    actor.require(Permission.DECLARATIONS_WRITE)
    try:
        kind = DeclarationKind(kind)
    except ValueError:
        raise ShebaoError.of(ErrorCode.INVALID_VALUE, "kind", value=str(kind), allowed="add, stop, ...") from None
    if company_id is not None:
        company = await get_company(session, company_id, "companyId")
        if region_code and region_code != company.region_code:
            raise ShebaoError.of(ErrorCode.INVALID_VALUE, "regionCode", value=region_code, allowed=company.region_code)
        region_code, scope_key = company.region_code, str(company.id)
    else:
        if not region_code:
            raise ShebaoError.of(ErrorCode.REQUIRED, "companyId")
        actor.require_agency_wide("regionCode")
        scope_key = AGENCY_SCOPE
    template_layout(registry().get(region_code), kind, agency_wide=company_id is None)  # refuses a kind it lacks
    if not data:
        raise ShebaoError.of(ErrorCode.WORKBOOK_EMPTY_FILE, "file")
    if len(data) > Limits().max_file_bytes:
        raise ShebaoError.of(ErrorCode.WORKBOOK_TOO_LARGE, "file", size=len(data), max=Limits().max_file_bytes)
    digest = hashlib.sha256(data).hexdigest()
    earlier = await _same_file(session, scope_key, region_code, kind, digest)
    if earlier is not None:
        return Started(earlier, None)
    key = f"imports/{actor.agency_id}/{digest}.xlsx"
    await asyncio.to_thread(storage.put, key, data)  # content-addressed: a file kept twice is one object
    row = WorkbookImport(
        company_id=company_id,
        scope_key=scope_key,
        region_code=region_code,
        kind=kind,
        status=ImportStatus.CHECKING,
        filename=(filename or "upload.xlsx")[:255],
        size=len(data),
        sha256=digest,
        storage_key=key,
        created_by=actor.user_id,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:  # the same file uploaded at the same moment: answer that upload
        earlier = await _same_file(session, scope_key, region_code, kind, digest)
        if earlier is None:
            raise
        return Started(earlier, None)
    job = (await _start(session, row, CHECK)).job
    after = audit.snapshot(row, frozenset({"summary", "problems", "row_problems", "notices"}))
    await audit.record(session, "import.upload", "workbook_import", row.id, after=after, company_id=company_id)
    return Started(row, job)


async def _start(session: AsyncSession, row: WorkbookImport, kind: str) -> Started:
    """Record the import's next job (its check or its confirmation) and point the import at it."""
    job = await create_job(session, kind, {"import_id": str(row.id)}, company_id=row.company_id)
    row.job_id = job.id
    await session.flush()
    return Started(row, job)


async def _same_file(session, scope_key: str, region_code: str, kind, digest: str) -> WorkbookImport | None:
    stmt = select(WorkbookImport).where(
        WorkbookImport.scope_key == scope_key,
        WorkbookImport.region_code == region_code,
        WorkbookImport.kind == kind,
        WorkbookImport.sha256 == digest,
        WorkbookImport.status != ImportStatus.DISCARDED,
    )
    earlier = await session.scalar(stmt)
    if earlier is not None and earlier.status is ImportStatus.CONFIRMED:
        raise ShebaoError.of(
            ErrorCode.IMPORT_ALREADY_CONFIRMED,
            "file",
            id=str(earlier.id),
            at=f"{earlier.confirmed_at:%Y-%m-%d %H:%M}" if earlier.confirmed_at else "-",
            declarations=earlier.declarations,
        )
    return earlier


async def _move(session, row: WorkbookImport, to: ImportStatus, allowed: tuple[ImportStatus, ...], action):
    """Change the status only from an allowed one, in one conditional UPDATE: of two confirmations
    sent at once, one wins and the other is told the import is no longer ready."""
    stmt = (
        update(WorkbookImport)
        .where(WorkbookImport.id == row.id, WorkbookImport.status.in_(allowed))
        .values(status=to)
        .execution_options(synchronize_session=False)
    )
    if not (await session.execute(stmt)).rowcount:
        await session.refresh(row)
        zh, en = LABELS[row.status]
        raise ShebaoError.of(
            ErrorCode.IMPORT_NOT_READY, "id", status=zh, status_en=en, action=action[0], action_en=action[1]
        )
    await session.refresh(row)


async def confirm(session: AsyncSession, import_id: uuid.UUID, *, skip_failed_rows: bool = False) -> Started:
    """Make every valid row a draft declaration, in one transaction (a job). Rows with problems stop
    it unless ``skip_failed_rows``: they go back to the client through the error report."""
    actor = current_actor(session)
    actor.require(Permission.DECLARATIONS_WRITE)
    row = await get_import(session, import_id)
    summary = row.summary or {}
    if row.status is ImportStatus.READY:
        if not summary.get("rows_valid"):
            raise ShebaoError.of(ErrorCode.IMPORT_NOTHING_VALID, "id")
        if summary.get("rows_failed") and not skip_failed_rows:
            raise ShebaoError.of(ErrorCode.IMPORT_HAS_FAILED_ROWS, "skipFailedRows", rows=summary["rows_failed"])
    await _move(session, row, ImportStatus.CONFIRMING, (ImportStatus.READY,), ("确认", "confirmed"))
    return await _start(session, row, CONFIRM)


async def recheck(session: AsyncSession, import_id: uuid.UUID) -> Started:
    """Check the file again (the facts changed: a month was settled, an earlier import confirmed)."""
    current_actor(session).require(Permission.DECLARATIONS_WRITE)
    row = await get_import(session, import_id)
    await _move(session, row, ImportStatus.CHECKING, (ImportStatus.READY,), ("重新检查", "checked again"))
    return await _start(session, row, CHECK)


async def discard(session: AsyncSession, import_id: uuid.UUID) -> WorkbookImport:
    """Give up a preview (the same file may then be uploaded again)."""
    current_actor(session).require(Permission.DECLARATIONS_WRITE)
    row = await get_import(session, import_id)
    allowed = (ImportStatus.READY, ImportStatus.REJECTED)
    await _move(session, row, ImportStatus.DISCARDED, allowed, ("放弃", "discarded"))
    await audit.record(session, "import.discard", "workbook_import", row.id, company_id=row.company_id)
    return row


async def error_report_key(session: AsyncSession, import_id: uuid.UUID) -> tuple[WorkbookImport, str]:
    row = await get_import(session, import_id)
    if not row.report_key:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "id", entity="错误报告 / error report")
    return row, row.report_key
