"""Operations (issue 8): readiness and liveness, metrics, JSON logs with request ids (in the API and
in jobs), start-up errors naming the setting, the deployment files, and a schema that stays
distributable by agency_id (Citus)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml  # PyYAML: a dependency of litestar, so always installed
from litestar.testing import AsyncTestClient
from sqlalchemy import UniqueConstraint, select

from shebao.graphql.app import create_app
from shebao.graphql.observability import HANDLER_NAME, Metrics
from shebao.platform.config import Settings

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SHEBAO = str(Path(sys.executable).with_name("shebao"))
REDIS = os.environ.get("SHEBAO_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
UNREACHABLE_DB = "postgresql://nobody@127.0.0.1:1/nothing"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
TYPENAME = {"query": "{ __typename }"}


def cli_env(**env: str) -> dict[str, str]:
    """The environment of a command-line subprocess: none of this shell's SHEBAO_ variables, plus
    ``env`` (run without stdin, as tests/test_startup.py does)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SHEBAO_")}
    full_env.update(env)
    return full_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def json_lines(text: str) -> list[dict]:
    """Every non-empty line parsed as JSON; a line that is not JSON fails the test, naming it."""
    parsed = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON log line: {line!r}")
    return parsed


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        return proc.communicate(timeout=20)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[1]


@pytest.fixture
def restore_logging():
    """Tests that set up JSON logging in this process put the logging state back afterwards."""
    root = logging.getLogger()
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "py.warnings")
    saved = (
        list(root.handlers),
        root.level,
        {n: list(logging.getLogger(n).filters) for n in names},
    )
    yield
    handlers, level, filters = saved
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, kept in filters.items():
        logging.getLogger(name).filters[:] = kept
    logging.captureWarnings(False)


def app_with(tmp_path, **settings) -> AsyncTestClient:
    settings.setdefault("storage_dir", tmp_path / "files")
    return AsyncTestClient(app=create_app(Settings(**settings), check_database=False))


# --- (a) liveness and readiness ----------------------------------------------------------------------


async def test_ready_on_a_healthy_database(app_client):
    response = await app_client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["storage"]["status"] == "ok"  # the folder is made on the first write
    assert "redis" not in body["checks"]  # not configured: not checked
    assert response.headers["cache-control"] == "no-store"


async def test_a_store_that_cannot_take_files_is_not_ready(db_url, tmp_path):
    (tmp_path / "blocked").write_text("a file where the store's folder should be")
    async with app_with(tmp_path, database_url=db_url, storage_dir=tmp_path / "blocked" / "files") as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["storage"] and body["checks"]["database"]["status"] == "ok"
    assert "blocked" not in response.text  # the error's class, never the path


