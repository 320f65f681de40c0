"""The two jobs of a staged import: check the file (the preview), and confirm it (the drafts).

Both read the file back from the storage by its key. Confirming checks the file again inside the
transaction that writes the drafts, so nothing the preview did not promise is declared: if the facts
changed since (a month settled, the same people drafted by another file), the preview is updated and
the confirmation refused, with nothing written.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from shebao.platform.audit import service as audit
from shebao.platform.core.clock import today, utcnow
from shebao.platform.declarations.service import add_drafts, draft_row
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.imports.check import Checked, check_file, row_problems_json, summary_json
from shebao.platform.imports.models import ImportStatus, WorkbookImport
from shebao.platform.imports.service import CHECK, CONFIRM, get_import
from shebao.platform.jobs.runner import JobRun, handler, problems_json
from shebao.platform.storage.base import ObjectNotFound
from shebao.platform.workbooks import error_report


def _outcome(row: WorkbookImport) -> dict[str, Any]:
    return {
        "import_id": str(row.id),
        "status": row.status.value,
        "summary": row.summary,
        "declarations": row.declarations,
    }


async def _stage(run: JobRun, row: WorkbookImport, checked: Checked) -> None:
    """Keep the preview on the import row, and the error report in the storage."""
    result = checked.result
    row.summary = summary_json(result)
    row.problems = problems_json(result.problems)
    row.row_problems = row_problems_json(result)
    row.notices = problems_json(result.notices)
    row.status = ImportStatus.REJECTED if result.rejected else ImportStatus.READY
    row.checked_at = utcnow()
    row.report_key = None
    if result.failed_rows and not result.rejected:
        report = await asyncio.to_thread(error_report, result)
        key = f"imports/{run.actor.agency_id}/{row.id}/errors.xlsx"
        await asyncio.to_thread(run.context["storage"].put, key, report)
        row.report_key = key


async def _read(run: JobRun, row: WorkbookImport) -> bytes:
    try:
        return await asyncio.to_thread(run.context["storage"].get, row.storage_key)
    except ObjectNotFound:  # the store lost it (restored without its files?): a clear refusal, not a crash
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "file", entity="上传的文件 / uploaded file") from None


@handler(CHECK)
async def run_check(run: JobRun) -> dict[str, Any]:
    import_id = uuid.UUID(run.params["import_id"])
    async with run.session() as session:
        row = await get_import(session, import_id, "importId")
        if row.status is ImportStatus.CHECKING:  # else: an earlier run of this job finished it
            checked = await check_file(session, row, await _read(run, row), today())
            await _stage(run, row, checked)
            await session.commit()
        outcome = _outcome(row)
    rows = (row.summary or {}).get("rows_read", 0)
    await run.progress(rows, rows)
    return outcome


@handler(CONFIRM)
async def run_confirm(run: JobRun) -> dict[str, Any]:
    import_id = uuid.UUID(run.params["import_id"])
    async with run.session() as session:
        row = await get_import(session, import_id, "importId")
        if row.status is ImportStatus.CONFIRMED:  # an earlier run of this job committed it
            return _outcome(row)
        if row.status is not ImportStatus.CONFIRMING:
            raise ShebaoError.of(ErrorCode.IMPORT_NOT_READY, "importId", status=row.status.value)
        checked = await check_file(session, row, await _read(run, row), today())
        failed_before = {p["row"] for p in row.row_problems or ()}
        result = checked.result
        newly_failed = [r for r in result.failed_rows if r.row not in failed_before]
        if result.rejected or newly_failed:
            await session.rollback()
            row = await get_import(session, import_id, "importId")
            await _stage(run, row, checked)
            await session.commit()
            first = newly_failed[0].problems[0] if newly_failed else None
            raise ShebaoError.of(
                ErrorCode.IMPORT_PREVIEW_OUTDATED,
                "importId",
                rows=len(newly_failed) or result.summary.rows_read,
                first=f"{first.row}: {first.message()}" if first else "-",
            )
        # Only the rows the preview showed valid: a row that failed then and passes now was not promised.
        drafts = []
        for r in result.valid_rows:
            if r.row in failed_before:
                continue
            draft = draft_row(
                checked.companies[r.row],
                row.kind,
                r.values,
                checked.notices[r.row],
                f"import:{row.id}:{r.row}",  # a unique key: a draft can never be made twice from a row
                run.actor.user_id,
            )
            draft.person_id = checked.persons[r.row]
            drafts.append(draft)
        await add_drafts(session, drafts)
        row.status, row.declarations = ImportStatus.CONFIRMED, len(drafts)
        row.confirmed_by, row.confirmed_at = run.actor.user_id, utcnow()
        await audit.record(
            session,
            "import.confirm",
            "workbook_import",
            row.id,
            after={"declarations": len(drafts), "sha256": row.sha256},
            company_id=row.company_id,
        )
        await session.commit()
        outcome = _outcome(row)
    await run.progress(len(drafts), len(drafts))
    return outcome
