"""Running a job from its row: claim it, call its handler, record the outcome.

The same function runs in an arq worker and in-process on the embedded default. Claiming is one
conditional UPDATE (queued, or running with a stale heartbeat), so two deliveries of the same job
never run it at once, and a finished job is never run again. Handlers resume: work that covers many
subjects records a :class:`JobItem` per subject with the subject's own change, and skips the
subjects already recorded when it runs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shebao.platform.core.clock import utcnow
from shebao.platform.errors import ErrorCode, Problem, ShebaoError
from shebao.platform.jobs.models import ItemOutcome, Job, JobItem, JobStatus
from shebao.platform.jobs.service import actor_of
from shebao.platform.tenancy.context import Actor
from shebao.platform.tenancy.filters import bind_actor

log = logging.getLogger("shebao.jobs")

STALE_AFTER = timedelta(minutes=10)  # default of Settings.job_stale_after
MAX_ATTEMPTS = 5
# The modules whose handlers register themselves (imported when the first job runs).
HANDLER_MODULES = (
    "shebao.platform.settlement.batch",
    "shebao.platform.documents.jobs",
    "shebao.platform.exports.jobs",
    "shebao.platform.imports.jobs",
)

Handler = Callable[["JobRun"], Awaitable[dict[str, Any]]]
HANDLERS: dict[str, Handler] = {}


class JobObserver(Protocol):
    """Told of every delivery :func:`run_job` handles (the process's job metrics). Outcomes:
    ``succeeded``/``failed`` (after :meth:`job_started`, with the seconds it took), ``abandoned``
    (too many attempts) and ``skipped`` (not claimed), neither of which runs the handler."""

    def job_started(self, kind: str) -> None: ...

    def job_finished(self, kind: str, outcome: str, seconds: float | None = None) -> None: ...


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def handler_for(kind: str) -> Handler | None:
    if kind not in HANDLERS:
        for module in HANDLER_MODULES:
            importlib.import_module(module)
    return HANDLERS.get(kind)


def problems_json(problems: ShebaoError | Iterable[Problem]) -> list[dict[str, Any]]:
    """Problems as a JSON column keeps them: months, dates and amounts in params as their text."""
    items = problems.problems if isinstance(problems, ShebaoError) else problems
    return [{"code": p.code.value, "field": p.field, "params": json_params(p.params)} for p in items]


def json_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: _json_value(v) for k, v in params.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return str(value)


@dataclass
class JobRun:
    """What a handler gets: the job's parameters, its actor, sessions bound to that actor, and
    the means to report progress and per-subject outcomes."""

    job_id: uuid.UUID
    kind: str
    params: dict[str, Any]
    actor: Actor
    attempt: int
    sessionmaker: async_sessionmaker
    # What the process offers its jobs: "storage" (the file store), "render" (the PDF process pool).
    context: dict[str, Any] = field(default_factory=dict)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            await bind_actor(session, self.actor)
            yield session

    async def progress(self, done: int, total: int | None = None) -> None:
        """Record progress (and a heartbeat) in a transaction of its own."""
        values: dict[str, Any] = {"done": done, "heartbeat_at": utcnow()}
        if total is not None:
            values["total"] = total
        async with self.session() as session:
            await session.execute(update(Job).where(Job.id == self.job_id).values(**values))
            await session.commit()

    async def finished_subjects(self) -> set[uuid.UUID]:
        """Subjects an earlier run of this job already handled (to resume, not redo)."""
        async with self.session() as session:
            stmt = select(JobItem.subject_id).where(JobItem.job_id == self.job_id)
            return set((await session.scalars(stmt)).all())

    def record(
        self,
        session: AsyncSession,
        subject_id: uuid.UUID,
        label: str,
        outcome: ItemOutcome,
        *,
        problems: list[dict[str, Any]] | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """Add a subject's outcome to ``session``: commit it with the subject's own change."""
        session.add(
            JobItem(
                job_id=self.job_id,
                subject_id=subject_id,
                label=label[:200],
                outcome=outcome,
                problems=problems,
                result=result,
                finished_at=utcnow(),
            )
        )


async def _heartbeat(run: JobRun, stop: asyncio.Event, every: timedelta) -> None:
    """Say the run is alive while the handler works (a long render makes no progress for a while),
    so only a dead process's job looks stale. Stopped by ``stop``, never cancelled mid-query."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every.total_seconds())
        if stop.is_set():
            return
        try:
            async with run.session() as session:
                stmt = update(Job).where(Job.id == run.job_id, Job.status == JobStatus.RUNNING)
                await session.execute(stmt.values(heartbeat_at=utcnow()).execution_options(synchronize_session=False))
                await session.commit()
        except Exception:  # a missed beat is not fatal: the next one may get through
            log.warning("job %s: heartbeat failed", run.job_id, exc_info=True)


async def _claim(session: AsyncSession, job_id: uuid.UUID, stale_after: timedelta) -> Job | None:
    now = utcnow()
    claimable = or_(
        Job.status == JobStatus.QUEUED,
        (Job.status == JobStatus.RUNNING) & or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < now - stale_after),
    )
    stmt = (
        update(Job)
        .where(Job.id == job_id, claimable)
        .values(status=JobStatus.RUNNING, attempts=Job.attempts + 1, started_at=now, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = (await session.execute(stmt)).rowcount
    await session.commit()
    if not claimed:
        return None
    return await session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))


