"""Workbook exports over GraphQL: ask for one, poll the job, download the .xlsx."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from shebao.graphql.errors import start_job
from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Month
from shebao.graphql.types.companies import parse_id
from shebao.graphql.types.jobs import JobPayload, JobType
from shebao.platform.auth.permissions import Permission
from shebao.platform.exports import jobs
from shebao.platform.exports.common import ExportKind

ExportKindEnum = strawberry.enum(
    ExportKind,
    name="ExportKind",
    description=(
        "ROSTER 花名册 (companyId or regionCode, monthFrom: the month); PAYMENTS 缴费明细 and DECLARATIONS "
        "申报记录 (companyId or regionCode, monthFrom, monthTo optional); SETTLEMENT_LINES 结算明细 (settlementId)."
    ),
)


@strawberry.input(description="What to export; give only the arguments the kind takes (others are refused).")
class RequestExportInput:
    kind: ExportKindEnum
    company_id: strawberry.ID | None = strawberry.field(default=None, description="One client company ...")
    region_code: str | None = strawberry.field(
        default=None, description="... or every client company of the agency in a region (no company scope)."
    )
    month_from: Month | None = strawberry.field(default=None, description="The roster's month; a range's first.")
    month_to: Month | None = strawberry.field(default=None, description="A range's last month (default: monthFrom).")
    settlement_id: strawberry.ID | None = None


def _id(value: strawberry.ID | None, field: str):
    return parse_id(value, field) if value is not None else None


@strawberry.type
class ExportMutation:
    @strawberry.mutation(
        extensions=requires(Permission.PERSONS_READ),
        description="Checked at once, then written by a worker: poll `job(id)`; `downloadUrl` when it succeeds.",
    )
    async def request_export(self, info: Info, input: RequestExportInput) -> JobPayload:
        job, errors = await start_job(
            info,
            lambda s: jobs.request_export(
                s,
                input.kind,
                company_id=_id(input.company_id, "companyId"),
                region_code=input.region_code,
                month_from=input.month_from,
                month_to=input.month_to,
                settlement_id=_id(input.settlement_id, "settlementId"),
            ),
        )
        return JobPayload(job=JobType.of(job) if job else None, errors=errors)
