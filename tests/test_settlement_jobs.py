"""Settling every client company of a region for a month as a durable job: per-company outcomes,
progress, resuming after a dead run, a single claim when delivered twice, and a real arq worker
taking the job from Redis (dispatched, or found by the sweeper when the dispatch was lost)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import func, select, update

from shebao.platform.companies import service as companies
from shebao.platform.core.clock import utcnow
from shebao.platform.core.month import Month
from shebao.platform.declarations import service as declarations
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.jobs import service as jobs
from shebao.platform.jobs.dispatch import InProcessDispatcher, sweep
from shebao.platform.jobs.models import ItemOutcome, Job, JobItem, JobStatus
from shebao.platform.jobs.runner import run_job
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.settlement import batch
from shebao.platform.settlement import service as settlements
from shebao.platform.settlement.models import Settlement, SettlementLine
from shebao.platform.tenancy.context import Actor
from shebao.workers.dispatch import ArqDispatcher
from shebao.workers.settings import deserialize, serialize
from tests.conftest import REDIS
from tests.factories import company_values, resident_id

pytestmark = pytest.mark.anyio
OCT = Month(2026, 10)


def _add(base: str = "8000") -> dict:
    return {
        "id_number": resident_id(),
        "name": "钱七",
        "household_type": "local_urban",
        "employment_form": "contract",
        "start_month": "2026-06",
        "monthly_base": base,
    }


async def _region_of_companies(s, ready: int = 3) -> dict[str, list]:
    """Tianjin companies: ``ready`` that can be settled, one with a pending declaration for October,
    one with nobody enrolled, one already settled."""
    out: dict[str, list] = {"ready": [], "pending": [], "empty": [], "settled": []}
    for _ in range(ready):
        c = await companies.create_company(s, company_values("tianjin"))
        for base in ("5013", "9000"):
            row = await declarations.create_declaration(s, c.id, DeclarationKind.ADD, _add(base))
            await declarations.submit(s, [row.id])
            await declarations.approve(s, [row.id])
        out["ready"].append(c)
    pending = await companies.create_company(s, company_values("tianjin"))
    await declarations.create_declaration(s, pending.id, DeclarationKind.ADD, {**_add(), "start_month": "2026-10"})
    out["pending"].append(pending)
    out["empty"].append(await companies.create_company(s, company_values("tianjin")))
    settled = await companies.create_company(s, company_values("tianjin"))
    row = await declarations.create_declaration(s, settled.id, DeclarationKind.ADD, _add())
    await declarations.submit(s, [row.id])
    await declarations.approve(s, [row.id])
    await settlements.settle(s, settled.id, OCT, "with_change")
    out["settled"].append(settled)
    await s.commit()
    return out


async def _items(s, job_id) -> dict[uuid.UUID, JobItem]:
    return {i.subject_id: i for i in (await s.scalars(select(JobItem).where(JobItem.job_id == job_id))).all()}


async def test_a_region_settles_company_by_company_with_each_outcome(make_agency, session_as, sessionmaker):
    a = await make_agency("job-region")
    async with session_as(a.system) as s:
        world = await _region_of_companies(s)
        job = await batch.start_region_settlement(s, "tianjin", OCT, "with_change", on=date(2026, 11, 20))
        await s.commit()
        assert job.status is JobStatus.QUEUED

    assert await run_job(sessionmaker, a.id, job.id) == "succeeded"
    assert (await run_job(sessionmaker, a.id, job.id)).startswith("not claimed")  # finished: never again

    async with session_as(a.system) as s:
        job = await jobs.get_job(s, job.id)
        assert (job.done, job.total, job.attempts) == (6, 6, 1)
        assert job.result["settled"] == 3 and job.result["refused"] == 3
        items = await _items(s, job.id)
        for c in world["ready"]:
            assert items[c.id].outcome is ItemOutcome.DONE
            [sid] = items[c.id].result["settlement_ids"]
            settled = await settlements.get_settlement(s, uuid.UUID(sid))
            assert str(settled.total) == items[c.id].result["total"] and settled.line_count == 10
        codes = {name: items[world[name][0].id].problems[0]["code"] for name in ("pending", "empty", "settled")}
        assert codes == {"pending": "SETTLE_NOT_ALLOWED", "empty": "NOTHING_TO_SETTLE", "settled": "ALREADY_SETTLED"}
        reason = items[world["pending"][0].id].problems[0]["params"]
        assert len(reason["declaration_ids"]) == 1  # which declaration stands in the way
        # Exactly the same bill as settling the company on its own would freeze.
        preview = await settlements.preview(s, world["ready"][0].id, OCT, on=date(2026, 11, 20))
        sid = uuid.UUID(items[world["ready"][0].id].result["settlement_ids"][0])
        assert (await settlements.get_settlement(s, sid)).total == preview.total


async def test_a_job_taken_up_again_resumes_and_settles_nothing_twice(make_agency, session_as, sessionmaker):
    a = await make_agency("job-resume")
    async with session_as(a.system) as s:
        await _region_of_companies(s, ready=4)
        job = await batch.start_region_settlement(s, "tianjin", OCT, "with_change")
        await s.commit()
    assert await run_job(sessionmaker, a.id, job.id) == "succeeded"
    async with session_as(a.system) as s:
        # A worker died in the middle: the row says running, its heartbeat long gone, two outcomes
        # (and their settlements) lost with the transaction that never committed.
        items = list((await _items(s, job.id)).values())
        lost = [i for i in items if i.outcome is ItemOutcome.DONE][:2]
        for item in lost:
            for sid in item.result["settlement_ids"]:
                await s.execute(SettlementLine.__table__.delete().where(SettlementLine.settlement_id == uuid.UUID(sid)))
                await s.execute(Settlement.__table__.delete().where(Settlement.id == uuid.UUID(sid)))
            await s.delete(item)
        stale = utcnow() - timedelta(hours=1)
        await s.execute(update(Job).where(Job.id == job.id).values(status=JobStatus.RUNNING, heartbeat_at=stale))
        await s.commit()

    # Two deliveries at once: one claims the row, the other leaves it alone.
    outcomes = await asyncio.gather(run_job(sessionmaker, a.id, job.id), run_job(sessionmaker, a.id, job.id))
    assert sorted(o.split(" ")[0] for o in outcomes) == ["not", "succeeded"], outcomes
    async with session_as(a.system) as s:
        job = await jobs.get_job(s, job.id)
        assert job.attempts == 2 and job.result["resumed_after"] == 5 and job.result["settled"] == 4
        count = await s.scalar(select(func.count()).select_from(Settlement).where(Settlement.month == OCT))
        assert count == 5  # four ready companies and the one settled beforehand, each once


async def test_only_an_operator_without_a_company_scope_may_settle_a_region(make_agency, session_as):
    a = await make_agency("job-scope")
    async with session_as(a.system) as s:
        company = await companies.create_company(s, company_values("tianjin"))
        await s.commit()
    scoped = Actor(agency_id=a.id, permissions=frozenset({"settlements:manage"}), company_ids=frozenset({company.id}))
    async with session_as(scoped) as s:
        with pytest.raises(ShebaoError) as caught:
            await batch.start_region_settlement(s, "tianjin", OCT, "with_change")
        assert caught.value.code == ErrorCode.AGENCY_WIDE_ONLY
    async with session_as(a.system) as s:
        for region, mode, code in (
            ("nowhere", None, ErrorCode.UNKNOWN_REGION),
            ("tianjin", "x", ErrorCode.UNKNOWN_MODE),
        ):
            with pytest.raises(ShebaoError) as caught:
                await batch.start_region_settlement(s, region, OCT, mode)
            assert caught.value.code == code


async def test_the_embedded_default_runs_the_job_in_process(make_agency, session_as, sessionmaker):
    a = await make_agency("job-inproc")
    async with session_as(a.system) as s:
        await _region_of_companies(s, ready=1)
        job = await batch.start_region_settlement(s, "tianjin", OCT, "with_change")
        await s.commit()
    dispatcher = InProcessDispatcher(sessionmaker)
    assert await dispatcher.dispatch(a.id, job.id)
    await dispatcher.drain()
    async with session_as(a.system) as s:
        assert (await jobs.get_job(s, job.id)).status is JobStatus.SUCCEEDED


async def _wait_finished(session_as, agency, job_id, seconds: float = 60) -> Job:
    for _ in range(int(seconds * 4)):
        async with session_as(agency.system) as s:
            job = await jobs.get_job(s, job_id)
            if job.status.finished:
                return job
        await asyncio.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish: {job.status}")


async def test_a_real_worker_settles_a_region_dispatched_or_swept(make_agency, session_as, sessionmaker, worker):
    a = await make_agency("job-arq")
    async with session_as(a.system) as s:
        await _region_of_companies(s, ready=2)
        dispatched = await batch.start_region_settlement(s, "tianjin", OCT, "with_change")
        lost = await batch.start_region_settlement(s, "tianjin", Month(2026, 9), "with_change")
        await s.commit()
    redis = await create_pool(
        RedisSettings.from_dsn(REDIS), job_serializer=serialize, job_deserializer=deserialize, default_queue_name=worker
    )
    try:
        dispatcher = ArqDispatcher(redis, worker)
        await dispatcher.dispatch(a.id, dispatched.id, "req-settle-1")
        await dispatcher.dispatch(a.id, dispatched.id, "req-settle-1")  # a double dispatch runs it once
        job = await _wait_finished(session_as, a, dispatched.id)
        assert (job.status, job.attempts, job.result["settled"]) == (JobStatus.SUCCEEDED, 1, 2)

        # The second job's dispatch was lost (Redis was down when it was recorded): the sweeper
        # finds it queued past the grace period and the worker runs it.
        swept = await sweep(sessionmaker, dispatcher, queued_grace=timedelta(0))
        assert swept >= 1
        job = await _wait_finished(session_as, a, lost.id)
        assert job.status is JobStatus.SUCCEEDED and job.result["month"] == "2026-09"
    finally:
        await redis.aclose()
