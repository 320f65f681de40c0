"""Recording jobs and reading them back: the request's side of a durable job.

Creating a job records the row (queued) with who asked, their permissions and their company scope;
the adapter dispatches it after the commit. The worker rebuilds the same actor from the row, so a
job can do no more than the operator who asked for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth.permissions import Role
from shebao.platform.core.pagination import Page, PageRequest, paginate
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.jobs.models import ItemOutcome, Job, JobItem, JobStatus
from shebao.platform.tenancy.context import Actor
from shebao.platform.tenancy.session import current_actor

ENTITY = "任务 / job"
FILE = "文件 / file"


def actor_snapshot(actor: Actor) -> dict[str, Any]:
    return {
        "user_id": str(actor.user_id) if actor.user_id else None,
        "token_id": str(actor.token_id) if actor.token_id else None,
        "role": actor.role.value,
        "permissions": sorted(actor.permissions),
        "company_ids": None if actor.company_ids is None else sorted(str(c) for c in actor.company_ids),
    }


def actor_of(job: Job) -> Actor:
    """The operator who asked for the job, as they were when they asked."""
    a = job.actor
    return Actor(
        agency_id=job.agency_id,
        user_id=uuid.UUID(a["user_id"]) if a.get("user_id") else None,
        token_id=uuid.UUID(a["token_id"]) if a.get("token_id") else None,
        role=Role(a["role"]),
        permissions=frozenset(a["permissions"]),
        company_ids=None if a.get("company_ids") is None else frozenset(uuid.UUID(c) for c in a["company_ids"]),
        request_id=job.request_id,
    )


async def create_job(
    session: AsyncSession, kind: str, params: dict[str, Any], *, company_id: uuid.UUID | None = None
) -> Job:
    actor = current_actor(session)
    job = Job(
        kind=kind,
        params=params,
        company_id=company_id,
        status=JobStatus.QUEUED,
        actor=actor_snapshot(actor),
        created_by=actor.user_id,
        request_id=actor.request_id,
    )
    session.add(job)
    await session.flush()
    await audit.record(session, "job.create", "job", job.id, after={"kind": kind, "params": params})
    return job


async def get_job(session: AsyncSession, job_id: uuid.UUID, field: str = "id") -> Job:
    job = await session.scalar(select(Job).where(Job.id == job_id))
    if job is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, field, entity=ENTITY)
    return job


def has_file(status: JobStatus, result: dict[str, Any] | None) -> bool:
    """A job made a file to download (a document, a zip, a workbook) once it succeeded with a key."""
    return status is JobStatus.SUCCEEDED and bool(result) and "key" in result


async def job_file(session: AsyncSession, job_id: uuid.UUID, item_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Where a finished job's file is, whatever the job's kind: its ``result`` (key, filename,
    content_type...), or one item's. The tenant and the company scope decide, as for the job itself."""
    job = await get_job(session, job_id, "jobId")
    if item_id is None:
        if job.status is not JobStatus.SUCCEEDED:
            raise ShebaoError.of(ErrorCode.DOCUMENT_NOT_READY, "jobId", status=job.status.value)
        if not has_file(job.status, job.result):  # succeeded, but this kind of job makes no file
            raise ShebaoError.of(ErrorCode.NOT_FOUND, "jobId", entity=FILE)
        return job.result
    item = await session.scalar(select(JobItem).where(JobItem.job_id == job.id, JobItem.id == item_id))
    if item is None or not item.result or "key" not in item.result:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "itemId", entity=FILE)
    return item.result


@dataclass(frozen=True)
class JobFilter:
    kind: str | None = None
    status: JobStatus | None = None


async def list_jobs(session: AsyncSession, page: PageRequest, f: JobFilter | None = None) -> Page[Job]:
    f = f or JobFilter()
    stmt = select(Job)
    if f.kind is not None:
        stmt = stmt.where(Job.kind == f.kind)
    if f.status is not None:
        stmt = stmt.where(Job.status == f.status)
    return await paginate(session, stmt, Job.id, page, newest_first=True)


async def list_items(
    session: AsyncSession, job_id: uuid.UUID, page: PageRequest, outcome: ItemOutcome | None = None
) -> Page[JobItem]:
    await get_job(session, job_id, "jobId")  # not found (or not visible) before anything else
    stmt = select(JobItem).where(JobItem.job_id == job_id)
    if outcome is not None:
        stmt = stmt.where(JobItem.outcome == outcome)
    return await paginate(session, stmt, JobItem.id, page)
