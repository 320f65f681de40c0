"""Documents over GraphQL: ask for one (or one kind for a whole region), poll the job, download."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from shebao.graphql.errors import start_job
from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Month
from shebao.graphql.types.companies import parse_id
from shebao.graphql.types.figures import DocumentKindEnum
from shebao.graphql.types.jobs import JobPayload, JobType
from shebao.platform.auth.permissions import Permission
from shebao.platform.documents import jobs


@strawberry.input(description="One document of one client company (a person's for a person's document).")
class RequestDocumentInput:
    kind: DocumentKindEnum
    company_id: strawberry.ID
    month_from: Month
    month_to: Month | None = strawberry.field(default=None, description="For the forms printed for a range.")
    person_id: strawberry.ID | None = strawberry.field(default=None, description="For a person's document.")


@strawberry.input(description="One kind of document for every client company of the agency in a region.")
class RequestRegionDocumentsInput:
    kind: DocumentKindEnum
    region_code: str
    month_from: Month
    month_to: Month | None = None


READ = requires(Permission.PERSONS_READ)


@strawberry.type
class DocumentMutation:
    @strawberry.mutation(
        extensions=READ,
        description="Checked at once, then made by a worker: poll `job(id)`; `downloadUrl` when it succeeds.",
    )
    async def request_document(self, info: Info, input: RequestDocumentInput) -> JobPayload:
        job, errors = await start_job(
            info,
            lambda s: jobs.request_document(
                s,
                input.kind,
                parse_id(input.company_id, "companyId"),
                input.month_from,
                input.month_to,
                parse_id(input.person_id, "personId") if input.person_id else None,
            ),
        )
        return JobPayload(job=JobType.of(job) if job else None, errors=errors)

    @strawberry.mutation(
        extensions=READ,
        description="Every company's file and one zip of them all; each company's outcome in `items`.",
    )
    async def request_region_documents(self, info: Info, input: RequestRegionDocumentsInput) -> JobPayload:
        job, errors = await start_job(
            info, jobs.request_region_documents, input.kind, input.region_code, input.month_from, input.month_to
        )
        return JobPayload(job=JobType.of(job) if job else None, errors=errors)
