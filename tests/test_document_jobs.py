"""Documents as durable jobs: asked for over GraphQL, made in the process pool, downloaded with the
tenant's and the company scope's checks; a region's notices as one job with a zip; a job run twice
writes one file; and against a real Redis with real workers: a worker killed in the middle of a job
and Redis stopped and restarted, after which every document ends succeeded exactly once."""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import func, select, update

from shebao.platform.companies import service as companies
from shebao.platform.core.clock import utcnow
from shebao.platform.core.month import Month
from shebao.platform.documents import jobs as documents
from shebao.platform.documents.pool import RenderPool
from shebao.platform.jobs import service as jobs
from shebao.platform.jobs.dispatch import dispatch_safely, sweep
from shebao.platform.jobs.models import ItemOutcome, Job, JobItem, JobStatus
from shebao.platform.jobs.runner import run_job
from shebao.platform.storage.local import LocalFolderStorage
from shebao.workers.dispatch import ArqDispatcher
from shebao.workers.settings import deserialize, serialize
from tests.conftest import REDIS
from tests.factories import company_values
from tests.test_documents_gather import build_scenario
from tests.test_operations import free_port

pytestmark = pytest.mark.anyio
OCT, NOV = Month(2026, 10), Month(2026, 11)

REQUEST = """mutation($input: RequestDocumentInput!){ requestDocument(input:$input){
  job { id status kind } errors { code field message } } }"""
REGION = """mutation($input: RequestRegionDocumentsInput!){ requestRegionDocuments(input:$input){
  job { id status } errors { code field } } }"""
POLL = """query($id:ID!){ job(id:$id){ status done total downloadUrl result errors { code }
  items { nodes { label outcome downloadUrl errors { code } } } } }"""


async def _poll(gql, token, job_id: str) -> dict:
    for _ in range(600):
        state = (await gql(POLL, {"id": job_id}, token=token))["job"]
        if state["status"] in ("SUCCEEDED", "FAILED"):
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {state}")


async def test_a_payment_notice_is_requested_made_and_downloaded(make_agency, session_as, gql, app_client):
    a = await make_agency("doc-job")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "tianjin")
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    asked = {"kind": "PAYMENT_NOTICE", "companyId": str(sc.company.id), "monthFrom": "2026-10", "monthTo": "2026-11"}
    answer = (await gql(REQUEST, {"input": asked}, token=token))["requestDocument"]
    assert answer["errors"] == [] and answer["job"]["kind"] == "document"
    state = await _poll(gql, token, answer["job"]["id"])
    assert state["status"] == "SUCCEEDED", state
    response = await app_client.get(state["downloadUrl"], headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    assert state["result"]["size"] == len(response.content)

    # Refusals come back at once, typed, and record nothing.
    for given, code in (
        ({**asked, "monthTo": "2026-09"}, "MONTH_ORDER"),
        ({**asked, "monthFrom": "2025-01", "monthTo": "2025-02"}, "DOCUMENT_NOTHING_SETTLED"),
        ({**asked, "kind": "PERSONAL_CERTIFICATE"}, "DOCUMENT_NOT_OFFERED"),  # not in Tianjin
    ):
        refused = (await gql(REQUEST, {"input": given}, token=token))["requestDocument"]
        assert refused["job"] is None and refused["errors"][0]["code"] == code, refused
    async with session_as(a.system) as s:
        assert await s.scalar(select(func.count()).select_from(Job)) == 1

    # Another agency: the job does not exist for it, nor its file.
    b = await make_agency("doc-other")
    other = await gql.login(b.code, b.admin_username, b.admin_password)
    assert (await gql(POLL, {"id": answer["job"]["id"]}, token=other))["job"] is None
    denied = await app_client.get(state["downloadUrl"], headers={"Authorization": f"Bearer {other}"})
    assert denied.status_code == 404
    unauthenticated = await app_client.get(state["downloadUrl"])
    assert unauthenticated.status_code == 401


async def test_a_region_of_notices_gives_each_file_and_one_zip(make_agency, session_as, gql, app_client):
    a = await make_agency("doc-region")
    async with session_as(a.system) as s:
        for n in range(2):
            await build_scenario(s, "tianjin", name=f"天津甲乙{n}有限公司")
        await companies.create_company(s, company_values("tianjin", name="天津未结算有限公司"))
        await s.commit()
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    given = {"kind": "PAYMENT_NOTICE", "regionCode": "tianjin", "monthFrom": "2026-11"}
    answer = (await gql(REGION, {"input": given}, token=token))["requestRegionDocuments"]
    assert answer["errors"] == []
    state = await _poll(gql, token, answer["job"]["id"])
    assert state["status"] == "SUCCEEDED" and (state["done"], state["total"]) == (3, 3), state
    assert (state["result"]["documents"], state["result"]["refused"]) == (2, 1)
    outcomes = {n["label"]: n for n in state["items"]["nodes"]}
    assert outcomes["天津未结算有限公司"]["errors"][0]["code"] == "DOCUMENT_NOTHING_SETTLED"
    auth = {"Authorization": f"Bearer {token}"}
    archive = await app_client.get(state["downloadUrl"], headers=auth)
    assert archive.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert len(names) == 2 and all(n.endswith(".pdf") and "单位缴费通知单" in n for n in names)
    one = next(n for n in state["items"]["nodes"] if n["downloadUrl"])
    single = await app_client.get(one["downloadUrl"], headers=auth)
    assert single.status_code == 200 and single.content.startswith(b"%PDF")


async def test_a_document_job_run_twice_writes_one_file(make_agency, session_as, sessionmaker, tmp_path):
    a = await make_agency("doc-twice")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "guiyang")
        job = await documents.request_document(s, "payment_notice", sc.company.id, NOV)
        await s.commit()
    storage, render = LocalFolderStorage(tmp_path / "files"), RenderPool(1)
    context = {"storage": storage, "render": render}
    try:
        assert await run_job(sessionmaker, a.id, job.id, context=context) == "succeeded"
        async with session_as(a.system) as s:  # delivered again after a lost acknowledgement
            stale = utcnow() - timedelta(hours=1)
            await s.execute(update(Job).where(Job.id == job.id).values(status=JobStatus.RUNNING, heartbeat_at=stale))
            await s.commit()
        assert await run_job(sessionmaker, a.id, job.id, context=context) == "succeeded"
    finally:
        render.close()
    files = [p for p in Path(tmp_path / "files").rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].name == f"{job.id}.pdf"


