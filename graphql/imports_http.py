"""Batch-workbook endpoints beside GraphQL (files are larger than a GraphQL body may be).

* ``POST /imports`` (multipart: ``file``, ``kind``, and ``companyId`` or, for an agency-wide file,
  ``regionCode``): keeps the file and starts its check; 202 with the import. Poll
  ``workbookImport(id)`` over GraphQL for the preview, then ``confirmWorkbookImport``.
* ``GET /imports/{id}/error-report``: the failed rows with their reasons, to fix and upload again.
* ``GET /templates/{region}/{kind}`` (``?agencyWide=true`` for the client-company column) and
  ``GET /companies/{id}/base-roster?month=YYYY-MM``: the workbooks to fill in.

Authentication, tenant and company scope as for every request (graphql/files.py).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, QueryParameter

from shebao.graphql.files import _file_response, _parse_id, _run
from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.exports.common import XLSX
from shebao.platform.imports import service as imports
from shebao.platform.imports import templates
from shebao.platform.jobs.dispatch import dispatch_safely
from shebao.platform.storage.factory import storage_for
from shebao.platform.workbooks import Limits

MAX_IMPORT_BODY = Limits().max_file_bytes + 256 * 1024  # the file plus the multipart envelope


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value.strip() or None if isinstance(value, str) else None


def import_json(row) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "status": row.status.value,
        "filename": row.filename,
        "sha256": row.sha256,
        "jobId": str(row.job_id) if row.job_id else None,
        "summary": row.summary,
    }


@post("/imports", request_max_body_size=MAX_IMPORT_BODY, status_code=202)
async def upload_workbook(
    request: Request,
    state: State,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Any:
    upload = data.get("file")

    async def start(session):
        if not isinstance(upload, UploadFile):
            raise ShebaoError.of(ErrorCode.REQUIRED, "file")
        kind = _text(data, "kind")
        if kind is None:
            raise ShebaoError.of(ErrorCode.REQUIRED, "kind")
        company = _text(data, "companyId")
        return await imports.upload(
            session,
            storage_for(state.settings),
            await upload.read(),
            upload.filename,
            kind,
            company_id=_parse_id(company, "companyId") if company else None,
            region_code=_text(data, "regionCode"),
        )

    started = await _run(request, state, start)
    if isinstance(started, Response):
        return started
    if started.job is not None and getattr(state, "dispatcher", None) is not None:
        await dispatch_safely(state.dispatcher, started.job)
    return import_json(started.workbook_import)


@get("/imports/{import_id:str}/error-report")
async def download_error_report(request: Request, state: State, import_id: FromPath[str]) -> Any:
    async def read(session):
        row, key = await imports.error_report_key(session, _parse_id(import_id))
        name = row.filename.rsplit(".", 1)[0] + "_错误报告.xlsx"
        content = await asyncio.to_thread(storage_for(state.settings).get, key)
        return _file_response(content, XLSX, name)

    return await _run(request, state, read)


@get("/templates/{region_code:str}/{kind:str}")
async def download_template(
    request: Request,
    state: State,
    region_code: FromPath[str],
    kind: FromPath[str],
    agency_wide: Annotated[bool, QueryParameter(name="agencyWide")] = False,
) -> Any:
    async def read(session):
        content, name = await templates.template(session, region_code, kind, agency_wide)
        return _file_response(content, XLSX, name)

    return await _run(request, state, read)


@get("/companies/{company_id:str}/base-roster")
async def download_base_roster(request: Request, state: State, company_id: FromPath[str], month: FromQuery[str]) -> Any:
    async def read(session):
        content, name = await templates.base_change_roster(
            session, _parse_id(company_id, "companyId"), Month.parse(month, "month")
        )
        return _file_response(content, XLSX, name)

    return await _run(request, state, read)


ROUTES = [upload_workbook, download_error_report, download_template, download_base_roster]
