"""Waking a worker for a recorded job, and the sweeper that re-dispatches rows nobody ran.

A :class:`Dispatcher` only wakes a worker: the row is already committed, so a dispatch that fails
(Redis down) delays the job until the sweeper's next pass, and never loses it. The arq dispatcher
lives with the workers (``shebao.workers.dispatch``); the embedded default uses
:class:`InProcessDispatcher`, which runs the same :func:`run_job` as a task of this process.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from shebao.platform.core.clock import utcnow
from shebao.platform.jobs.models import Job, JobStatus
from shebao.platform.jobs.runner import STALE_AFTER, JobObserver, run_job
from shebao.platform.tenancy.context import Actor
from shebao.platform.tenancy.filters import bind_actor
from shebao.platform.tenancy.service import list_agency_ids

log = logging.getLogger("shebao.jobs")

QUEUED_GRACE = timedelta(minutes=1)  # a queued row older than this was not delivered


class Dispatcher(Protocol):
    async def dispatch(
        self, agency_id: uuid.UUID, job_id: uuid.UUID, request_id: str | None = None, attempt: int = 0
    ) -> bool:
        """Wake a worker for the job; False when it could not (the sweeper will retry)."""
        ...


class InProcessDispatcher:
    """Runs jobs as tasks of this process (the embedded default: no Redis, no worker)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker,
        stale_after: timedelta = STALE_AFTER,
        context: dict | None = None,
        observer: JobObserver | None = None,  # the process's job metrics
    ):
        self.sessionmaker, self.stale_after, self.context = sessionmaker, stale_after, context or {}
        self.observer = observer
        self.tasks: set[asyncio.Task] = set()

    async def dispatch(
        self, agency_id: uuid.UUID, job_id: uuid.UUID, request_id: str | None = None, attempt: int = 0
    ) -> bool:
        job = run_job(
            self.sessionmaker,
            agency_id,
            job_id,
            stale_after=self.stale_after,
            context=self.context,
            observer=self.observer,
        )
        task = asyncio.create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return True

    async def drain(self) -> None:
        """Wait for the jobs started so far (tests, and shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


async def dispatch_safely(dispatcher: Dispatcher, job: Job) -> bool:
    try:
        return await dispatcher.dispatch(job.agency_id, job.id, job.request_id, job.attempts)
    except Exception:  # Redis down: the row stays queued and the sweeper dispatches it later
        log.warning("could not dispatch job %s; the sweeper will", job.id, exc_info=True)
        return False


async def sweep(
    sessionmaker: async_sessionmaker,
    dispatcher: Dispatcher,
    *,
    queued_grace: timedelta = QUEUED_GRACE,
    stale_after: timedelta = STALE_AFTER,
) -> int:
    """Re-dispatch every job left queued past ``queued_grace`` or running without a heartbeat for
    ``stale_after``, agency by agency (each under its own tenant). Answers how many."""
    now = utcnow()
    async with sessionmaker() as session:
        agency_ids = await list_agency_ids(session)
    count = 0
    for agency_id in agency_ids:
        async with sessionmaker() as session:
            await bind_actor(session, Actor.system(agency_id))
            stuck = (
                await session.scalars(
                    select(Job).where(
                        or_(
                            (Job.status == JobStatus.QUEUED) & (Job.created_at < now - queued_grace),
                            (Job.status == JobStatus.RUNNING) & (Job.heartbeat_at < now - stale_after),
                        )
                    )
                )
            ).all()
        for job in stuck:
            log.info("re-dispatching job %s (%s, %s)", job.id, job.kind, job.status.value)
            count += await dispatch_safely(dispatcher, job)
    return count