async def _wait(session_as, agency, job_id, seconds: float = 120) -> Job:
    for _ in range(int(seconds * 4)):
        async with session_as(agency.system) as s:
            job = await jobs.get_job(s, job_id)
        if job.status.finished:
            return job
        await asyncio.sleep(0.25)
    raise AssertionError(f"job {job_id} is still {job.status}")


async def test_a_worker_killed_mid_job_delays_the_documents_but_loses_none(
    make_agency, session_as, sessionmaker, workers, storage_dir
):
    a = await make_agency("doc-kill")
    async with session_as(a.system) as s:
        for n in range(4):
            await build_scenario(s, "leshan", name=f"乐山丙丁{n}有限公司")
        job = await documents.request_region_documents(s, "payment_notice", "leshan", NOV)
        await s.commit()
    env = {"SHEBAO_STORAGE_DIR": str(storage_dir)}
    first = workers.start(**env)
    redis = await create_pool(
        RedisSettings.from_dsn(REDIS),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=workers.queue,
    )
    try:
        dispatcher = ArqDispatcher(redis, workers.queue)
        await dispatcher.dispatch(a.id, job.id)
        for _ in range(400):  # wait until the first company's notice is made, then kill the worker
            async with session_as(a.system) as s:
                done = await s.scalar(select(func.count()).select_from(JobItem).where(JobItem.job_id == job.id))
            if done:
                break
            await asyncio.sleep(0.1)
        workers.kill(first)
        async with session_as(a.system) as s:
            assert (await jobs.get_job(s, job.id)).status is JobStatus.RUNNING
        workers.start(**env)
        await asyncio.sleep(9)  # the dead run's heartbeat goes stale (8 s in the test workers)
        assert await sweep(sessionmaker, dispatcher, stale_after=timedelta(seconds=8)) >= 1
        finished = await _wait(session_as, a, job.id)
    finally:
        await redis.aclose()
    assert finished.status is JobStatus.SUCCEEDED and finished.attempts == 2, finished.problems
    assert finished.result["documents"] == 4
    async with session_as(a.system) as s:
        items = (await s.scalars(select(JobItem).where(JobItem.job_id == job.id))).all()
    assert len(items) == 4 and {i.outcome for i in items} == {ItemOutcome.DONE}  # each company once
    pdfs = list(Path(storage_dir).rglob(f"{job.id}/*.pdf"))
    assert len(pdfs) == 4
    assert len(zipfile.ZipFile(Path(storage_dir) / finished.result["key"]).namelist()) == 4


def _redis(port: int, *args: str) -> None:
    subprocess.run(["redis-cli", "-p", str(port), *args], check=False, capture_output=True, timeout=10)


def _start_redis(port: int) -> None:
    """A Redis of this test's own: stopping the machine's would pull it from under the other
    tests (pytest-xdist runs them at the same time)."""
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip():
            return
        time.sleep(0.05)


@pytest.fixture
def own_redis():
    port = free_port()
    _start_redis(port)
    yield port
    _redis(port, "shutdown", "nosave")


async def test_redis_stopped_and_restarted_delays_a_document_but_loses_none(
    own_redis, make_agency, session_as, sessionmaker, workers, storage_dir
):  # own_redis first: set up before the workers, so stopped after them
    url = f"redis://127.0.0.1:{own_redis}/0"
    a = await make_agency("doc-redis")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "yunnan.kunming")
        await s.commit()
    settings = RedisSettings.from_dsn(url)
    redis = await create_pool(
        settings, job_serializer=serialize, job_deserializer=deserialize, default_queue_name=workers.queue
    )
    dispatcher = ArqDispatcher(redis, workers.queue)
    _redis(own_redis, "shutdown", "nosave")
    try:
        async with session_as(a.system) as s:
            job = await documents.request_document(s, "payment_notice", sc.company.id, NOV)
            await s.commit()
        assert await dispatch_safely(dispatcher, job) is False  # Redis is down: the row waits, queued
    finally:
        _start_redis(own_redis)
    await redis.aclose()
    workers.start(SHEBAO_STORAGE_DIR=str(storage_dir), SHEBAO_REDIS_URL=url)
    redis = await create_pool(
        settings, job_serializer=serialize, job_deserializer=deserialize, default_queue_name=workers.queue
    )
    try:
        swept = await sweep(sessionmaker, ArqDispatcher(redis, workers.queue), queued_grace=timedelta(0))
        assert swept >= 1
        finished = await _wait(session_as, a, job.id)
    finally:
        await redis.aclose()
    assert finished.status is JobStatus.SUCCEEDED and finished.attempts == 1
    assert (Path(storage_dir) / finished.result["key"]).read_bytes().startswith(b"%PDF")
