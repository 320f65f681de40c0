"""Several processes, one PostgreSQL, one Redis (issue 8, item 5): three ``shebao serve`` API processes
and two ``shebao worker`` processes share the database, the queue and the document store. Work is
driven through the APIs round-robin and concurrently (declarations, approvals, settlements, the same
company-month sent to every API at once, region settlements, documents), then every result is
checked once and only once in the database and in the store. Nothing is killed here (the kill tests
are in tests/test_document_jobs.py): the point is concurrency across processes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from shebao.platform.declarations.models import Declaration
from shebao.platform.jobs.models import ItemOutcome, Job, JobItem, JobStatus
from shebao.platform.settlement.models import Settlement
from tests.conftest import REDIS
from tests.factories import company_values, resident_id
from tests.test_operations import SHEBAO, cli_env, free_port, metric

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

APIS, COMPANIES, RACED = 3, 4, 2  # companies 0..RACED-1 are settled by every API at once
MONTH = "2026-10"
PERMISSIONS = [
    "COMPANIES_READ",
    "COMPANIES_WRITE",
    "PERSONS_READ",
    "PERSONS_WRITE",
    "DECLARATIONS_WRITE",
    "DECLARATIONS_REVIEW",
    "SETTLEMENTS_MANAGE",
]


@pytest.fixture
def backend() -> str:
    """PostgreSQL only: SQLite is the embedded default of one process."""
    return "postgresql"


@dataclass
class Cluster:
    urls: list[str]
    storage_dir: Path


def _stop(proc: subprocess.Popen, log: Path) -> str:
    """Wait for a process sent SIGTERM (then SIGKILL to what is left of its group); its log."""
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything left of its group
    proc.wait(timeout=15)
    return log.read_text(errors="replace")


@pytest.fixture
def cluster(db_url, workers, tmp_path):
    """Three API processes and two workers on this test's database, one Redis queue and one store.
    Every process is stopped at the end, whatever happened (the workers by their own fixture)."""
    storage_dir = tmp_path / "files"
    env = cli_env(
        SHEBAO_DATABASE_URL=db_url,
        SHEBAO_REDIS_URL=REDIS,
        SHEBAO_QUEUE_NAME=workers.queue,
        SHEBAO_STORAGE_DIR=str(storage_dir),
    )
    apis: list[tuple[subprocess.Popen, Path]] = []
    urls = []
    try:
        for n in range(APIS):
            port, log = free_port(), tmp_path / f"api-{n}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [SHEBAO, "serve", "--port", str(port)],
                    env=env,
                    cwd=tmp_path,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            apis.append((proc, log))
            urls.append(f"http://127.0.0.1:{port}")
        for _ in range(2):
            workers.start(SHEBAO_STORAGE_DIR=str(storage_dir))
        deadline = time.monotonic() + 60  # five interpreters starting at once on a busy machine
        for (proc, log), url in zip(apis, urls, strict=True):
            while True:
                assert proc.poll() is None, log.read_text(errors="replace")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"{url} not ready:\n{log.read_text(errors='replace')}"
                time.sleep(0.2)
        yield Cluster(urls, storage_dir)
    finally:
        for proc, _ in apis:  # all at once, then wait for each
            if proc.poll() is None:
                proc.terminate()
        outputs = [_stop(proc, log) for proc, log in apis]
    for output in outputs:
        assert "Traceback" not in output, output


class Client:
    """GraphQL over HTTP to the API processes; ``api`` picks one (round-robin when not given)."""

    def __init__(self, http: httpx.AsyncClient, urls: list[str]):
        self.http, self.urls = http, urls
        self._next = itertools.cycle(range(len(urls)))

    async def __call__(self, query: str, variables: dict | None = None, token=None, api: int | None = None) -> dict:
        url = self.urls[next(self._next) if api is None else api]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            f"{url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        return body["data"]


def _camel(values: dict) -> dict:
    return {k.split("_")[0] + "".join(w.title() for w in k.split("_")[1:]): v for k, v in values.items()}


LOGIN = """mutation($a:String!,$u:String!,$p:String!){ login(input:{agencyCode:$a, username:$u, password:$p})
  { token errors { code } } }"""
CREATE_USER = """mutation($input: CreateUserInput!){ createUser(input:$input){ user { id } errors { code field } } }"""
CREATE_COMPANY = """mutation($input: CreateCompanyInput!){ createCompany(input:$input){ company { id }
  errors { code field } } }"""
DECLARE_ADD = """mutation($input: DeclareAddInput!){ declareAdd(input:$input){ declaration { id }
  errors { code field } } }"""
SUBMIT = "mutation($ids:[ID!]!){ submitDeclarations(ids:$ids){ results { id errors { code } } errors { code } } }"
APPROVE = "mutation($ids:[ID!]!){ approveDeclarations(ids:$ids){ results { id errors { code } } errors { code } } }"
SETTLE = """mutation($input: SettleInput!){ settle(input:$input){ settlements { id } errors { code } } }"""
SETTLE_REGION = """mutation($input: SettleRegionInput!){ settleRegion(input:$input){ job { id } errors { code } } }"""
REGION_DOCUMENTS = """mutation($input: RequestRegionDocumentsInput!){ requestRegionDocuments(input:$input){
  job { id } errors { code } } }"""
DOCUMENT = """mutation($input: RequestDocumentInput!){ requestDocument(input:$input){ job { id } errors { code } } }"""
JOB = "query($id:ID!){ job(id:$id){ status } }"


async def _wait_jobs(gql: Client, token: str, ids: list[str], seconds: float = 40) -> None:
    pending = set(ids)
    deadline = time.monotonic() + seconds
    while pending:
        states = await asyncio.gather(*(gql(JOB, {"id": i}, token) for i in pending))
        pending = {
            i for i, s in zip(list(pending), states, strict=True) if s["job"]["status"] not in ("SUCCEEDED", "FAILED")
        }
        assert time.monotonic() < deadline, f"jobs still running: {pending}"
        if pending:
            await asyncio.sleep(0.2)


async def test_many_processes_do_everything_once(cluster, make_agency, session_as):
    a = await make_agency("multi")
    async with httpx.AsyncClient(timeout=30) as http:
        gql = Client(http, cluster.urls)
        admin = (await gql(LOGIN, {"a": a.code, "u": a.admin_username, "p": a.admin_password}))["login"]["token"]
        operator = {
            "username": "operator",
            "displayName": "经办人",
            "password": "Op-" + uuid.uuid4().hex,
            "permissions": PERMISSIONS,
            "allCompanies": True,
        }
        assert (await gql(CREATE_USER, {"input": operator}, admin))["createUser"]["errors"] == []
        login = {"a": a.code, "u": "operator", "p": operator["password"]}
        token = (await gql(LOGIN, login, api=1))["login"]["token"]  # a token from one API works on all

        # Companies and their people, every request to the next API, all at once.
        made = await asyncio.gather(
            *(
                gql(CREATE_COMPANY, {"input": _camel(company_values("tianjin", unit_number=f"12000000{n:05d}"))}, token)
                for n in range(COMPANIES)
            )
        )
        company_ids = [m["createCompany"]["company"]["id"] for m in made]
        adds = [
            {
                "companyId": cid,
                "idNumber": resident_id(),
                "name": f"员工{n}{p}",
                "householdType": "local_urban",
                "employmentForm": "contract",
                "startMonth": "2026-06",
                "monthlyBase": "8000",
                "idempotencyKey": f"add-{n}-{p}",
            }
            for n, cid in enumerate(company_ids)
            for p in range(2)
        ]
        # The first one as a client retrying it on every API at once (one key): still one declaration.
        retried = [gql(DECLARE_ADD, {"input": adds[0]}, token, api=n) for n in range(1, APIS)]
        answers = [
            a["declareAdd"]
            for a in await asyncio.gather(*(gql(DECLARE_ADD, {"input": x}, token) for x in adds), *retried)
        ]
        assert all(a["errors"] == [] for a in answers[1 : len(adds)]), answers
        ids = [a["declaration"]["id"] if a["declaration"] else None for a in answers[: len(adds)]]
        # Every copy of the retried request, even truly at once on several processes, is answered
        # with the one declaration (never a second one, never a refusal).
        race = [answers[0], *answers[len(adds) :]]
        assert all(a["errors"] == [] for a in race), race
        won = {a["declaration"]["id"] for a in race}
        assert len(won) == 1, race
        ids[0] = won.pop()

        by_company = [ids[2 * n : 2 * n + 2] for n in range(COMPANIES)]
        for step, field in ((SUBMIT, "submitDeclarations"), (APPROVE, "approveDeclarations")):
            answers = await asyncio.gather(*(gql(step, {"ids": pair}, token) for pair in by_company))
            assert all(r["errors"] == [] for answer in answers for r in answer[field]["results"]), answers

        # The same company-month sent to every API at once: exactly one settlement each.
        settle = [
            gql(SETTLE, {"input": {"companyId": cid, "month": MONTH, "mode": "with_change"}}, token, api=n)
            for cid in company_ids[:RACED]
            for n in range(APIS)
        ]
        outcomes = await asyncio.gather(*settle)
        for k in range(RACED):
            answers = [o["settle"] for o in outcomes[k * APIS : (k + 1) * APIS]]
            assert sum(len(x["settlements"]) for x in answers) == 1, answers
            assert sorted(e["code"] for x in answers for e in x["errors"]) == ["ALREADY_SETTLED"] * (APIS - 1)

        # At once, through different APIs: the raced companies' notices, and the whole region settled
        # by a job asked of every API (three jobs racing company by company).
        notice = {"kind": "PAYMENT_NOTICE", "monthFrom": MONTH}
        region = {"regionCode": "tianjin", "month": MONTH, "mode": "with_change"}
        asked = await asyncio.gather(
            *(gql(DOCUMENT, {"input": {**notice, "companyId": cid}}, token) for cid in company_ids[:RACED]),
            *(gql(SETTLE_REGION, {"input": region}, token, api=n) for n in range(APIS)),
        )
        doc_jobs = [a["requestDocument"]["job"]["id"] for a in asked[:RACED]]
        settle_jobs = [a["settleRegion"]["job"]["id"] for a in asked[RACED:]]
        await _wait_jobs(gql, token, settle_jobs)
        # Then the region's notices (every company settled now), one file a company and a zip.
        asked = await gql(REGION_DOCUMENTS, {"input": {**notice, "regionCode": "tianjin"}}, token)
        region_doc_job = asked["requestRegionDocuments"]["job"]["id"]
        await _wait_jobs(gql, token, [region_doc_job, *doc_jobs], seconds=60)

        scrapes = await asyncio.gather(*(http.get(f"{url}/metrics") for url in cluster.urls))
        for scrape in scrapes:  # every API took its share of the work
            assert metric(scrape.text, "shebao_http_requests_total", method="POST", route="/graphql", status="200") >= 6

    companies = [uuid.UUID(c) for c in company_ids]
    async with session_as(a.system) as s:
        # Each declaration once, approved.
        rows = (await s.execute(select(Declaration.company_id, Declaration.id_number, Declaration.status))).all()
        assert len(rows) == len(adds) and {r.status.value for r in rows} == {"approved"}, rows
        assert Counter(r.company_id for r in rows) == dict.fromkeys(companies, 2)
        assert len({r.id_number for r in rows}) == len(adds)

        # One settlement in force per company-month.
        counted = (await s.execute(select(Settlement.company_id, func.count()).group_by(Settlement.company_id))).all()
        assert dict(counted) == dict.fromkeys(companies, 1)

        # Every job succeeded, on its first attempt; nothing left queued or running.
        every = (await s.scalars(select(Job))).all()
        assert len(every) == APIS + RACED + 1
        assert {(j.status, j.attempts) for j in every} == {(JobStatus.SUCCEEDED, 1)}, [
            (j.kind, j.status, j.attempts, j.problems) for j in every
        ]
        items = (await s.scalars(select(JobItem))).all()
        per_job = Counter((i.job_id, i.subject_id) for i in items)
        assert set(per_job.values()) == {1}  # each company once in each job
        for job_id in [*settle_jobs, region_doc_job]:
            assert {i.subject_id for i in items if i.job_id == uuid.UUID(job_id)} == set(companies)
        settled_by_jobs = Counter(
            i.subject_id for i in items if str(i.job_id) in settle_jobs and i.outcome is ItemOutcome.DONE
        )
        assert settled_by_jobs == dict.fromkeys(companies[RACED:], 1)  # the others were settled already
        refused = [i for i in items if str(i.job_id) in settle_jobs and i.outcome is not ItemOutcome.DONE]
        assert {(i.outcome, i.problems[0]["code"]) for i in refused} == {(ItemOutcome.REFUSED, "ALREADY_SETTLED")}

        # Each document in the store exactly once, as recorded, and nothing else there.
        documents = [j for j in every if j.kind != "settle_region"]
        expected = {j.result["key"]: j.result["sha256"] for j in documents}
        expected |= {i.result["key"]: i.result["sha256"] for i in items if i.job_id == uuid.UUID(region_doc_job)}
    assert len(expected) == RACED + COMPANIES + 1  # the single notices, one a company, and the zip
    stored = {p.relative_to(cluster.storage_dir).as_posix(): p for p in cluster.storage_dir.rglob("*") if p.is_file()}
    assert set(stored) == set(expected)
    for key, sha256 in expected.items():
        assert hashlib.sha256(stored[key].read_bytes()).hexdigest() == sha256, key
