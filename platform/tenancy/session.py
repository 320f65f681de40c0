"""Reading the actor bound to a session (see :mod:`shebao.platform.tenancy.filters`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.tenancy.context import Actor


def current_actor(session: AsyncSession) -> Actor:
    actor = session.sync_session.info.get("actor") if isinstance(session, AsyncSession) else session.info.get("actor")
    if actor is None:
        raise ShebaoError.of(ErrorCode.NOT_AUTHENTICATED)
    return actor
