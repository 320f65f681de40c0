"""Housekeeping jobs. Thin: they bind a tenant and call a platform service."""

from __future__ import annotations

from shebao.platform.auth.service import purge_stale_tokens as purge
from shebao.platform.tenancy.context import Actor
from shebao.platform.tenancy.filters import bind_actor
from shebao.platform.tenancy.service import list_agency_ids


async def purge_stale_tokens(ctx: dict) -> int:
    """Remove long-expired and long-revoked tokens, agency by agency (each under its own tenant)."""
    removed = 0
    async with ctx["sessionmaker"]() as session:
        agency_ids = await list_agency_ids(session)
    for agency_id in agency_ids:
        async with ctx["sessionmaker"]() as session:
            await bind_actor(session, Actor.system(agency_id, request_id=ctx.get("job_id")))
            removed += await purge(session)
            await session.commit()
    return removed
