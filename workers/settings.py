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
import logging
import time

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func

from shebao.graphql.observability import bound_request_id, configure_logging
from shebao.platform.config import Settings
from shebao.platform.db.engine import make_engine, make_sessionmaker
from shebao.platform.documents.pool import job_context
from shebao.platform.jobs.models import JobStatus
from shebao.platform.regions.registry import registry
from shebao.workers.dispatch import run_job, sweep_jobs
from shebao.workers.maintenance import purge_stale_tokens
from shebao.workers.metrics_server import start_metrics_server, stop_metrics_server, worker_metrics
from shebao.workers.serialize import deserialize, serialize

log = logging.getLogger("shebao.jobs")
_STATUSES = frozenset(status.value for status in JobStatus)


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
                # run_job answers the recorded status: a handler's ShebaoError is "failed", not "done"
                outcome = result if isinstance(result, str) and result in _STATUSES else "done"
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


async def startup(ctx: dict) -> None:
    settings = Settings.from_env()
    registry()
    ctx["settings"] = settings
    ctx["engine"] = make_engine(settings.database_url)
    ctx["sessionmaker"] = make_sessionmaker(ctx["engine"])
    ctx["job_context"] = job_context(settings)
    # GET /metrics on SHEBAO_WORKER_METRICS_PORT: the jobs this worker ran and the queue's depth.
    ctx["metrics_server"] = await start_metrics_server(
        settings.worker_metrics_port, lambda: worker_metrics(ctx["redis"], settings.queue_name)
    )


async def shutdown(ctx: dict) -> None:
    await stop_metrics_server(ctx.get("metrics_server"))
    ctx["job_context"]["render"].close()
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
    functions = [  # noqa: RUF012
        with_request_id(purge_stale_tokens),
        # A recorded job (settlement of a region, documents, imports): the row is the truth.
        func(with_request_id(run_job), keep_result=0, timeout=6 * 3600),
    ]
    cron_jobs = [  # noqa: RUF012
        cron(with_request_id(purge_stale_tokens), hour={3}, minute={15}, unique=True),
        cron(with_request_id(sweep_jobs), second={0}, unique=True),  # every minute
    ]
    on_startup = startup
    on_shutdown = shutdown
    queue_name = "shebao:queue"  # overridden from SHEBAO_QUEUE_NAME by `shebao worker`
    job_serializer = staticmethod(serialize)
    job_deserializer = staticmethod(deserialize)
    max_jobs = 4
