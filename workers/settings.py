"""arq worker settings: ``shebao worker`` runs ``arq shebao.workers.settings.WorkerSettings``.

Jobs receive ids, never pickled objects (JSON serializer); each job binds its tenant explicitly.

Request ids: whoever enqueues a job on behalf of a request passes the request's id as the keyword
argument ``request_id`` (``enqueue_job("name", ..., request_id=ctx.request_id)``). Register every
job function wrapped in :func:`with_request_id`: the argument then never reaches the function
unless it asks for it, ``ctx["request_id"]`` holds it (the arq job id when none was given), and
every log line the job writes carries it.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import time

from arq import cron
from arq.connections import RedisSettings

from shebao.graphql.observability import bound_request_id, configure_logging
from shebao.platform.config import Settings
from shebao.platform.db.engine import make_engine, make_sessionmaker
from shebao.platform.regions.registry import registry
from shebao.workers.maintenance import purge_stale_tokens

log = logging.getLogger("shebao.jobs")


def with_request_id(fn):
    """Wrap a job function: take ``request_id`` from its keyword arguments and bind it to its logs."""
    accepts = "request_id" in inspect.signature(fn).parameters

    @functools.wraps(fn)  # keeps __qualname__: arq names the job after it
    async def job(ctx: dict, *args, request_id: str | None = None, **kwargs):
        rid = str(request_id)[:64] if request_id else ctx.get("job_id")
        ctx["request_id"] = rid
        if accepts:
            kwargs["request_id"] = request_id
        started = time.perf_counter()
        outcome = "failed"
        with bound_request_id(rid):
            try:
                result = await fn(ctx, *args, **kwargs)
                outcome = "done"
                return result
            finally:
                seconds = time.perf_counter() - started
                log.info(
                    "job %s %s in %.1f ms",
                    fn.__qualname__,
                    outcome,
                    seconds * 1000,
                    extra={
                        "job": fn.__qualname__,
                        "job_id": ctx.get("job_id"),
                        "outcome": outcome,
                        "duration_ms": round(seconds * 1000, 2),
                    },
                )

    return job


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
    """Called once by ``shebao worker`` before the worker starts: logging is set up here, so that
    arq's own start-up lines are formatted too (SHEBAO_LOG_FORMAT)."""
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    if not settings.redis_url:
        raise SystemExit(
            "SHEBAO_REDIS_URL is not set: the worker needs Redis (the embedded default runs jobs "
            "in-process and needs no worker)."
        )
    return RedisSettings.from_dsn(settings.redis_url)


class WorkerSettings:
    functions = [with_request_id(purge_stale_tokens)]  # noqa: RUF012
    cron_jobs = [cron(with_request_id(purge_stale_tokens), hour={3}, minute={15}, unique=True)]  # noqa: RUF012
    on_startup = startup
    on_shutdown = shutdown
    queue_name = "shebao:queue"  # overridden from SHEBAO_QUEUE_NAME by `shebao worker`
    job_serializer = staticmethod(serialize)
    job_deserializer = staticmethod(deserialize)
    max_jobs = 4
