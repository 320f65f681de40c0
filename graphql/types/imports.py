"""Staged batch-workbook imports over GraphQL: the preview, then confirm (or discard, or check again).

The file itself is uploaded by ``POST /imports`` (graphql/imports_http.py): a GraphQL body is capped.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from shebao.graphql.errors import UserError, run_mutation
from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Connection, page_request, to_connection
from shebao.graphql.types.companies import maybe, parse_id
from shebao.graphql.types.figures import DeclarationKindEnum
from shebao.graphql.types.jobs import JobType, problem_errors
from shebao.platform.auth.permissions import Permission
from shebao.platform.errors import Problem
from shebao.platform.imports import service
from shebao.platform.imports.models import ImportStatus, WorkbookImport
from shebao.platform.jobs.dispatch import dispatch_safely
from shebao.platform.jobs.service import get_job

ImportStatusEnum = strawberry.enum(ImportStatus, name="WorkbookImportStatus")
MAX_PROBLEMS_PAGE = 500


@strawberry.type(description="What the check found in the file's rows.")
class ImportSummary:
    rows_read: int
    rows_valid: int
    rows_failed: int
    head_count: int = strawberry.field(description="Distinct ID numbers among the valid rows.")
    total_wage: Decimal = strawberry.field(description="The declared monthly bases of the valid rows.")


@strawberry.type(description="One problem on one row: where (row, column) and which rule.")
class ImportRowProblem:
    row: int
    column: str | None = strawberry.field(description="The template's column label (申报工资).")
    letter: str | None = strawberry.field(description="The column's letter in the uploaded sheet.")
    field: str | None
    code: str
    message: str


@strawberry.type(name="WorkbookImport", description="An uploaded batch workbook: its preview, then its drafts.")
class WorkbookImportType:
    id: strawberry.ID
    status: ImportStatusEnum
    kind: DeclarationKindEnum
    region_code: str
    company_id: strawberry.ID | None = strawberry.field(description="Null for an agency-wide file.")
    filename: str
    size: int
    sha256: str
    summary: ImportSummary | None = strawberry.field(description="Null while the file is being checked.")
    declarations: int = strawberry.field(description="Drafts made when it was confirmed.")
    created_at: datetime
    checked_at: datetime | None
    confirmed_at: datetime | None
    m: strawberry.Private[WorkbookImport]

    @strawberry.field(description="Why the file is refused whole (status rejected).")
    def file_errors(self, info: Info) -> list[UserError]:
        return problem_errors(self.m.problems, info.context.lang)

    @strawberry.field(description="What the region says about the rows (bring the contract...), with row counts.")
    def notices(self, info: Info) -> list[str]:
        return [e.message for e in problem_errors(self.m.notices, info.context.lang)]

    @strawberry.field(description="Every problem by row, in row order (offset-paged: `first` at most 500).")
    def row_problems(self, info: Info, first: int = 100, offset: int = 0) -> list[ImportRowProblem]:
        first = max(0, min(first, MAX_PROBLEMS_PAGE))
        out = []
        for p in (self.m.row_problems or [])[max(offset, 0) : max(offset, 0) + first]:
            problem = Problem.stored(p)
            out.append(
                ImportRowProblem(
                    row=p["row"],
                    column=p.get("column"),
                    letter=p.get("letter"),
                    field=p.get("field"),
                    code=p["code"],
                    message=problem.message(info.context.lang),
                )
            )
        return out

    @strawberry.field(description="The failed rows with their reasons, to fix and upload again (same token).")
    def error_report_url(self) -> str | None:
        return f"/imports/{self.id}/error-report" if self.m.report_key else None

    @strawberry.field(description="The latest check or confirm job.")
    async def job(self, info: Info) -> JobType | None:
        if self.m.job_id is None:
            return None
        row = await maybe(info, lambda s: get_job(s, self.m.job_id))
        return JobType.of(row) if row else None

    @classmethod
    def of(cls, m: WorkbookImport) -> WorkbookImportType:
        s = m.summary
        return cls(
            id=strawberry.ID(str(m.id)),
            status=m.status,
            kind=m.kind,
            region_code=m.region_code,
            company_id=strawberry.ID(str(m.company_id)) if m.company_id else None,
            filename=m.filename,
            size=m.size,
            sha256=m.sha256,
            summary=ImportSummary(
                rows_read=s["rows_read"],
                rows_valid=s["rows_valid"],
                rows_failed=s["rows_failed"],
                head_count=s["head_count"],
                total_wage=Decimal(s["total_wage"]),
            )
            if s
            else None,
            declarations=m.declarations,
            created_at=m.created_at,
            checked_at=m.checked_at,
            confirmed_at=m.confirmed_at,
            m=m,
        )


@strawberry.type
class WorkbookImportPayload:
    workbook_import: WorkbookImportType | None = None
    job: JobType | None = None
    errors: list[UserError]


@strawberry.type
class ImportQuery:
    @strawberry.field(extensions=requires())
    async def workbook_import(self, info: Info, id: strawberry.ID) -> WorkbookImportType | None:
        row = await maybe(info, lambda s: service.get_import(s, parse_id(id)))
        return WorkbookImportType.of(row) if row else None

    @strawberry.field(extensions=requires(), description="Newest first.")
    async def workbook_imports(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WorkbookImportType]:
        page = await info.context.call(service.list_imports, page_request(first, after))
        return to_connection(page, WorkbookImportType.of)


WRITE = requires(Permission.DECLARATIONS_WRITE)


async def _started(info: Info, fn, *args, **kwargs) -> WorkbookImportPayload:
    """As :func:`start_job`: the service records the job; once committed, a worker is woken for it."""
    started, errors = await run_mutation(info, fn, *args, **kwargs)
    if started is None:
        return WorkbookImportPayload(errors=errors)
    if info.context.dispatcher is not None:
        await dispatch_safely(info.context.dispatcher, started.job)
    return WorkbookImportPayload(
        workbook_import=WorkbookImportType.of(started.workbook_import), job=JobType.of(started.job), errors=[]
    )


@strawberry.type
class ImportMutation:
    @strawberry.mutation(
        extensions=WRITE,
        description="Draft every valid row in one transaction (a job). Failed rows stop it unless skipFailedRows.",
    )
    async def confirm_workbook_import(
        self, info: Info, id: strawberry.ID, skip_failed_rows: bool = False
    ) -> WorkbookImportPayload:
        return await _started(info, service.confirm, _uuid(id), skip_failed_rows=skip_failed_rows)

    @strawberry.mutation(extensions=WRITE, description="Check the file again (the facts changed since).")
    async def recheck_workbook_import(self, info: Info, id: strawberry.ID) -> WorkbookImportPayload:
        return await _started(info, service.recheck, _uuid(id))

    @strawberry.mutation(extensions=WRITE, description="Give up the preview; the same file may be uploaded again.")
    async def discard_workbook_import(self, info: Info, id: strawberry.ID) -> WorkbookImportPayload:
        row, errors = await run_mutation(info, service.discard, _uuid(id))
        return WorkbookImportPayload(workbook_import=WorkbookImportType.of(row) if row else None, errors=errors)


def _uuid(value: strawberry.ID) -> uuid.UUID:
    return parse_id(value, "id")
