"""The GraphQL schema: every domain's queries and mutations, with limits and error shaping."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.utils.logging import StrawberryLogger

from shebao.graphql.errors import ErrorShaping
from shebao.graphql.types.audit import AuditQuery
from shebao.graphql.types.auth import AuthMutation, AuthQuery
from shebao.graphql.types.common import SCALAR_MAP
from shebao.graphql.types.companies import CompanyMutation, CompanyQuery
from shebao.graphql.types.declarations import DeclarationMutation, DeclarationQuery
from shebao.graphql.types.documents import DocumentMutation
from shebao.graphql.types.exports import ExportMutation
from shebao.graphql.types.imports import ImportMutation, ImportQuery
from shebao.graphql.types.jobs import JobQuery
from shebao.graphql.types.people import PeopleMutation, PeopleQuery
from shebao.graphql.types.policy import PolicyMutation, PolicyQuery
from shebao.graphql.types.regions import RegionQuery
from shebao.graphql.types.settlements import SettlementMutation, SettlementQuery
from shebao.platform.config import Settings
from shebao.platform.errors import ShebaoError


@strawberry.type
class Query(
    AuthQuery,
    CompanyQuery,
    PeopleQuery,
    DeclarationQuery,
    RegionQuery,
    PolicyQuery,
    AuditQuery,
    SettlementQuery,
    JobQuery,
    ImportQuery,
):
    pass


@strawberry.type
class Mutation(
    AuthMutation,
    CompanyMutation,
    PeopleMutation,
    DeclarationMutation,
    PolicyMutation,
    SettlementMutation,
    DocumentMutation,
    ExportMutation,
    ImportMutation,
):
    pass


class ShebaoSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context=None) -> None:
        # Refusals (permissions, bad arguments, limits) are answers, not incidents: log only the
        # unexpected, which ErrorShaping has not already replaced and logged.
        for error in errors:
            original = error.original_error
            if original is not None and not isinstance(original, GraphQLError | ShebaoError):
                StrawberryLogger.error(error, execution_context)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    return ShebaoSchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            ErrorShaping,
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: MaxAliasesLimiter(max_alias_count=30),
        ],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
    )


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
