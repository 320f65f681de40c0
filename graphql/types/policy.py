"""The agency's policy library over GraphQL: its own figures for a region, recorded and withdrawn."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from shebao.graphql.errors import UserError, run_mutation
from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Connection, Month, page_request, to_connection
from shebao.graphql.types.companies import parse_id
from shebao.graphql.types.figures import ConfidenceEnum
from shebao.platform.auth.permissions import Permission
from shebao.platform.policy import service as policy
from shebao.platform.policy.models import PolicyFigure
from shebao.platform.regions import api


@strawberry.type(description="A figure in the agency's policy library (its own, over the plugin's).")
class PolicyFigureType:
    id: strawberry.ID
    region_code: str
    name: str
    since: Month
    value: str
    source: str
    source_url: str | None
    confidence: ConfidenceEnum
    note: str | None
    active: bool
    recorded_by: strawberry.ID | None
    created_at: datetime
    withdrawn_at: datetime | None
    withdrawn_by: strawberry.ID | None
    withdraw_reason: str | None

    @classmethod
    def of(cls, m: PolicyFigure) -> PolicyFigureType:
        return cls(
            id=strawberry.ID(str(m.id)),
            region_code=m.region_code,
            name=m.name,
            since=m.since,
            value=m.value,
            source=m.source,
            source_url=m.source_url,
            confidence=m.confidence,
            note=m.note,
            active=m.active,
            recorded_by=strawberry.ID(str(m.recorded_by)) if m.recorded_by else None,
            created_at=m.created_at,
            withdrawn_at=m.withdrawn_at,
            withdrawn_by=strawberry.ID(str(m.withdrawn_by)) if m.withdrawn_by else None,
            withdraw_reason=m.withdraw_reason,
        )


PolicyFigureType.__strawberry_definition__.name = "PolicyFigure"


@strawberry.input(description="A figure the agency has (the bureau's notice, say), used from `since` on.")
class RecordPolicyFigureInput:
    region_code: str
    name: str = strawberry.field(description="A parameter name, e.g. base.floor or pension.employer_rate.")
    since: Month
    value: str = strawberry.field(description="Rates in percent (16 = 16%), amounts in yuan.")
    source: str = strawberry.field(description="The official document, e.g. 津人社局发〔2026〕12号.")
    source_url: str | None = None
    confidence: ConfidenceEnum = api.Confidence.OFFICIAL
    note: str | None = None


@strawberry.type
class PolicyFigurePayload:
    figure: PolicyFigureType | None = None
    errors: list[UserError]


@strawberry.type
class PolicyQuery:
    @strawberry.field(extensions=requires(), description="The agency's own figures, newest first.")
    async def policy_figures(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        region_code: str | None = None,
        name: str | None = None,
        include_withdrawn: bool = False,
    ) -> Connection[PolicyFigureType]:
        page = await info.context.call(
            policy.list_figures,
            page_request(first, after),
            region_code=region_code,
            name=name,
            include_withdrawn=include_withdrawn,
        )
        return to_connection(page, PolicyFigureType.of)


@strawberry.type
class PolicyMutation:
    @strawberry.mutation(extensions=requires(Permission.POLICY_MANAGE))
    async def record_policy_figure(self, info: Info, input: RecordPolicyFigureInput) -> PolicyFigurePayload:
        new = policy.NewFigure(**vars(input))
        row, errors = await run_mutation(info, policy.record_figure, new)
        return PolicyFigurePayload(figure=PolicyFigureType.of(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=requires(Permission.POLICY_MANAGE))
    async def withdraw_policy_figure(self, info: Info, id: strawberry.ID, reason: str) -> PolicyFigurePayload:
        row, errors = await run_mutation(info, lambda s: policy.withdraw_figure(s, parse_id(id), reason))
        return PolicyFigurePayload(figure=PolicyFigureType.of(row) if row else None, errors=errors)
