"""Keyset pagination behind the Relay-style connections.

Rows are ordered by their UUIDv7 ``id`` (creation order); a cursor is the opaque, versioned
encoding of the last id seen. Page sizes are capped, so no client can ask for the whole table.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.errors import ErrorCode, ShebaoError

T = TypeVar("T")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def encode_cursor(row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(b"v1:" + row_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise ShebaoError.of(ErrorCode.INVALID_CURSOR, "after") from None
    if not raw.startswith(b"v1:") or len(raw) != 19:
        raise ShebaoError.of(ErrorCode.INVALID_CURSOR, "after")
    return uuid.UUID(bytes=raw[3:])


@dataclass(frozen=True)
class PageRequest:
    first: int = DEFAULT_PAGE_SIZE
    after: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.first <= MAX_PAGE_SIZE:
            raise ShebaoError.of(ErrorCode.INVALID_VALUE, "first", value=self.first, allowed=f"1-{MAX_PAGE_SIZE}")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_next_page: bool
    total_count: int

    @property
    def end_cursor(self) -> str | None:
        return encode_cursor(self.items[-1].id) if self.items else None


async def paginate(session: AsyncSession, stmt: Select, key, page: PageRequest, *, newest_first: bool = False) -> Page:
    """One page of ``stmt`` (a select of one entity), ordered by ``key`` (its id column)."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    if page.after:
        last = decode_cursor(page.after)
        stmt = stmt.where(key < last if newest_first else key > last)
    stmt = stmt.order_by(key.desc() if newest_first else key).limit(page.first + 1)
    rows = list((await session.scalars(stmt)).all())
    return Page(rows[: page.first], len(rows) > page.first, total or 0)
