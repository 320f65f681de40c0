"""Job metrics (issue 8): the runner reports each outcome to the process's collector; the embedded
API's /metrics shows the jobs it ran in-process (and what its sweeper re-dispatched); a real
``shebao worker`` serves its own /metrics with the jobs it ran and the queue's depth."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from shebao.graphql import dispatch as api_dispatch
from shebao.graphql.app import create_app
from shebao.graphql.metrics import JOB_BUCKETS, JobMetrics
from shebao.platform.companies import service as companies
from shebao.platform.config import Settings
from shebao.platform.core.clock import utcnow
from shebao.platform.core.month import Month
from shebao.platform.declarations import service as declarations
from shebao.platform.jobs import service as jobs
from shebao.platform.jobs.models import Job, JobStatus
from shebao.platform.jobs.runner import run_job
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.settlement import batch
from shebao.workers.dispatch import ArqDispatcher
from shebao.workers.settings import deserialize, serialize
from tests.conftest import REDIS
from tests.factories import company_values, resident_id
from tests.test_operations import free_port, metric

pytestmark = pytest.mark.anyio
OCT = Month(2026, 10)


async def _settleable_company(s) -> None:
    """A Tianjin company with one approved enrolment: its October can be settled."""
    company = await companies.create_company(s, company_values("tianjin"))
    values = {
        "id_number": resident_id(),
        "name": "周九",
        "household_type": "local_urban",
        "employment_form": "contract",
        "start_month": "2026-06",
        "monthly_base": "8000",
    }
    row = await declarations.create_declaration(s, company.id, DeclarationKind.ADD, values)
    await declarations.submit(s, [row.id])
    await declarations.approve(s, [row.id])


async def _region_job(session_as, agency, month: Month = OCT) -> Job:
    async with session_as(agency.system) as s:
        await _settleable_company(s)
        job = await batch.start_region_settlement(s, "tianjin", month, "with_change")
        await s.commit()
    return job


def value(text: str, name: str, **labels: str) -> float:
    """A sample's value; 0 for a series not there yet (a counter nobody incremented)."""
    return metric(text, name, **labels) or 0


async def test_the_runner_reports_each_outcome(make_agency, session_as, sessionmaker):
    a = await make_agency("jm-out")
    seen = JobMetrics()
    job = await _region_job(session_as, a)
    assert await run_job(sessionmaker, a.id, job.id, observer=seen) == "succeeded"
    assert (await run_job(sessionmaker, a.id, job.id, observer=seen)).startswith("not claimed")  # finished

    async with session_as(a.system) as s:
        unknown = await jobs.create_job(s, "no_such_kind", {})  # the handler is missing: failed
        tired = await batch.start_region_settlement(s, "tianjin", Month(2026, 9), "with_change")
        await s.execute(update(Job).where(Job.id == tired.id).values(attempts=5))  # the next is the sixth
        await s.commit()
    assert await run_job(sessionmaker, a.id, unknown.id, observer=seen) == "failed"
    assert await run_job(sessionmaker, a.id, tired.id, observer=seen) == "failed"
    async with session_as(a.system) as s:
        assert (await jobs.get_job(s, tired.id)).problems[0]["code"] == "JOB_ABANDONED"

    text = "\n".join(seen.lines())
    assert "# TYPE shebao_jobs_total counter" in text and "# TYPE shebao_job_duration_seconds histogram" in text
    counts = {
        (kind, outcome): metric(text, "shebao_jobs_total", kind=kind, outcome=outcome)
        for kind, outcome in (
            ("settle_region", "succeeded"),
            ("settle_region", "skipped"),
            ("settle_region", "abandoned"),
            ("no_such_kind", "failed"),
        )
    }
    assert set(counts.values()) == {1}, counts
    # Only the runs that ran are timed; the skipped and abandoned deliveries are not.
    assert metric(text, "shebao_job_duration_seconds_count", kind="settle_region") == 1
    assert metric(text, "shebao_job_duration_seconds_count", kind="no_such_kind") == 1
    buckets = [
        metric(text, "shebao_job_duration_seconds_bucket", kind="settle_region", le=le)
        for le in ("0.1", "60", "21600", "+Inf")
    ]
    assert buckets == sorted(buckets) and buckets[-1] == 1
    assert JOB_BUCKETS[0] == 0.1 and JOB_BUCKETS[-1] == 6 * 3600
    assert metric(text, "shebao_jobs_running", kind="settle_region") == 0


async def test_the_embedded_metrics_show_a_job_run_in_process(make_agency, session_as, gql, app_client):
    a = await make_agency("jm-embedded")
    async with session_as(a.system) as s:
        await _settleable_company(s)
        await s.commit()
    before = (await app_client.get("/metrics")).text  # one collector per process: compare
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    started = await gql(
        'mutation{ settleRegion(input:{regionCode:"tianjin", month:"2026-10", mode:"with_change"})'
        "{ job { id } errors { code } } }",
        token=token,
    )
    job_id = started["settleRegion"]["job"]["id"]
    for _ in range(200):
        status = (await gql("query($id:ID!){ job(id:$id){ status } }", {"id": job_id}, token=token))["job"]["status"]
        if status == "SUCCEEDED":
            break
        await asyncio.sleep(0.05)
    assert status == "SUCCEEDED"
    for _ in range(50):  # the outcome is counted a moment after the row says succeeded
        after = (await app_client.get("/metrics")).text
        if value(after, "shebao_job_duration_seconds_count", kind="settle_region") > value(
            before, "shebao_job_duration_seconds_count", kind="settle_region"
        ):
            break
        await asyncio.sleep(0.05)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("shebao_jobs_total", kind="settle_region", outcome="succeeded") == 1
    assert grew("shebao_job_duration_seconds_count", kind="settle_region") == 1
    assert grew("shebao_job_duration_seconds_bucket", kind="settle_region", le="+Inf") == 1
    assert value(after, "shebao_jobs_running", kind="settle_region") == 0
    assert "# TYPE shebao_jobs_redispatched_total counter" in after
    assert metric(after, "shebao_http_requests_total", method="POST", route="/graphql", status="200") >= 3