async def _finish(session: AsyncSession, job_id: uuid.UUID, status: JobStatus, **values: Any) -> None:
    stmt = update(Job).where(Job.id == job_id).values(status=status, finished_at=utcnow(), **values)
    await session.execute(stmt.execution_options(synchronize_session=False))
    await session.commit()


async def run_job(
    sessionmaker: async_sessionmaker,
    agency_id: uuid.UUID,
    job_id: uuid.UUID,
    *,
    stale_after: timedelta = STALE_AFTER,
    context: dict[str, Any] | None = None,
    observer: JobObserver | None = None,
) -> str:
    """Run the job if it can be claimed; answer its status afterwards (or why it did not run)."""
    async with sessionmaker() as session:
        await bind_actor(session, Actor.system(agency_id))
        job = await _claim(session, job_id, stale_after)
        if job is None:
            current = (await session.execute(select(Job.kind, Job.status).where(Job.id == job_id))).first()
            if observer is not None:
                observer.job_finished(current.kind if current else "unknown", "skipped")
            return f"not claimed ({current.status.value if current else 'no such job'})"
        run = JobRun(job.id, job.kind, dict(job.params), actor_of(job), job.attempts, sessionmaker, context or {})
        if job.attempts > MAX_ATTEMPTS:
            abandoned = ShebaoError.of(ErrorCode.JOB_ABANDONED, None, attempts=MAX_ATTEMPTS)
            await _finish(session, job.id, JobStatus.FAILED, problems=problems_json(abandoned))
            if observer is not None:
                observer.job_finished(run.kind, "abandoned")
            return JobStatus.FAILED.value
    if observer is None:
        return await _run_claimed(run, stale_after)
    observer.job_started(run.kind)
    started, outcome = time.perf_counter(), JobStatus.FAILED.value  # an exception escaping: failed
    try:
        outcome = await _run_claimed(run, stale_after)
        return outcome
    finally:
        observer.job_finished(run.kind, outcome, time.perf_counter() - started)


async def _run_claimed(run: JobRun, stale_after: timedelta) -> str:
    fn = handler_for(run.kind)
    stop = asyncio.Event()
    beating = asyncio.create_task(_heartbeat(run, stop, stale_after / 4))
    try:
        if fn is None:
            raise ShebaoError.of(ErrorCode.UNKNOWN_JOB, None, kind=run.kind)
        result = await fn(run)
    except ShebaoError as err:
        async with run.session() as session:
            await _finish(session, run.job_id, JobStatus.FAILED, problems=problems_json(err))
        return JobStatus.FAILED.value
    except Exception:
        log.exception("job %s (%s) failed", run.job_id, run.kind)
        async with run.session() as session:
            internal = ShebaoError.of(ErrorCode.INTERNAL_ERROR)
            await _finish(session, run.job_id, JobStatus.FAILED, problems=problems_json(internal))
        return JobStatus.FAILED.value
    finally:
        stop.set()
        await beating
    async with run.session() as session:
        await _finish(session, run.job_id, JobStatus.SUCCEEDED, result=result)
    return JobStatus.SUCCEEDED.value