async def test_unreachable_database_is_not_ready_but_alive(tmp_path):
    async with app_with(tmp_path, database_url=UNREACHABLE_DB) as client:
        response = await client.get("/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable" and body["failing"] == ["database"]
        assert body["checks"]["database"]["status"] == "error"
        assert "nobody" not in response.text  # the error's class, never the URL
        # liveness never asks the database: an outage must not restart every API process
        health = await client.get("/health")
        assert health.status_code == 200 and health.json() == {"status": "ok"}


async def test_ready_checks_redis_when_configured(db_url, tmp_path):
    async with app_with(tmp_path, database_url=db_url, redis_url=REDIS) as client:
        response = await client.get("/ready")
        assert response.status_code == 200, response.text
        assert response.json()["checks"]["redis"]["status"] == "ok"
    async with app_with(tmp_path, database_url=db_url, redis_url=UNREACHABLE_REDIS) as client:
        response = await client.get("/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["failing"] == ["redis"]
        assert body["checks"]["database"]["status"] == "ok"


# --- (b) metrics ------------------------------------------------------------------------------------


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition ``text`` (labels matched exactly), or None."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if found == labels:
            return float(m.group(3))
    return None


async def test_metrics_count_requests(app_client):
    for _ in range(3):
        assert (await app_client.get("/health")).status_code == 200
    assert (await app_client.post("/graphql", json=TYPENAME)).status_code == 200
    assert (await app_client.get(f"/no/such/{uuid.uuid4().hex}")).status_code == 404

    response = await app_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert "# TYPE shebao_http_requests_total counter" in text
    assert "# TYPE shebao_http_request_duration_seconds histogram" in text

    assert metric(text, "shebao_http_requests_total", method="GET", route="/health", status="200") == 3
    assert metric(text, "shebao_http_requests_total", method="POST", route="/graphql", status="200") == 1
    # an unknown path is one series, whatever the path: no label per URL
    assert metric(text, "shebao_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert "/no/such/" not in text

    assert metric(text, "shebao_http_request_duration_seconds_count", method="GET", route="/health") == 3
    assert metric(text, "shebao_http_request_duration_seconds_sum", method="GET", route="/health") > 0
    buckets = [
        metric(text, "shebao_http_request_duration_seconds_bucket", method="GET", route="/health", le=le)
        for le in ("0.005", "0.1", "1", "10", "+Inf")
    ]
    assert buckets == sorted(buckets) and buckets[-1] == 3  # cumulative, +Inf is the count
    assert metric(text, "shebao_http_requests_in_progress") == 1  # this scrape
    assert metric(text, "shebao_queue_depth", queue="shebao:queue") is None  # no Redis, no queue

    again = (await app_client.get("/metrics")).text
    assert metric(again, "shebao_http_requests_total", method="GET", route="/metrics", status="200") == 1


def test_metrics_are_thread_safe():
    metrics = Metrics()

    def hammer():
        for i in range(2000):
            metrics.started_request()
            metrics.observe("GET", "/x", 200, i / 10_000)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = metrics.render()
    assert metric(text, "shebao_http_requests_total", method="GET", route="/x", status="200") == 16_000
    assert metric(text, "shebao_http_request_duration_seconds_count", method="GET", route="/x") == 16_000
    assert metric(text, "shebao_http_request_duration_seconds_bucket", method="GET", route="/x", le="+Inf") == 16_000
    assert metric(text, "shebao_http_requests_in_progress") == 0
    # odd methods are folded into one label value
    metrics.started_request()
    metrics.observe("BREW", "/x", 405, 0.001)
    assert metric(metrics.render(), "shebao_http_requests_total", method="OTHER", route="/x", status="405") == 1


async def test_metrics_show_the_queue_depth_with_redis(db_url, tmp_path):
    from redis.asyncio import Redis

    queue = f"shebao:test:{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(REDIS)
    try:
        await redis.zadd(queue, {"job-a": 1, "job-b": 2})
        async with app_with(tmp_path, database_url=db_url, redis_url=REDIS, queue_name=queue) as client:
            text = (await client.get("/metrics")).text
        assert metric(text, "shebao_queue_depth", queue=queue) == 2
    finally:
        await redis.delete(queue)
        await redis.aclose()


# --- (c) request ids and JSON logs --------------------------------------------------------------------


async def test_json_logs_carry_the_request_id(db_url, tmp_path, restore_logging):
    app = create_app(Settings(database_url=db_url, storage_dir=tmp_path, log_format="json"), check_database=False)
    (handler,) = [h for h in logging.getLogger().handlers if h.name == HANDLER_NAME]
    buffer = io.StringIO()
    handler.setStream(buffer)
    async with AsyncTestClient(app=app) as client:
        given = await client.post("/graphql", json=TYPENAME, headers={"X-Request-ID": "ops-test-42"})
        made = await client.post("/graphql", json=TYPENAME)
        bad = await client.post("/graphql", json=TYPENAME, headers={"X-Request-ID": "bad\x01id"})
        quiet = await client.get("/health", headers={"X-Request-ID": "probe-1"})
    assert given.headers["x-request-id"] == "ops-test-42"
    generated = made.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert bad.headers["x-request-id"] != "bad\x01id" and re.fullmatch(r"[0-9a-f]{32}", bad.headers["x-request-id"])
    assert quiet.headers["x-request-id"] == "probe-1"

    lines = json_lines(buffer.getvalue())
    access = [line for line in lines if line["logger"] == "shebao.access"]
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= set(line), line
    (mine,) = [line for line in access if line["request_id"] == "ops-test-42"]
    assert mine["level"] == "INFO" and mine["route"] == "/graphql" and mine["status"] == 200
    assert mine["method"] == "POST" and mine["duration_ms"] >= 0
    assert mine["time"].endswith("+00:00")
    assert any(line["request_id"] == generated for line in access)
    assert not any(line["request_id"] == "probe-1" for line in access)  # probes log at DEBUG


async def test_the_graphql_context_sees_the_same_request_id(make_agency, gql, session_as):
    """The id in the response header is the one the audit log records (context.request_id)."""
    from shebao.platform.audit.models import AuditEntry

    agency = await make_agency("rid")
    response = await gql.raw(
        "mutation($a:String!,$u:String!,$p:String!){ login(input:{agencyCode:$a, username:$u, password:$p})"
        " { token errors { code } } }",
        {"a": agency.code, "u": agency.admin_username, "p": agency.admin_password},
    )
    assert response.status_code == 200 and response.json()["data"]["login"]["errors"] == []
    rid = response.headers["x-request-id"]
    async with session_as(agency.system) as s:
        logged = (await s.scalars(select(AuditEntry.request_id).where(AuditEntry.action == "auth.login"))).all()
    assert logged == [rid]


def _wait_until_serving(port: int, proc: subprocess.Popen) -> None:
    with httpx.Client() as http:
        for _ in range(150):
            if proc.poll() is not None:
                pytest.fail(f"shebao serve exited: {proc.communicate()[1]}")
            try:
                if http.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail("shebao serve did not answer /health within 15 s")


def test_serve_writes_only_json_lines(tmp_path):
    port = free_port()
    env = cli_env(SHEBAO_DATABASE_URL=f"sqlite:///{tmp_path / 's.db'}", SHEBAO_LOG_FORMAT="json")
    proc = subprocess.Popen(
        [SHEBAO, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_serving(port, proc)
        answered = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json=TYPENAME, headers={"X-Request-ID": "from-the-gateway"}
        )
        assert answered.headers["x-request-id"] == "from-the-gateway"
    finally:
        stderr = stop(proc)
    lines = json_lines(stderr)  # uvicorn's own lines and the migration's included
    loggers = {line["logger"] for line in lines}
    assert {"uvicorn.error", "shebao.access", "alembic.runtime.migration"} <= loggers, loggers
    assert any(line["request_id"] == "from-the-gateway" and line.get("status") == 200 for line in lines)
    assert "uvicorn.access" not in loggers  # shebao.access replaces it


@pytest.fixture
def json_worker(sqlite_database):
    """A real ``shebao worker`` with JSON logs on its own queue: (queue, stop() -> its log lines)."""
    queue = f"shebao:test:{uuid.uuid4().hex[:8]}"
    env = cli_env(
        SHEBAO_DATABASE_URL=sqlite_database[1],
        SHEBAO_REDIS_URL=REDIS,
        SHEBAO_QUEUE_NAME=queue,
        SHEBAO_LOG_FORMAT="json",
        SHEBAO_WORKER_METRICS_PORT="0",  # several test runs share this machine
    )
    proc = subprocess.Popen(
        [SHEBAO, "worker"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    yield queue, lambda: json_lines(stop(proc))
    if proc.poll() is None:
        stop(proc)


async def test_job_logs_carry_the_request_id_from_the_job_kwargs(json_worker, sqlite_database):
    from arq import create_pool
    from arq.connections import RedisSettings

    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.jobs import service as jobs_service
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor
    from shebao.platform.tenancy.service import create_agency
    from shebao.workers.settings import deserialize, serialize

    # A recorded job whose handler is missing: the runner records it failed, and the log says so.
    engine = make_engine(sqlite_database[1])
    try:
        async with make_sessionmaker(engine)() as s:
            agency = (await create_agency(s, f"log-{uuid.uuid4().hex[:6]}", "日志", "admin", "Pw-12345678!")).agency
            await s.commit()
            await bind_actor(s, Actor.system(agency.id))
            broken = await jobs_service.create_job(s, "no_such_kind", {})
            await s.commit()
    finally:
        await engine.dispose()

    queue, stop_worker = json_worker
    redis = await create_pool(
        RedisSettings.from_dsn(REDIS), job_serializer=serialize, job_deserializer=deserialize, default_queue_name=queue
    )
    try:
        with_id = await redis.enqueue_job("purge_stale_tokens", request_id="req-from-api-7")
        without = await redis.enqueue_job("purge_stale_tokens")
        await redis.enqueue_job("run_job", str(agency.id), str(broken.id), request_id="req-failing")
        assert isinstance(await with_id.result(timeout=60), int)  # the kwarg never reached the function
        assert isinstance(await without.result(timeout=60), int)
    finally:
        await redis.aclose()
    engine = make_engine(sqlite_database[1])
    try:  # run_job keeps no result in Redis (the row is the record): wait for the row
        async with make_sessionmaker(engine)() as s:
            await bind_actor(s, Actor.system(agency.id))
            for _ in range(120):
                s.expire_all()
                if (await jobs_service.get_job(s, broken.id)).status.finished:
                    break
                await s.commit()
                await asyncio.sleep(0.5)
            assert (await jobs_service.get_job(s, broken.id)).problems[0]["code"] == "UNKNOWN_JOB"
    finally:
        await engine.dispose()
    await asyncio.sleep(0.5)  # the worker's log line follows the row's update
    lines = stop_worker()
    # Only the jobs enqueued here: the worker's cron (the sweeper, every minute) may log its own.
    ours = {"req-from-api-7", without.job_id, "req-failing"}
    jobs = [line for line in lines if line["logger"] == "shebao.jobs" and line.get("request_id") in ours]
    assert {(j["job"], j["outcome"], j["request_id"]) for j in jobs if "outcome" in j} == {
        ("purge_stale_tokens", "done", "req-from-api-7"),
        ("purge_stale_tokens", "done", without.job_id),  # no request id given: the job's id
        ("run_job", "failed", "req-failing"),  # the handler failed: not "done"
    }
    assert any(line["logger"] == "arq.worker" for line in lines)  # arq's own lines are JSON too


# --- (d) configuration errors name the setting ---------------------------------------------------------


MALFORMED = [
    ("serve", "SHEBAO_DATABASE_URL", "postgresql://app:s3cret@db:notaport/shebao"),
    ("serve", "SHEBAO_DATABASE_URL", "mysql://app@db/shebao"),
    ("serve", "SHEBAO_REDIS_URL", "redis://:s3cret@cache:notaport/0"),
    ("serve", "SHEBAO_REDIS_URL", "redis://cache:6379/zero"),
    ("serve", "SHEBAO_REDIS_URL", "cache:6379"),
    ("serve", "SHEBAO_LOG_FORMAT", "xml"),
    ("worker", "SHEBAO_REDIS_URL", "redis://cache:port/0"),
]


@pytest.mark.slow
def test_start_up_names_a_malformed_setting(tmp_path):
    """``shebao serve`` (and ``worker``) with one bad variable: exit, naming it, no traceback, no password.
    The cases run side by side: each is a fresh interpreter."""
    procs = []
    for i, (command, var, value) in enumerate(MALFORMED):
        env = cli_env(SHEBAO_DATABASE_URL=f"sqlite:///{tmp_path / f'never{i}.db'}")
        env[var] = value
        args = [SHEBAO, command] + (["--port", "0"] if command == "serve" else [])
        procs.append(
            subprocess.Popen(
                args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    for i, ((command, var, value), proc) in enumerate(zip(MALFORMED, procs, strict=True)):
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"{command} with {var}={value!r} did not stop: {proc.communicate()}")
        case = f"{command} with {var}={value!r}: {stderr}"
        assert proc.returncode != 0, case
        assert var in stderr, case
        assert "Traceback" not in stderr, case
        assert "s3cret" not in stderr, case  # the password is masked
        assert "http://" not in stdout, case  # never got as far as serving
        assert not (tmp_path / f"never{i}.db").exists(), case


# --- (e) the deployment files --------------------------------------------------------------------------


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def test_compose_file():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "api", "worker"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")

    migrate, api, worker = services["migrate"], services["api"], services["worker"]
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    assert "shebao_owner" in migrate["environment"]["SHEBAO_MIGRATION_DATABASE_URL"]
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert api["command"][0] == "serve" and worker["command"] == ["worker"]
    for service in (api, worker):
        env = service["environment"]
        # the application role, granted shebao_app: never the owner or the superuser
        assert env["SHEBAO_DATABASE_URL"].startswith("postgresql://shebao_web:"), env
        assert env["SHEBAO_REDIS_URL"].startswith("redis://redis:")
        assert env["SHEBAO_LOG_FORMAT"] == "json"
        assert "SHEBAO_MIGRATION_DATABASE_URL" not in env
    assert worker["healthcheck"] == {"disable": True} and migrate["healthcheck"] == {"disable": True}
    # each worker's own /metrics: exposed on the network, not published (workers scale)
    assert worker["environment"]["SHEBAO_WORKER_METRICS_PORT"] == "9101" and worker["expose"] == ["9101"]
    assert "ports" not in worker
    # passwords only by interpolation: nothing secret is written in the file
    for url in re.findall(r"postgresql://[^\s\"']+", (DEPLOY / "compose.yaml").read_text(encoding="utf-8")):
        assert re.match(r"postgresql://\w+:\$\{\w+", url), url

    roles = (DEPLOY / "postgres" / "10-shebao-roles.sql").read_text(encoding="utf-8")
    assert re.search(r"CREATE ROLE shebao_web LOGIN NOSUPERUSER NOBYPASSRLS", roles)
    assert "GRANT shebao_app TO shebao_web" in roles
    assert "CREATE DATABASE shebao OWNER shebao_owner" in roles
    assert "\\getenv web_password SHEBAO_WEB_PASSWORD" in roles
    assert "compose.yaml" in (DEPLOY / "README.md").read_text(encoding="utf-8")


def k8s_documents() -> dict[str, list[dict]]:
    return {p.name: load_all(p) for p in sorted((DEPLOY / "k8s").glob("*.yaml"))}


def pod_specs(docs: list[dict]):
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield doc, doc["spec"]["template"]["spec"]


def test_kubernetes_manifests():
    files = k8s_documents()
    kustomization = files.pop("kustomization.yaml")[0]
    assert set(kustomization["resources"]) == set(files), "every manifest is in kustomization.yaml and exists"
    docs = [doc for group in files.values() for doc in group]
    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"], doc
        by_kind.setdefault(doc["kind"], []).append(doc)
    assert {"Deployment", "Job", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret"} <= set(by_kind)

    deployments = {d["metadata"]["name"]: d for d in by_kind["Deployment"]}
    assert set(deployments) == {"shebao-api", "shebao-worker"}
    api = deployments["shebao-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["args"][0] == "serve" and "0.0.0.0" in api["args"]  # noqa: S104
    worker = deployments["shebao-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["args"] == ["worker"]
    # each worker pod serves its own /metrics, scraped like the API's
    assert {"name": "metrics", "containerPort": 9101} in worker["ports"]
    assert {"name": "SHEBAO_WORKER_METRICS_PORT", "value": "9101"} in worker["env"]
    for name, port in (("shebao-api", "8000"), ("shebao-worker", "9101")):
        annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == port and annotations["prometheus.io/path"] == "/metrics"
    (job,) = by_kind["Job"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]

    (hpa,) = by_kind["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shebao-api"}
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]

    for doc, spec in pod_specs(docs):
        name = doc["metadata"]["name"]
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        for container in spec["containers"]:
            assert container["image"] == "shebao", name  # kustomization's `images` sets the registry
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name
            secrets = {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
            # the owner role's URL reaches the migration Job only
            assert ("shebao-migrate" in secrets) == (doc["kind"] == "Job"), name

    for secret in by_kind["Secret"]:
        for key, value in secret["stringData"].items():
            assert "REPLACE-ME" in value, f"{key}: placeholders only, never a real secret"
    (config,) = by_kind["ConfigMap"]
    assert config["data"]["SHEBAO_LOG_FORMAT"] == "json"
    assert not any("PASSWORD" in key or "URL" in key for key in config["data"])


def test_dockerfile():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.MULTILINE)
    assert len(stages) >= 2, "multi-stage"
    assert "python:3.11-slim" in text
    runtime = text[text.rindex("\nFROM ") :]  # the last stage is the image
    users = re.findall(r"^USER\s+(\S+)", runtime, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "a non-root USER"
    for package in ("fonts-noto-cjk", "libharfbuzz-subset0", "libpango-1.0-0"):
        assert package in runtime, package
    for compiler in ("gcc", "build-essential", "g++", "clang"):
        assert compiler not in runtime, compiler
    assert re.search(r"uv sync --frozen --no-dev", text)
    assert "COPY plugins/regions" in text  # the workspace's region plugins are installed
    assert 'ENTRYPOINT ["shebao"]' in runtime
    assert 'CMD ["serve", "--host", "0.0.0.0"]' in runtime
    assert re.search(r"HEALTHCHECK .*\n?.*/ready", runtime)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", ".tools", "var"} <= set(ignored)


# --- (f) the schema stays distributable by agency_id (Citus) --------------------------------------------

# Unique constraints without agency_id, known and planned for: on Citus a unique constraint must
# include the distribution column. auth_tokens.token_hash is unique across agencies; a token names
# its agency, so (agency_id, token_hash) would do (docs/operations.md, "Distributing with Citus").
KNOWN_GLOBAL_UNIQUES = {("auth_tokens", ("token_hash",))}


def test_schema_is_distributable_by_agency_id():
    import shebao.platform.db.models  # noqa: F401  (every model mapped)
    from shebao.platform.db.base import Base, tenant_models

    tenant = {cls.__table__.name for cls in tenant_models()}
    assert len(tenant) >= 10, tenant
    shared = set(Base.metadata.tables) - tenant
    global_uniques = set()
    for name, table in Base.metadata.tables.items():
        for fk in table.foreign_key_constraints:
            target = fk.referred_table.name
            if name in shared:
                # a reference table cannot point at a distributed one
                assert target in shared, f"{name} (shared) -> {target} (tenant)"
                continue
            if target in tenant:
                pairs = [(element.parent.name, element.column.name) for element in fk.elements]
                assert pairs[0] == ("agency_id", "agency_id"), f"{name} -> {target}: {pairs} must lead with agency_id"
        if name in shared:
            continue
        pk = [c.name for c in table.primary_key.columns]
        assert pk[0] == "agency_id", f"{name}: primary key {pk} must lead with agency_id"
        uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
        uniques += [ix for ix in table.indexes if ix.unique]
        for unique in uniques:
            columns = tuple(c.name for c in unique.columns)
            if "agency_id" not in columns:
                global_uniques.add((name, columns))
    assert global_uniques <= KNOWN_GLOBAL_UNIQUES, (
        f"unique constraints without agency_id cannot exist on a table distributed by agency_id: "
        f"{sorted(global_uniques - KNOWN_GLOBAL_UNIQUES)}"
    )
