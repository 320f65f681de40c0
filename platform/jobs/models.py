"""Durable jobs: the database row is the truth, the queue only a wake-up call.

A request records a :class:`Job` first and dispatches its id; the worker (arq, or the same function
in-process on the embedded default) claims the row, does the work and records the outcome. Work
that covers many subjects (every client company of a region, say) records one :class:`JobItem` per
subject in the same transaction as the subject's own change, so a job that runs twice (arq is
at-least-once; the sweeper re-dispatches rows stuck queued or running) resumes where it stopped
instead of doing anything twice.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shebao.platform.db.base import Base, TenantOwned, Timestamps, str_enum


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class ItemOutcome(enum.StrEnum):
    DONE = "done"  # e.g. the company's month was settled
    REFUSED = "refused"  # a rule refused it; ``problems`` says why
    FAILED = "failed"  # an unexpected error (logged)


class Job(TenantOwned, Timestamps, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "created_by"], ["users.agency_id", "users.id"]),
        ForeignKeyConstraint(["agency_id", "company_id"], ["client_companies.agency_id", "client_companies.id"]),
        Index("ix_jobs_status", "status", "heartbeat_at"),  # the sweeper's scan, across agencies
        Index("ix_jobs_agency_created", "agency_id", "created_at"),
    )
    __company_scope__ = "company_id"  # a job for one company; agency-wide jobs have none

    kind: Mapped[str] = mapped_column(String(40))  # the handler, e.g. "settle_region"
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    company_id: Mapped[uuid.UUID | None]
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus, 16), default=JobStatus.QUEUED)
    done: Mapped[int] = mapped_column(default=0)  # progress: subjects handled ...
    total: Mapped[int | None]  # ... out of this many (None until known)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    problems: Mapped[list[Any] | None] = mapped_column(JSON)  # why it failed: [{code, field, params}]
    attempts: Mapped[int] = mapped_column(default=0)
    actor: Mapped[dict[str, Any]] = mapped_column(JSON)  # who asked, with their permissions and scope
    created_by: Mapped[uuid.UUID | None]
    request_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # last sign of life of the run in progress
    finished_at: Mapped[datetime | None]


class JobItem(TenantOwned, Base):
    __tablename__ = "job_items"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "job_id"], ["jobs.agency_id", "jobs.id"]),
        Index("uq_job_items_subject", "agency_id", "job_id", "subject_id", unique=True),
    )

    job_id: Mapped[uuid.UUID]
    subject_id: Mapped[uuid.UUID]  # e.g. the client company
    label: Mapped[str] = mapped_column(String(200))  # e.g. the company's name, for the report
    outcome: Mapped[ItemOutcome] = mapped_column(str_enum(ItemOutcome, 16))
    problems: Mapped[list[Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    finished_at: Mapped[datetime]
