"""A real arq worker process on a real Redis runs the token purge across every agency."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import select

from shebao.platform.auth import service as auth
from shebao.platform.auth.models import AuthToken, User
from shebao.platform.core.clock import utcnow
from shebao.workers.settings import deserialize, serialize
from tests.conftest import REDIS

pytestmark = pytest.mark.anyio


async def _tokens(session_as, agency, ages: dict[str, timedelta | None]) -> dict[str, uuid.UUID]:
    """Tokens revoked ``age`` ago (None: live)."""
    ids = {}
    async with session_as(agency.system) as s:
        user = await s.scalar(select(User).where(User.id == agency.admin_id))
        for name, age in ages.items():
            issued = await auth._issue(s, user, auth.API, name, ["companies:read"], None)
            if age is not None:
                issued.record.revoked_at = utcnow() - age
            ids[name] = issued.record.id
        await s.commit()
    return ids


async def _remaining(session_as, agency) -> set[str]:
    async with session_as(agency.system) as s:
        return set((await s.scalars(select(AuthToken.name).where(AuthToken.kind == auth.API))).all())


async def test_worker_purges_stale_tokens_of_every_agency(make_agency, session_as, worker):
    a, b = await make_agency(), await make_agency()
    ages = {"old-revoked": timedelta(days=45), "recent-revoked": timedelta(days=3), "live": None}
    await _tokens(session_as, a, ages)
    await _tokens(session_as, b, ages)

    redis = await create_pool(
        RedisSettings.from_dsn(REDIS), job_serializer=serialize, job_deserializer=deserialize, default_queue_name=worker
    )
    try:
        job = await redis.enqueue_job("purge_stale_tokens")
        removed = await job.result(timeout=60)
    finally:
        await redis.aclose()

    assert removed >= 2  # at least the two old tokens (other tests' agencies may add more)
    for agency in (a, b):
        assert await _remaining(session_as, agency) == {"recent-revoked", "live"}
