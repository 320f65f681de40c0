"""Exports as durable jobs: checked at once, recorded with ids only, streamed into a workbook by a worker.

The handler reads the rows in chunks (a server-side cursor on PostgreSQL, ``yield_per``), hands
each chunk through a small bounded queue to openpyxl's write-only writer running in a thread, and
stores the file under a key derived from the job's id: memory holds a few chunks whatever the size
of the export, and a job that runs twice writes the same file once.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.exports import declarations, payments, roster, settlement_lines
from shebao.platform.exports.common import XLSX, ExportKind, ExportRequest, Prepared, check_arguments
from shebao.platform.jobs.models import Job
from shebao.platform.jobs.runner import JobRun, handler
from shebao.platform.jobs.service import create_job
from shebao.platform.workbooks.export import export_to

KIND = "export"
CHUNK = 1000  # rows fetched at once, and the step of the progress reports
QUEUED_CHUNKS = 4  # chunks waiting for the writer: the bound on what is held in memory
EXPORTS = {
    ExportKind.ROSTER: roster,
    ExportKind.PAYMENTS: payments,
    ExportKind.SETTLEMENT_LINES: settlement_lines,
    ExportKind.DECLARATIONS: declarations,
}


async def prepare(session: AsyncSession, request: ExportRequest) -> Prepared:
    check_arguments(request)
    return await EXPORTS[request.kind].prepare(session, request)


async def request_export(session: AsyncSession, kind: ExportKind | str, **arguments: Any) -> Job:
    """Check the request as the job will see it (permission, arguments, the company in the
    operator's scope or an agency-wide operator for a region, the settlement), then record it.

    ``arguments``: ``company_id``, ``region_code``, ``month_from``, ``month_to``, ``settlement_id``,
    as the kind needs them (:data:`shebao.platform.exports.common.TAKES`).
    """
    if kind not in set(ExportKind):
        raise ShebaoError.of(ErrorCode.INVALID_VALUE, "kind", value=str(kind), allowed=", ".join(ExportKind))
    request = ExportRequest(ExportKind(kind), **arguments)
    prepared = await prepare(session, request)
    return await create_job(session, KIND, request.params(), company_id=prepared.company_id)


class _Aborted(Exception):
    """The reading side failed: the writer stops, and its partial file is thrown away."""


_DONE, _ABORT = object(), object()


def _rows(chunks: queue.Queue, written: list[int]) -> Iterator[Sequence[Any]]:
    while True:
        chunk = chunks.get()
        if chunk is _DONE:
            return
        if chunk is _ABORT:
            raise _Aborted
        for row in chunk:
            yield row
            written[0] += 1


async def _hand_over(chunks: queue.Queue, item: Any, writer: asyncio.Future) -> None:
    """Put ``item`` for the writer, waiting while the queue is full (never past a dead writer)."""
    while True:
        if writer.done():
            writer.result()  # the writer's own error, if it failed
            raise RuntimeError("the workbook writer stopped before the rows ended")
        try:
            chunks.put_nowait(item)
            return
        except queue.Full:
            await asyncio.wait({writer}, timeout=0.02)


async def stream_to_file(run: JobRun, prepared: Prepared, target: Path) -> int:
    """Rows from the database, chunk by chunk, into the workbook at ``target``; returns the rows written."""
    chunks: queue.Queue = queue.Queue(maxsize=QUEUED_CHUNKS)
    written = [0]
    writer = asyncio.ensure_future(
        asyncio.to_thread(export_to, target, prepared.columns, _rows(chunks, written), title=prepared.title)
    )
    try:
        async with run.session() as session:
            result = await session.stream(prepared.statement.execution_options(yield_per=CHUNK))
            async for rows in result.partitions():
                await _hand_over(chunks, [prepared.row(r) for r in rows], writer)
                await run.progress(written[0])
        await _hand_over(chunks, _DONE, writer)
    except BaseException:
        with contextlib.suppress(Exception):  # the writer may have stopped already: the first error wins
            await _hand_over(chunks, _ABORT, writer)
        await asyncio.gather(writer, return_exceptions=True)
        raise
    return await writer


@handler(KIND)
async def run_export(run: JobRun) -> dict[str, Any]:
    request = ExportRequest.from_params(run.params)
    async with run.session() as session:
        prepared = await prepare(session, request)
        total = await session.scalar(select(func.count()).select_from(prepared.statement.order_by(None).subquery()))
    await run.progress(0, total)
    key = f"exports/{run.actor.agency_id}/{run.job_id}.xlsx"
    storage = run.context["storage"]
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "export.xlsx"
        rows = await stream_to_file(run, prepared, target)
        stored = await asyncio.to_thread(storage.put_file, key, target)
    await run.progress(rows, rows)
    return {
        "key": key,
        "filename": prepared.filename,
        "size": stored.size,
        "sha256": stored.sha256,
        "content_type": XLSX,
        "rows": rows,
        "export": request.kind.value,
    }
