"""Writing and reading the audit log. Every mutating service calls :func:`record`."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit.models import AuditEntry
from shebao.platform.auth.permissions import Permission
from shebao.platform.core.clock import utcnow
from shebao.platform.core.ids import new_id
from shebao.platform.core.month import Month
from shebao.platform.core.pagination import Page, PageRequest, paginate
from shebao.platform.tenancy.session import current_actor

# Never copied into the log.
SECRET_FIELDS = frozenset({"password_hash", "token_hash"})


def jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal | Month):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def snapshot(obj: Any, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The column values of an ORM object, as JSON."""
    mapper = inspect(type(obj))
    return {
        attr.key: jsonable(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in SECRET_FIELDS and attr.key not in exclude and attr.key != "agency_id"
    }


async def record(
    session: AsyncSession,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    company_id: uuid.UUID | None = None,
) -> AuditEntry:
    actor = current_actor(session)
    entry = AuditEntry(
        agency_id=actor.agency_id,
        actor_user_id=actor.user_id,
        actor_token_id=actor.token_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        company_id=company_id,
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        request_id=actor.request_id,
    )
    session.add(entry)
    return entry


async def record_many(
    session: AsyncSession,
    action: str,
    entity_type: str,
    entries: list[tuple[uuid.UUID, dict[str, Any], uuid.UUID | None]],
) -> None:
    """Many entries of one action at once, in one executemany (a confirmed import's thousands of
    drafts): ``entries`` are (entity id, values after, company id)."""
    if not entries:
        return
    actor, now = current_actor(session), utcnow()
    rows = [
        {
            "agency_id": actor.agency_id,
            "id": new_id(),
            "at": now,
            "actor_user_id": actor.user_id,
            "actor_token_id": actor.token_id,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "company_id": company_id,
            "before": None,
            "after": {k: jsonable(v) for k, v in after.items() if k not in SECRET_FIELDS},
            "request_id": actor.request_id,
        }
        for entity_id, after, company_id in entries
    ]
    await session.execute(AuditEntry.__table__.insert(), rows)


async def list_entries(
    session: AsyncSession,
    page: PageRequest,
    *,
    entity_type: str | None = None,
    entity_id: uuid.UUID | None = None,
    actor_user_id: uuid.UUID | None = None,
    action: str | None = None,
) -> Page[AuditEntry]:
    current_actor(session).require(Permission.AUDIT_READ)
    stmt = select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if actor_user_id:
        stmt = stmt.where(AuditEntry.actor_user_id == actor_user_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return await paginate(session, stmt, AuditEntry.id, page, newest_first=True)
