"""Settlements over GraphQL: preview, settle (one company, or a region as a job), roll back, mark
paid, and the settlements with their lines, each line explaining itself."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from shebao.graphql.errors import UserError, run_mutation, start_job
from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Connection, Month, page_request, to_connection
from shebao.graphql.types.companies import Company, maybe, parse_id
from shebao.graphql.types.figures import ContributionLineType
from shebao.graphql.types.jobs import JobPayload, JobType
from shebao.platform.auth.permissions import Permission
from shebao.platform.settlement import basis, batch, queries, service
from shebao.platform.settlement.compute import Bill
from shebao.platform.settlement.models import Settlement, SettlementLine, SettlementStatus

SettlementStatusEnum = strawberry.enum(SettlementStatus, name="SettlementStatus")
MAX_PREVIEW_LINES = 500


@strawberry.type(description="One person, insurance kind and month billed, frozen with the settlement.")
class SettlementLineType:
    id: strawberry.ID
    person_id: strawberry.ID
    declaration_id: strawberry.ID | None = strawberry.field(description="The back payment this line bills.")
    month: Month = strawberry.field(description="The month billed (a back payment bills earlier months).")
    kind: str
    base_declared: Decimal
    base_used: Decimal | None
    clamp: str | None = strawberry.field(description='"floor" or "ceiling" when the base was moved to a limit.')
    employer_rate: Decimal | None = strawberry.field(description="Percent of the base used.")
    employer_amount: Decimal
    employer_exemption: str | None
    employee_rate: Decimal | None
    employee_amount: Decimal
    employee_exemption: str | None
    late_fee: Decimal
    late_days: int
    explanation: list[str] = strawberry.field(description="Which figures, from which source, since when.")

    @classmethod
    def of(cls, m: SettlementLine, frozen: dict) -> SettlementLineType:
        return cls(
            id=strawberry.ID(str(m.id)),
            person_id=strawberry.ID(str(m.person_id)),
            declaration_id=strawberry.ID(str(m.declaration_id)) if m.declaration_id else None,
            month=m.month,
            kind=m.kind,
            base_declared=m.base_declared,
            base_used=m.base_used,
            clamp=m.clamp,
            employer_rate=Decimal(m.employer_rate) if m.employer_rate else None,
            employer_amount=m.employer_amount,
            employer_exemption=m.employer_exempt,
            employee_rate=Decimal(m.employee_rate) if m.employee_rate else None,
            employee_amount=m.employee_amount,
            employee_exemption=m.employee_exempt,
            late_fee=m.late_fee,
            late_days=m.late_days,
            explanation=basis.explain(m, frozen),
        )


SettlementLineType.__strawberry_definition__.name = "SettlementLine"


@strawberry.input
class SettlementLineFilterInput:
    person_id: strawberry.ID | None = None
    kind: str | None = None
    month: Month | None = None


@strawberry.type(description="A client company's month (or one insurance kind's plan of it), settled and frozen.")
class SettlementType:
    id: strawberry.ID
    company_id: strawberry.ID
    region_code: str
    month: Month
    mode: str
    kind_scope: str = strawberry.field(description='"all", or the insurance kind of a per-kind plan (征集计划).')
    status: SettlementStatusEnum
    employer_total: Decimal
    employee_total: Decimal
    late_fee_total: Decimal
    total: Decimal
    line_count: int
    settled_by: strawberry.ID | None
    created_at: datetime
    paid_at: datetime | None
    rolled_back_at: datetime | None

    @strawberry.field
    async def company(self, info: Info) -> Company | None:
        row = await info.context.loaders.company.load(uuid.UUID(self.company_id))
        return Company.from_model(row) if row else None

    @strawberry.field(description="The lines, page by page.")
    async def lines(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: SettlementLineFilterInput | None = None,
    ) -> Connection[SettlementLineType]:
        f = None
        if filter is not None:
            person = parse_id(filter.person_id, "personId") if filter.person_id else None
            f = queries.LineFilter(person_id=person, kind=filter.kind, month=filter.month)
        settlement, page = await info.context.call(
            queries.list_lines, uuid.UUID(self.id), page_request(first, after), f
        )
        return to_connection(page, lambda line: SettlementLineType.of(line, settlement.basis))

    @classmethod
    def of(cls, m: Settlement) -> SettlementType:
        return cls(
            id=strawberry.ID(str(m.id)),
            company_id=strawberry.ID(str(m.company_id)),
            region_code=m.region_code,
            month=m.month,
            mode=m.mode,
            kind_scope=m.kind_scope,
            status=m.status,
            employer_total=m.employer_total,
            employee_total=m.employee_total,
            late_fee_total=m.late_fee_total,
            total=m.total,
            line_count=m.line_count,
            settled_by=strawberry.ID(str(m.settled_by)) if m.settled_by else None,
            created_at=m.created_at,
            paid_at=m.paid_at,
            rolled_back_at=m.rolled_back_at,
        )


SettlementType.__strawberry_definition__.name = "Settlement"


@strawberry.type
class KindTotal:
    kind: str
    employer: Decimal
    employee: Decimal


@strawberry.type(description="A previewed line: the person and month, and the line as it would be stored.")
class PreviewLine:
    person_id: strawberry.ID
    declaration_id: strawberry.ID | None
    month: Month
    line: ContributionLineType
    late_fee: Decimal
    late_days: int


@strawberry.type(description="The bill a settlement would freeze now (nothing is stored).")
class SettlementPreview:
    company_id: strawberry.ID
    month: Month
    employer_total: Decimal
    employee_total: Decimal
    late_fee_total: Decimal
    total: Decimal
    line_count: int
    totals_by_kind: list[KindTotal]
    lines: list[PreviewLine] = strawberry.field(description=f"The first lines (at most {MAX_PREVIEW_LINES}).")

    @classmethod
    def of(cls, bill: Bill, offset: int, first: int) -> SettlementPreview:
        return cls(
            company_id=strawberry.ID(str(bill.company.id)),
            month=bill.month,
            employer_total=bill.employer_total,
            employee_total=bill.employee_total,
            late_fee_total=bill.late_fee_total,
            total=bill.total,
            line_count=len(bill.lines),
            totals_by_kind=[KindTotal(kind=k, employer=e, employee=p) for k, (e, p) in bill.totals_by_kind().items()],
            lines=[
                PreviewLine(
                    person_id=strawberry.ID(str(b.person_id)),
                    declaration_id=strawberry.ID(str(b.declaration_id)) if b.declaration_id else None,
                    month=b.month,
                    line=ContributionLineType.of(b.line),
                    late_fee=b.late_fee,
                    late_days=b.late_days,
                )
                for b in bill.lines[offset : offset + first]
            ],
        )


@strawberry.input
class SettlementFilterInput:
    company_id: strawberry.ID | None = None
    region_code: str | None = None
    month: Month | None = None
    status: SettlementStatusEnum | None = None
    kind_scope: str | None = None


@strawberry.input
class SettleInput:
    company_id: strawberry.ID
    month: Month
    mode: str | None = strawberry.field(default=None, description="The region's mode; optional when it has one.")
    kind: str | None = strawberry.field(default=None, description="Per-kind plans only: settle just this kind.")


@strawberry.input
class SettleRegionInput:
    region_code: str
    month: Month
    mode: str | None = None


@strawberry.type
class SettlePayload:
    settlements: list[SettlementType]
    errors: list[UserError]


@strawberry.type
class SettlementPayload:
    settlement: SettlementType | None = None
    errors: list[UserError]


@strawberry.type
class SettlementQuery:
    @strawberry.field(extensions=requires(Permission.PERSONS_READ), description="Newest first.")
    async def settlements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: SettlementFilterInput | None = None,
    ) -> Connection[SettlementType]:
        f = None
        if filter is not None:
            f = queries.SettlementFilter(
                company_id=parse_id(filter.company_id, "companyId") if filter.company_id else None,
                region_code=filter.region_code,
                month=filter.month,
                status=filter.status,
                kind_scope=filter.kind_scope,
            )
        page = await info.context.call(queries.list_settlements, page_request(first, after), f)
        return to_connection(page, SettlementType.of)

    @strawberry.field(extensions=requires(Permission.PERSONS_READ))
    async def settlement(self, info: Info, id: strawberry.ID) -> SettlementType | None:
        row = await maybe(info, lambda s: service.get_settlement(s, parse_id(id)))
        return SettlementType.of(row) if row else None

    @strawberry.field(
        extensions=requires(Permission.PERSONS_READ),
        description="The bill a settlement of the month would freeze now; null for an unknown company.",
    )
    async def settlement_preview(
        self, info: Info, company_id: strawberry.ID, month: Month, offset: int = 0, first: int = 100
    ) -> SettlementPreview | None:
        bill = await maybe(info, lambda s: service.preview(s, parse_id(company_id, "companyId"), month))
        offset, first = max(offset, 0), min(max(first, 0), MAX_PREVIEW_LINES)
        return SettlementPreview.of(bill, offset, first) if bill else None


MANAGE = requires(Permission.SETTLEMENTS_MANAGE)


@strawberry.type
class SettlementMutation:
    @strawberry.mutation(extensions=MANAGE, description="Settle a company's month by its region's mode.")
    async def settle(self, info: Info, input: SettleInput) -> SettlePayload:
        rows, errors = await run_mutation(
            info,
            lambda s: service.settle(
                s, parse_id(input.company_id, "companyId"), input.month, input.mode, kind=input.kind
            ),
        )
        return SettlePayload(settlements=[SettlementType.of(r) for r in rows or []], errors=errors)

    @strawberry.mutation(
        extensions=MANAGE,
        description="Settle every client company of the agency in a region for a month, as a job: "
        "poll `job(id)` for progress and each company's outcome.",
    )
    async def settle_region(self, info: Info, input: SettleRegionInput) -> JobPayload:
        job, errors = await start_job(info, batch.start_region_settlement, input.region_code, input.month, input.mode)
        return JobPayload(job=JobType.of(job) if job else None, errors=errors)

    @strawberry.mutation(extensions=MANAGE, description="核定回退: while unpaid, where the region allows it.")
    async def rollback_settlement(self, info: Info, id: strawberry.ID) -> SettlementPayload:
        row, errors = await run_mutation(info, lambda s: service.rollback(s, parse_id(id)))
        return SettlementPayload(settlement=SettlementType.of(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=MANAGE, description="Record that the bill was paid (it can no longer change).")
    async def mark_settlement_paid(self, info: Info, id: strawberry.ID) -> SettlementPayload:
        row, errors = await run_mutation(info, lambda s: service.mark_paid(s, parse_id(id)))
        return SettlementPayload(settlement=SettlementType.of(row) if row else None, errors=errors)
