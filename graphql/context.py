"""The per-request context: one session with the caller's actor bound, and per-request loaders.

Strawberry resolves sibling fields concurrently, and an AsyncSession allows one operation at a
time, so every database call from a resolver goes through :meth:`Context.call`, which holds the
request's lock. Loaders live here (never at module level): a module-level loader would cache one
agency's rows for the next agency's request.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.litestar import BaseContext

from shebao.platform.auth import service as auth
from shebao.platform.config import Settings
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.tenancy.context import Actor


class AuthFailure(Exception):
    """A bearer token that is malformed, unknown, revoked or expired: HTTP 401 for the whole request."""

    def __init__(self, error: ShebaoError, lang: str):
        self.error, self.lang = error, lang


class Context(BaseContext, kw_only=True):
    session: Any
    actor: Any = None
    settings: Any = None
    lang: str = "zh"
    request_id: str = ""
    lock: Any = None
    loaders: Any = None
    dispatcher: Any = None  # wakes a worker for a recorded job (shebao.platform.jobs.dispatch)

    async def call(self, fn, *args, **kwargs):
        """Run ``fn(session, *args, **kwargs)`` holding the request's database lock."""
        async with self.lock:
            return await fn(self.session, *args, **kwargs)


def language(request: Request) -> str:
    accepted = request.headers.get("accept-language", "")
    first = accepted.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh"


def request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given[:64] if given and given.isprintable() else uuid.uuid4().hex


async def authenticate_request(request: Request, session: AsyncSession, lang: str, rid: str) -> Actor | None:
    """The actor of a ``Bearer`` token (None without one); a bad token is an AuthFailure (401)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthFailure(ShebaoError.of(ErrorCode.TOKEN_INVALID), lang)
    try:
        return await auth.authenticate(session, token.strip(), rid)
    except ShebaoError as err:
        await session.rollback()
        raise AuthFailure(err, lang) from None


async def get_context(request: Request, state: State) -> AsyncGenerator[Context, None]:
    from shebao.graphql.loaders import Loaders  # the loaders need the context class

    settings: Settings = state.settings
    session: AsyncSession = state.sessionmaker()
    lang, rid = language(request), request_id(request)
    try:
        actor = await authenticate_request(request, session, lang, rid)
        ctx = Context(
            session=session,
            actor=actor,
            settings=settings,
            lang=lang,
            request_id=rid,
            lock=asyncio.Lock(),
            dispatcher=getattr(state, "dispatcher", None),
        )
        ctx.loaders = Loaders(ctx)
        yield ctx
    finally:
        await session.close()
