"""arq worker settings: ``shebao worker`` runs ``arq shebao.workers.settings.WorkerSettings``.

Jobs receive ids, never pickled objects (JSON serializer); each job binds its tenant explicitly.
"""

from __future__ import annotations

import json

from arq import cron
from arq.connections import RedisSettings

from shebao.platform.config import Settings
from shebao.platform.db.engine import make_engine, make_sessionmaker
from shebao.platform.regions.registry import registry
from shebao.workers.maintenance import purge_stale_tokens


def serialize(obj) -> bytes:
    """Jobs carry ids and plain values only: JSON, never pickle. A failed job's exception is kept
    as its repr, so ``job.result()`` reports what went wrong instead of a serialization error."""
    return json.dumps(obj, default=repr).encode()


def deserialize(data: bytes):
    return json.loads(data)


async def startup(ctx: dict) -> None:
    settings = Settings.from_env()
    registry()
    ctx["settings"] = settings
    ctx["engine"] = make_engine(settings.database_url)
    ctx["sessionmaker"] = make_sessionmaker(ctx["engine"])


async def shutdown(ctx: dict) -> None:
    await ctx["engine"].dispose()


def redis_settings() -> RedisSettings:
    settings = Settings.from_env()
    if not settings.redis_url:
        raise SystemExit(
            "SHEBAO_REDIS_URL is not set: the worker needs Redis (the embedded default runs jobs "
            "in-process and needs no worker)."
        )
    return RedisSettings.from_dsn(settings.redis_url)


class WorkerSettings:
    functions = [purge_stale_tokens]  # noqa: RUF012
    cron_jobs = [cron(purge_stale_tokens, hour={3}, minute={15}, unique=True)]  # noqa: RUF012
    on_startup = startup
    on_shutdown = shutdown
    queue_name = "shebao:queue"  # overridden from SHEBAO_QUEUE_NAME by `shebao worker`
    job_serializer = staticmethod(serialize)
    job_deserializer = staticmethod(deserialize)
    max_jobs = 4
