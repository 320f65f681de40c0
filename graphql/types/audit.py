"""The audit log and the regions, read over GraphQL."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Connection, page_request, to_connection
from shebao.graphql.types.companies import parse_id
from shebao.platform.audit import service as audit
from shebao.platform.audit.models import AuditEntry
from shebao.platform.auth.permissions import Permission
from shebao.platform.regions.registry import registry


@strawberry.type(description="One change: who, when, what, with the values before and after.")
class AuditLogEntry:
    id: strawberry.ID
    at: datetime
    actor_user_id: strawberry.ID | None
    actor_token_id: strawberry.ID | None
    action: str
    entity_type: str
    entity_id: strawberry.ID | None
    company_id: strawberry.ID | None
    before: strawberry.scalars.JSON | None
    after: strawberry.scalars.JSON | None
    request_id: str | None

    @classmethod
    def from_model(cls, m: AuditEntry) -> AuditLogEntry:
        def sid(v):
            return strawberry.ID(str(v)) if v else None

        return cls(
            id=sid(m.id),
            at=m.at,
            actor_user_id=sid(m.actor_user_id),
            actor_token_id=sid(m.actor_token_id),
            action=m.action,
            entity_type=m.entity_type,
            entity_id=sid(m.entity_id),
            company_id=sid(m.company_id),
            before=m.before,
            after=m.after,
            request_id=m.request_id,
        )


@strawberry.type(description="A region served by an installed region plugin.")
class Region:
    code: str
    name_zh: str
    name_en: str
    plugin: str
    unit_number_pattern: str | None
    unit_number_hint: str


@strawberry.type
class AuditQuery:
    @strawberry.field(extensions=requires(Permission.AUDIT_READ), description="Newest first.")
    async def audit_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        entity_type: str | None = None,
        entity_id: strawberry.ID | None = None,
        actor_user_id: strawberry.ID | None = None,
        action: str | None = None,
    ) -> Connection[AuditLogEntry]:
        page = await info.context.call(
            lambda s: audit.list_entries(
                s,
                page_request(first, after),
                entity_type=entity_type,
                entity_id=parse_id(entity_id, "entityId") if entity_id else None,
                actor_user_id=parse_id(actor_user_id, "actorUserId") if actor_user_id else None,
                action=action,
            )
        )
        return to_connection(page, AuditLogEntry.from_model)

    @strawberry.field(extensions=requires())
    def regions(self, info: Info) -> list[Region]:
        lang = info.context.lang
        return [
            Region(
                code=r.region.code,
                name_zh=r.region.name_zh,
                name_en=r.region.name_en,
                plugin=r.plugin,
                unit_number_pattern=r.region.unit_number_pattern,
                unit_number_hint=(r.region.unit_number_hint_en if lang == "en" else r.region.unit_number_hint_zh),
            )
            for r in registry().all()
        ]
