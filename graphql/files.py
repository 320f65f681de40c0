"""File endpoints beside GraphQL (a GraphQL body is capped at 1 MB): declaration attachments and
the files jobs make.

``POST /declarations/{id}/attachments`` (multipart: ``document``, ``file``),
``GET /attachments/{id}``, and ``GET /jobs/{id}/file`` / ``GET /jobs/{id}/items/{item}/file`` for
any job that made a file (a document, a zip, an exported workbook). All authenticate like GraphQL
(``Authorization: Bearer``); the tenant and the operator's company scope decide what exists, as
everywhere.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from shebao.graphql.context import AuthFailure, authenticate_request, language, request_id
from shebao.platform.declarations import attachments
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.jobs.service import job_file
from shebao.platform.storage.attachments import MAX_ATTACHMENT_BYTES
from shebao.platform.storage.factory import storage_for
from shebao.platform.tenancy.filters import bind_actor

MAX_UPLOAD_BODY = MAX_ATTACHMENT_BYTES + 256 * 1024  # the file plus the multipart envelope


def _errors(err: ShebaoError, lang: str, status: int) -> Response:
    body = {"errors": [{"code": p.code.value, "field": p.field, "message": p.message(lang)} for p in err.problems]}
    return Response(body, status_code=status)


async def _run(request: Request, state: State, fn):
    """Authenticate, bind the actor, run ``fn(session)``; commit, or answer the refusal."""
    lang, rid = language(request), request_id(request)
    session = state.sessionmaker()
    try:
        actor = await authenticate_request(request, session, lang, rid)
        if actor is None:
            raise AuthFailure(ShebaoError.of(ErrorCode.NOT_AUTHENTICATED), lang)
        await bind_actor(session, actor)
        try:
            result = await fn(session)
            await session.commit()
            return result
        except ShebaoError as err:
            await session.rollback()
            status = 404 if err.code == ErrorCode.NOT_FOUND else 403 if err.code == ErrorCode.PERMISSION_DENIED else 422
            return _errors(err, lang, status)
    finally:
        await session.close()


@post("/declarations/{declaration_id:str}/attachments", request_max_body_size=MAX_UPLOAD_BODY, status_code=201)
async def upload_attachment(
    request: Request,
    state: State,
    declaration_id: FromPath[str],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Any:
    upload, document = data.get("file"), data.get("document")

    async def attach(session):
        parsed = _parse_id(declaration_id, "declarationId")
        if not isinstance(upload, UploadFile):
            raise ShebaoError.of(ErrorCode.REQUIRED, "file")
        if not isinstance(document, str) or not document.strip():
            raise ShebaoError.of(ErrorCode.REQUIRED, "document")
        content = await upload.read()
        row = await attachments.attach(
            session, storage_for(state.settings), parsed, document.strip(), content, upload.filename
        )
        return {
            "id": str(row.id),
            "document": row.document,
            "contentType": row.content_type,
            "size": row.size,
            "sha256": row.sha256,
            "downloadUrl": f"/attachments/{row.id}",
        }

    return await _run(request, state, attach)


@get("/attachments/{attachment_id:str}")
async def download_attachment(request: Request, state: State, attachment_id: FromPath[str]) -> Any:
    async def read(session):
        row, content = await attachments.read_attachment(session, storage_for(state.settings), _parse_id(attachment_id))
        name = quote(row.filename or f"{row.document}.{row.storage_key.rsplit('.', 1)[-1]}")
        return Response(
            content,
            media_type=row.content_type,
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
                "X-Content-Type-Options": "nosniff",  # the stored type, never a browser's guess
            },
        )

    return await _run(request, state, read)


def _file_response(content: bytes, media_type: str, name: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@get("/jobs/{job_id:str}/file")
async def download_job_file(request: Request, state: State, job_id: FromPath[str]) -> Any:
    async def read(session):
        found = await job_file(session, _parse_id(job_id, "jobId"))
        content = await asyncio.to_thread(storage_for(state.settings).get, found["key"])
        return _file_response(content, found["content_type"], found["filename"])

    return await _run(request, state, read)


@get("/jobs/{job_id:str}/items/{item_id:str}/file")
async def download_job_item_file(request: Request, state: State, job_id: FromPath[str], item_id: FromPath[str]) -> Any:
    async def read(session):
        found = await job_file(session, _parse_id(job_id, "jobId"), _parse_id(item_id, "itemId"))
        content = await asyncio.to_thread(storage_for(state.settings).get, found["key"])
        return _file_response(content, found["content_type"], found["filename"])

    return await _run(request, state, read)


def _parse_id(value: str, field: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, field, entity="记录 / record") from None
