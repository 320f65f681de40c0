"""Attachments of a declaration: the documents its region asks for, judged by content, kept in the storage.

A file goes to the storage under a content-addressed key before its row is written: uploading the
same file twice gives one row, and a file whose row was never committed is harmless.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth.permissions import Permission
from shebao.platform.declarations.models import Declaration, DeclarationAttachment, DeclarationStatus
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.registry import registry
from shebao.platform.storage.attachments import check_attachment
from shebao.platform.storage.base import Storage
from shebao.platform.tenancy.session import current_actor

ENTITY = "附件 / attachment"


async def _declaration(session: AsyncSession, declaration_id: uuid.UUID) -> Declaration:
    from shebao.platform.declarations.service import get_declaration

    return await get_declaration(session, declaration_id, "declarationId")


def documents_for(declaration: Declaration) -> dict[str, str]:
    """The documents the region knows for this kind of declaration: name -> label."""
    region = registry().get(declaration.region_code)
    return {a.document: a.label_zh for a in region.fields.attachments if a.declaration == declaration.kind}


async def attach(
    session: AsyncSession,
    storage: Storage,
    declaration_id: uuid.UUID,
    document: str,
    data: bytes,
    filename: str | None = None,
) -> DeclarationAttachment:
    actor = current_actor(session)
    actor.require(Permission.DECLARATIONS_WRITE)
    declaration = await _declaration(session, declaration_id)
    if declaration.status is not DeclarationStatus.DRAFT:
        raise ShebaoError.of(ErrorCode.NOT_DRAFT, "declarationId", status=declaration.status.label_zh)
    known = documents_for(declaration)
    if document not in known:
        allowed = "、".join(f"{k}（{v}）" for k, v in known.items()) or "-"
        raise ShebaoError.of(ErrorCode.INVALID_VALUE, "document", value=document, allowed=allowed)
    info = check_attachment(data, filename)
    existing = await session.scalar(
        select(DeclarationAttachment).where(
            DeclarationAttachment.declaration_id == declaration.id,
            DeclarationAttachment.document == document,
            DeclarationAttachment.sha256 == info.sha256,
        )
    )
    if existing is not None:
        return existing
    key = f"{actor.agency_id}/declarations/{declaration.id}/{info.sha256}.{info.extension}"
    await asyncio.to_thread(storage.put, key, data)  # a network round trip on S3: off the event loop
    row = DeclarationAttachment(
        declaration_id=declaration.id,
        company_id=declaration.company_id,
        document=document,
        filename=(filename or "")[:255] or None,
        content_type=info.content_type,
        size=info.size,
        sha256=info.sha256,
        storage_key=key,
        uploaded_by=actor.user_id,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        "declaration.attach",
        "declaration_attachment",
        row.id,
        after=audit.snapshot(row),
        company_id=row.company_id,
    )
    return row


async def get_attachment(session: AsyncSession, attachment_id: uuid.UUID) -> DeclarationAttachment:
    # A SELECT: the tenant and company-scope criteria apply.
    row = await session.scalar(select(DeclarationAttachment).where(DeclarationAttachment.id == attachment_id))
    if row is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "id", entity=ENTITY)
    return row


async def read_attachment(session: AsyncSession, storage: Storage, attachment_id: uuid.UUID):
    """The attachment's row and bytes, for a download by someone who may see its declaration."""
    current_actor(session).require(Permission.PERSONS_READ)
    row = await get_attachment(session, attachment_id)
    return row, await asyncio.to_thread(storage.get, row.storage_key)


async def remove_attachment(session: AsyncSession, attachment_id: uuid.UUID) -> uuid.UUID:
    current_actor(session).require(Permission.DECLARATIONS_WRITE)
    row = await get_attachment(session, attachment_id)
    declaration = await _declaration(session, row.declaration_id)
    if declaration.status is not DeclarationStatus.DRAFT:
        raise ShebaoError.of(ErrorCode.NOT_DRAFT, "id", status=declaration.status.label_zh)
    before = audit.snapshot(row)
    await session.delete(row)
    await session.flush()
    await audit.record(
        session, "declaration.detach", "declaration_attachment", row.id, before=before, company_id=row.company_id
    )
    return row.id


async def attachments_of(session: AsyncSession, declaration_id: uuid.UUID) -> list[DeclarationAttachment]:
    stmt = (
        select(DeclarationAttachment)
        .where(DeclarationAttachment.declaration_id == declaration_id)
        .order_by(DeclarationAttachment.id)
    )
    return list((await session.scalars(stmt)).all())