async def test_the_embedded_sweeper_counts_what_it_redispatches(make_agency, session_as, db_url, tmp_path, monkeypatch):
    a = await make_agency("jm-sweep")
    job = await _region_job(session_as, a)
    async with session_as(a.system) as s:  # recorded, but its dispatch was lost (a restart)
        await s.execute(update(Job).where(Job.id == job.id).values(created_at=utcnow() - timedelta(minutes=5)))
        await s.commit()
    monkeypatch.setattr(api_dispatch, "FIRST_SWEEP", 0.1)
    app = create_app(Settings(database_url=db_url, storage_dir=tmp_path / "files"), check_database=False)
    async with AsyncTestClient(app=app) as client:
        before = (await client.get("/metrics")).text
        for _ in range(200):
            async with session_as(a.system) as s:
                if (await jobs.get_job(s, job.id)).status is JobStatus.SUCCEEDED:
                    break
            await asyncio.sleep(0.05)
        after = (await client.get("/metrics")).text
    assert value(after, "shebao_jobs_redispatched_total") - value(before, "shebao_jobs_redispatched_total") >= 1
    async with session_as(a.system) as s:
        assert (await jobs.get_job(s, job.id)).status is JobStatus.SUCCEEDED


async def _scrape(port: int, seconds: float = 30) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        for _ in range(int(seconds * 10)):
            try:
                return await client.get(f"http://127.0.0.1:{port}/metrics")
            except httpx.TransportError:  # the worker is still starting
                await asyncio.sleep(0.1)
    raise AssertionError(f"nothing serves on port {port}")


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_worker_serves_its_own_metrics(make_agency, session_as, workers):
    port = free_port()
    workers.start(SHEBAO_WORKER_METRICS_PORT=str(port))
    a = await make_agency("jm-worker")
    job = await _region_job(session_as, a)
    redis = await create_pool(
        RedisSettings.from_dsn(REDIS),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=workers.queue,
    )
    try:
        # A job deferred for an hour waits in the queue: the depth reads it (the worker's cron jobs
        # may add their own at a minute's turn, so the depth is at least one, not exactly one).
        await redis.enqueue_job("purge_stale_tokens", _defer_by=3600, _job_id=f"deferred-{job.id}")
        fresh = (await _scrape(port)).text
        assert metric(fresh, "shebao_queue_depth", queue=workers.queue) >= 1
        assert metric(fresh, "shebao_jobs_total", kind="settle_region", outcome="succeeded") is None
        dispatcher = ArqDispatcher(redis, workers.queue)
        await dispatcher.dispatch(a.id, job.id)
        text = ""
        for _ in range(300):
            text = (await _scrape(port)).text
            if metric(text, "shebao_jobs_total", kind="settle_region", outcome="succeeded"):
                break
            await asyncio.sleep(0.1)
        # Delivered again (a lost acknowledgement): the row is finished, the worker skips it.
        await dispatcher.dispatch(a.id, job.id, attempt=1)
        for _ in range(300):
            text = (await _scrape(port)).text
            if metric(text, "shebao_jobs_total", kind="settle_region", outcome="skipped"):
                break
            await asyncio.sleep(0.1)
    finally:
        await redis.aclose()
    response = await _scrape(port)
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert metric(text, "shebao_jobs_total", kind="settle_region", outcome="succeeded") == 1
    assert metric(text, "shebao_jobs_total", kind="settle_region", outcome="skipped") == 1
    assert metric(text, "shebao_job_duration_seconds_count", kind="settle_region") == 1
    assert metric(text, "shebao_jobs_running", kind="settle_region") == 0
    assert metric(text, "shebao_queue_depth", queue=workers.queue) >= 1  # the deferred job still waits
    assert metric(text, "process_start_time_seconds") > 0
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/other")).status_code == 404
    async with session_as(a.system) as s:
        assert (await jobs.get_job(s, job.id)).status is JobStatus.SUCCEEDED


def test_the_worker_metrics_port_setting():
    assert Settings().worker_metrics_port == 9101
    assert Settings.from_env({"SHEBAO_WORKER_METRICS_PORT": "0"}).worker_metrics_port == 0
    assert Settings.from_env({"SHEBAO_WORKER_METRICS_PORT": "9200"}).worker_metrics_port == 9200
    for bad in ("http", "70000", "-1"):
        with pytest.raises(ValueError, match="SHEBAO_WORKER_METRICS_PORT"):
            Settings.from_env({"SHEBAO_WORKER_METRICS_PORT": bad})


def test_job_metrics_label_values_are_escaped():
    seen = JobMetrics()
    seen.job_finished('odd"kind\n', "skipped")
    assert 'shebao_jobs_total{kind="odd\\"kind\\n",outcome="skipped"} 1' in seen.lines()
