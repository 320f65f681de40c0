"""Durable jobs over GraphQL: status, progress and each subject's outcome."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.types import Info

from shebao.graphql.errors import UserError
from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Connection, page_request, to_connection
from shebao.graphql.types.companies import maybe, parse_id
from shebao.platform.errors import Problem
from shebao.platform.jobs import service
from shebao.platform.jobs.models import ItemOutcome, Job, JobItem, JobStatus

JobStatusEnum = strawberry.enum(JobStatus, name="JobStatus")
ItemOutcomeEnum = strawberry.enum(ItemOutcome, name="JobItemOutcome")


def problem_errors(problems: list | None, lang: str) -> list[UserError]:
    """Stored problems ({code, field, params}) as errors in the caller's language."""
    out = []
    for p in problems or []:
        problem = Problem.stored(p)
        out.append(UserError(code=problem.code, field=problem.field, message=problem.message(lang)))
    return out


@strawberry.type(description="One subject of a job (a client company, say) and what became of it.")
class JobItemType:
    id: strawberry.ID
    job_id: strawberry.ID
    subject_id: strawberry.ID
    label: str
    outcome: ItemOutcomeEnum
    result: strawberry.scalars.JSON | None
    finished_at: datetime
    problems: strawberry.Private[list | None]

    @strawberry.field(description="Why it was refused or failed.")
    def errors(self, info: Info) -> list[UserError]:
        return problem_errors(self.problems, info.context.lang)

    @strawberry.field(description="This subject's file (same token), when the job made one.")
    def download_url(self) -> str | None:
        return f"/jobs/{self.job_id}/items/{self.id}/file" if self.result and "key" in self.result else None

    @classmethod
    def of(cls, m: JobItem) -> JobItemType:
        return cls(
            id=strawberry.ID(str(m.id)),
            job_id=strawberry.ID(str(m.job_id)),
            subject_id=strawberry.ID(str(m.subject_id)),
            label=m.label,
            outcome=m.outcome,
            result=m.result,
            finished_at=m.finished_at,
            problems=m.problems,
        )


JobItemType.__strawberry_definition__.name = "JobItem"


@strawberry.type(description="Work done in the background from a durable record: poll it for progress.")
class JobType:
    id: strawberry.ID
    kind: str
    params: strawberry.scalars.JSON
    status: JobStatusEnum
    done: int = strawberry.field(description="Subjects handled so far ...")
    total: int | None = strawberry.field(description="... out of this many (null until known).")
    attempts: int
    result: strawberry.scalars.JSON | None
    created_by: strawberry.ID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    problems: strawberry.Private[list | None]

    @strawberry.field(description="Why the job failed as a whole.")
    def errors(self, info: Info) -> list[UserError]:
        return problem_errors(self.problems, info.context.lang)

    @strawberry.field(
        description="The file the job made (a document, a zip, a workbook), same token; null until it succeeds."
    )
    def download_url(self) -> str | None:
        return f"/jobs/{self.id}/file" if service.has_file(self.status, self.result) else None

    @strawberry.field(description="Each subject's outcome, in the order handled.")
    async def items(
        self, info: Info, first: int | None = None, after: str | None = None, outcome: ItemOutcomeEnum | None = None
    ) -> Connection[JobItemType]:
        page = await info.context.call(service.list_items, uuid.UUID(self.id), page_request(first, after), outcome)
        return to_connection(page, JobItemType.of)

    @classmethod
    def of(cls, m: Job) -> JobType:
        return cls(
            id=strawberry.ID(str(m.id)),
            kind=m.kind,
            params=m.params,
            status=m.status,
            done=m.done,
            total=m.total,
            attempts=m.attempts,
            result=m.result,
            created_by=strawberry.ID(str(m.created_by)) if m.created_by else None,
            created_at=m.created_at,
            started_at=m.started_at,
            finished_at=m.finished_at,
            problems=m.problems,
        )


JobType.__strawberry_definition__.name = "Job"


@strawberry.type
class JobPayload:
    job: JobType | None = None
    errors: list[UserError]


@strawberry.type
class JobQuery:
    @strawberry.field(extensions=requires())
    async def job(self, info: Info, id: strawberry.ID) -> JobType | None:
        row = await maybe(info, lambda s: service.get_job(s, parse_id(id)))
        return JobType.of(row) if row else None

    @strawberry.field(extensions=requires(), description="Newest first.")
    async def jobs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        kind: str | None = None,
        status: JobStatusEnum | None = None,
    ) -> Connection[JobType]:
        f = service.JobFilter(kind=kind, status=status)
        page = await info.context.call(service.list_jobs, page_request(first, after), f)
        return to_connection(page, JobType.of)
