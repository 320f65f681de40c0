"""Settling every client company of the agency in a region for a month, as one durable job.

The job walks the companies in chunks: each chunk's facts are read with a few queries, its bills
computed together and written in one transaction with each company's outcome (settled, or refused
and why), so progress is visible chunk by chunk, memory stays flat however large the agency, and a
job that runs again (a killed worker, the sweeper) resumes with the companies not yet recorded.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.clock import today
from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.jobs.models import ItemOutcome, Job, JobItem
from shebao.platform.jobs.runner import JobRun, handler, problems_json
from shebao.platform.jobs.service import create_job
from shebao.platform.regions.registry import registry
from shebao.platform.settlement.compute import Cards
from shebao.platform.settlement.freeze import Planned, freeze_many, plan, region_mode
from shebao.platform.tenancy.session import current_actor

KIND = "settle_region"
CHUNK = 50  # companies per transaction


async def start_region_settlement(
    session, region_code: str, month: Month, mode: str | None = None, *, on: date | None = None
) -> Job:
    """Record the job (the adapter dispatches it after the commit)."""
    actor = current_actor(session)
    actor.require(Permission.SETTLEMENTS_MANAGE)
    actor.require_agency_wide("regionCode")
    region = registry().get(region_code)
    if mode is not None:
        region_mode(region, mode)  # an unknown mode is refused now, not company by company
    params: dict[str, Any] = {"region": region.code, "month": str(month), "mode": mode}
    if on is not None:
        params["on"] = on.isoformat()
    return await create_job(session, KIND, params)


def _settled_result(rows) -> dict[str, Any]:
    total = sum((r.total for r in rows), Decimal("0.00"))
    return {"settlement_ids": [str(r.id) for r in rows], "total": str(total), "lines": sum(r.line_count for r in rows)}


async def _write(run: JobRun, session, plans: list[Planned]) -> None:
    """Freeze the chunk's bills and record every company's outcome, in the caller's transaction."""
    ready = [p for p in plans if p.refusal is None]
    frozen = dict(zip((p.company.id for p in ready), await freeze_many(session, ready), strict=True))
    for planned in plans:
        company = planned.company
        if planned.refusal is not None:
            problems = problems_json(planned.refusal)
            run.record(session, company.id, company.name, ItemOutcome.REFUSED, problems=problems)
        else:
            run.record(session, company.id, company.name, ItemOutcome.DONE, result=_settled_result(frozen[company.id]))


async def _one_by_one(run: JobRun, chunk: list[uuid.UUID], month, mode, on, cards) -> None:
    """A chunk whose write collided with a settlement made meanwhile: each company on its own."""
    for company_id in chunk:
        async with run.session() as session:
            company = await session.scalar(select(ClientCompany).where(ClientCompany.id == company_id))
            name = company.name  # read before a rollback expires it
            plans = await plan(session, [company], month, mode, None, on, cards)
            try:
                await _write(run, session, plans)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                refusal = ShebaoError.of(ErrorCode.ALREADY_SETTLED, "month", company=name, month=str(month))
                run.record(session, company_id, name, ItemOutcome.REFUSED, problems=problems_json(refusal))
                await session.commit()


@handler(KIND)
async def run_region_settlement(run: JobRun) -> dict[str, Any]:
    month = Month.parse(run.params["month"])
    region_code, mode = run.params["region"], run.params.get("mode")
    on = date.fromisoformat(run.params["on"]) if run.params.get("on") else today()
    async with run.session() as session:
        stmt = select(ClientCompany.id).where(ClientCompany.region_code == region_code).order_by(ClientCompany.id)
        company_ids = list((await session.scalars(stmt)).all())
    finished = await run.finished_subjects()
    todo = [c for c in company_ids if c not in finished]
    done = len(company_ids) - len(todo)
    await run.progress(done, len(company_ids))
    cards = Cards()
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        async with run.session() as session:
            stmt = select(ClientCompany).where(ClientCompany.id.in_(chunk)).order_by(ClientCompany.id)
            companies = list((await session.scalars(stmt)).all())
            try:
                await _write(run, session, await plan(session, companies, month, mode, None, on, cards))
                await session.commit()
            except IntegrityError:
                await session.rollback()
                await _one_by_one(run, chunk, month, mode, on, cards)
        done += len(chunk)
        await run.progress(done)
    async with run.session() as session:
        stmt = select(JobItem.outcome, func.count()).where(JobItem.job_id == run.job_id).group_by(JobItem.outcome)
        counts = {outcome: n for outcome, n in await session.execute(stmt)}
    return {
        "region": region_code,
        "month": str(month),
        "settled_on": on.isoformat(),
        "companies": len(company_ids),
        "settled": counts.get(ItemOutcome.DONE, 0),  # over every run of the job
        "refused": counts.get(ItemOutcome.REFUSED, 0),
        "resumed_after": len(finished),
    }
