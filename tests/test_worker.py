"""A real arq worker process on a real Redis runs the token purge across every agency."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import select

from shebao.platform.auth import service as auth
from shebao.platform.auth.models import AuthToken, User
from shebao.platform.core.clock import utcnow
from shebao.workers.settings import deserialize, serialize

pytestmark = pytest.mark.anyio
REDIS = os.environ.get("SHEBAO_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


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


@pytest.fixture
def worker(db_url):
    queue = f"shebao:test:{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "SHEBAO_DATABASE_URL": db_url, "SHEBAO_REDIS_URL": REDIS, "SHEBAO_QUEUE_NAME": queue}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "shebao"), "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    yield queue
    proc.terminate()
    try:
        output = proc.communicate(timeout=15)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        proc.kill()
        output = proc.communicate()[0].decode(errors="replace")
    assert "Traceback" not in output, output


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
