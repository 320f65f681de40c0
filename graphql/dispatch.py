"""Which dispatcher the API process uses for recorded jobs.

With Redis configured, jobs go to the arq workers (``shebao worker``), whose cron sweeps stuck
rows. On the embedded default (no Redis), the same job functions run as tasks of this process, and
a sweeper task here re-runs rows left queued or running by a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import async_sessionmaker

from shebao.graphql.metrics import JOB_METRICS
from shebao.platform.config import Settings
from shebao.platform.documents.pool import job_context
from shebao.platform.jobs.dispatch import Dispatcher, InProcessDispatcher, sweep
from shebao.workers.dispatch import ArqDispatcher

log = logging.getLogger("shebao.jobs")
SWEEP_EVERY = 60.0  # seconds
FIRST_SWEEP = 5.0  # seconds after start-up: what a restart left queued or running runs again


async def _sweep_until(stop: asyncio.Event, sessionmaker, dispatcher: Dispatcher, settings: Settings) -> None:
    """Sweep every minute until ``stop`` is set. Never cancelled in the middle of a sweep: a task
    cancelled inside a database call can leave its connection hanging at shutdown."""
    wait = FIRST_SWEEP
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        if stop.is_set():
            return
        try:
            JOB_METRICS.redispatched(await sweep(sessionmaker, dispatcher, stale_after=settings.job_stale_after))
        except Exception:  # keep sweeping: a database hiccup must not end the loop
            log.warning("job sweep failed", exc_info=True)
        wait = SWEEP_EVERY


@contextlib.asynccontextmanager
async def job_dispatcher(settings: Settings, sessionmaker: async_sessionmaker) -> AsyncIterator[Dispatcher]:
    if settings.redis_url:
        dispatcher = ArqDispatcher(None, settings.queue_name, settings.redis_url)
        try:
            yield dispatcher
        finally:
            await dispatcher.close()
        return
    context = job_context(settings)
    dispatcher = InProcessDispatcher(sessionmaker, settings.job_stale_after, context, observer=JOB_METRICS)
    stop = asyncio.Event()
    sweeper = asyncio.create_task(_sweep_until(stop, sessionmaker, dispatcher, settings))
    try:
        yield dispatcher
    finally:
        stop.set()
        await sweeper
        await dispatcher.drain()
        context["render"].close()
