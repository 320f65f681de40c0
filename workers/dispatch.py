"""The arq side of durable jobs: dispatching a recorded job to the queue, and the job functions.

The arq job id is the row's id and its attempt count: arq drops a second enqueue of a job still
queued, while a job whose worker died mid-run (its arq job stuck "in progress" until arq's own
timeout) is enqueued afresh under its next attempt. The row decides everything else (see
``shebao.platform.jobs``). Results are not kept (``keep_result=0``).
"""

from __future__ import annotations

import dataclasses
import uuid

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from shebao.graphql.metrics import JOB_METRICS
from shebao.platform.jobs.dispatch import sweep
from shebao.platform.jobs.runner import run_job as run_recorded_job
from shebao.workers.serialize import deserialize, serialize


class ArqDispatcher:
    """Enqueues on ``redis``, or on a pool it opens at the first dispatch from ``redis_url`` (an API
    process then starts, and answers /ready, while Redis is down)."""

    def __init__(self, redis: ArqRedis | None, queue_name: str, redis_url: str | None = None):
        self.redis, self.queue_name, self.redis_url = redis, queue_name, redis_url
        self._own = False

    async def _pool(self) -> ArqRedis:
        if self.redis is None:
            # No connection retries: a request must not wait on a Redis that is down (the row waits).
            settings = dataclasses.replace(RedisSettings.from_dsn(self.redis_url), conn_retries=0)
            self.redis = await create_pool(
                settings,
                job_serializer=serialize,
                job_deserializer=deserialize,
                default_queue_name=self.queue_name,
                retry=0,
            )
            self._own = True
        return self.redis

    async def close(self) -> None:
        if self._own and self.redis is not None:
            await self.redis.aclose()
            self.redis, self._own = None, False

    async def dispatch(
        self, agency_id: uuid.UUID, job_id: uuid.UUID, request_id: str | None = None, attempt: int = 0
    ) -> bool:
        redis = await self._pool()
        await redis.enqueue_job(
            "run_job",
            str(agency_id),
            str(job_id),
            request_id=request_id,
            _job_id=f"job:{job_id}:{attempt}",
            _queue_name=self.queue_name,
        )
        return True  # None from arq: the job is already queued, nothing more to do


async def run_job(ctx: dict, agency_id: str, job_id: str) -> str:
    settings = ctx["settings"]
    return await run_recorded_job(
        ctx["sessionmaker"],
        uuid.UUID(agency_id),
        uuid.UUID(job_id),
        stale_after=settings.job_stale_after,
        context=ctx["job_context"],
        observer=JOB_METRICS,  # served on the worker's own /metrics (shebao.workers.metrics_server)
    )


async def sweep_jobs(ctx: dict) -> int:
    settings = ctx["settings"]
    dispatcher = ArqDispatcher(ctx["redis"], settings.queue_name)
    count = await sweep(ctx["sessionmaker"], dispatcher, stale_after=settings.job_stale_after)
    JOB_METRICS.redispatched(count)
    return count
