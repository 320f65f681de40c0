"""Fixtures: every database test runs on SQLite (the embedded default) and on PostgreSQL.

PostgreSQL: one database per test run, migrated by the owner (``postgres``), used by the app
through ``shebao_test_app``, a login role that is neither superuser nor BYPASSRLS and is granted
``shebao_app``, so row-level security really applies. Tests isolate themselves by creating their
own agencies, so nothing needs truncating between them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from shebao.platform.auth.passwords import generate_password
from shebao.platform.db.engine import make_engine, make_sessionmaker
from shebao.platform.db.migrate import upgrade
from shebao.platform.tenancy.context import Actor
from shebao.platform.tenancy.filters import bind_actor
from shebao.platform.tenancy.service import create_agency

REDIS = os.environ.get("SHEBAO_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")

PG_ADMIN = os.environ.get("SHEBAO_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432")
APP_LOGIN = "shebao_test_app"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


def _pg_admin(dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(f"{PG_ADMIN}/{dbname}", autocommit=True)


@pytest.fixture(scope="session")
def postgresql_database():
    """A fresh migrated PostgreSQL database for this run: (owner URL, app URL)."""
    name = f"shebao_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    owner_url = f"{PG_ADMIN}/{name}"
    with _pg_admin() as lock:
        # Roles are the cluster's, not the database's: pytest-xdist's processes (and other test
        # runs on this machine) would race to create them. One at a time, then.
        lock.execute("SELECT pg_advisory_lock(7272001)")
        lock.execute(f'CREATE DATABASE "{name}"')
        upgrade(owner_url)
        with _pg_admin(name) as conn:
            conn.execute(
                f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_LOGIN}') "
                f"THEN CREATE ROLE {APP_LOGIN} LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"
            )
            conn.execute(f"GRANT shebao_app TO {APP_LOGIN}")
    host = PG_ADMIN.split("@", 1)[1]
    yield owner_url, f"postgresql://{APP_LOGIN}@{host}/{name}"
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'shebao.db'}"
    upgrade(url)
    return url, url


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database(backend, request):
    """(owner URL, app URL) of the migrated database of this test's backend."""
    return request.getfixturevalue(f"{backend}_database")


@pytest.fixture
def db_url(database) -> str:
    return database[1]


@pytest.fixture
async def engine(db_url):
    eng = make_engine(db_url, pool=False)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessionmaker(engine):
    return make_sessionmaker(engine)


_counter = itertools.count()


@dataclass
class AgencyFixture:
    id: uuid.UUID
    code: str
    admin_id: uuid.UUID
    admin_username: str
    admin_password: str

    @property
    def system(self) -> Actor:
        return Actor.system(self.id)


@pytest.fixture
def make_agency(sessionmaker):
    async def make(prefix: str = "ag") -> AgencyFixture:
        code = f"{prefix}-{os.getpid() % 10000}-{next(_counter)}-{uuid.uuid4().hex[:4]}"
        password = generate_password()
        async with sessionmaker() as session:
            new = await create_agency(session, code, f"测试机构 {code}", "admin", password)
            await session.commit()
        return AgencyFixture(new.agency.id, code, new.admin.id, "admin", password)

    return make


@pytest.fixture
def session_as(sessionmaker):
    """``async with session_as(actor) as s``: a session bound to ``actor``."""

    class _Ctx:
        def __init__(self, actor):
            self.actor = actor

        async def __aenter__(self):
            self.session = sessionmaker()
            await bind_actor(self.session, self.actor)
            return self.session

        async def __aexit__(self, *exc):
            await self.session.close()

    return _Ctx


@pytest.fixture
def storage_dir(tmp_path):
    """The test's own file store (attachments, documents)."""
    return tmp_path / "files"


@pytest.fixture
def storage(storage_dir):
    from shebao.platform.storage.local import LocalFolderStorage

    return LocalFolderStorage(storage_dir)


@pytest.fixture
async def app_client(db_url, storage_dir):
    """The real Litestar app on this test's database and file store, through an in-process HTTP client."""
    from litestar.testing import AsyncTestClient

    from shebao.graphql.app import create_app
    from shebao.platform.config import Settings

    app = create_app(Settings(database_url=db_url, storage_dir=storage_dir), check_database=False)
    async with AsyncTestClient(app=app) as client:
        yield client


class GraphQLClient:
    def __init__(self, http):
        self.http = http

    async def raw(
        self,
        query: str,
        variables: dict | None = None,
        token: str | None = None,
        lang: str | None = None,
        headers: dict | None = None,
    ):
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        if lang:
            h["Accept-Language"] = lang
        return await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=h)

    async def __call__(
        self,
        query: str,
        variables: dict | None = None,
        token: str | None = None,
        lang: str | None = None,
        expect_errors: bool = False,
    ) -> dict:
        response = await self.raw(query, variables, token, lang)
        body = response.json()
        if not expect_errors:
            assert response.status_code == 200, body
            assert not body.get("errors"), body["errors"]
            return body["data"]
        return body

    async def login(self, agency_code: str, username: str, password: str) -> str:
        data = await self(
            "mutation($a:String!,$u:String!,$p:String!){ login(input:{agencyCode:$a, username:$u, password:$p})"
            " { token errors { code field message } } }",
            {"a": agency_code, "u": username, "p": password},
        )
        assert data["login"]["errors"] == [], data
        return data["login"]["token"]


@pytest.fixture
def gql(app_client) -> GraphQLClient:
    return GraphQLClient(app_client)


class Workers:
    """Real ``shebao worker`` processes on a queue of their own (one database, one Redis). Each runs
    in a process group of its own (with its rendering processes) and writes to a log file: a killed
    worker's orphans can never hold a pipe the test waits on."""

    def __init__(self, db_url: str, logs: Path):
        self.db_url, self.logs = db_url, logs
        self.queue = f"shebao:test:{uuid.uuid4().hex[:8]}"
        self.procs: list[tuple[subprocess.Popen, Path]] = []
        self.killed: set[int] = set()

    def start(self, **env_extra: str) -> subprocess.Popen:
        env = {**os.environ, "SHEBAO_DATABASE_URL": self.db_url, "SHEBAO_REDIS_URL": REDIS}
        env["SHEBAO_QUEUE_NAME"] = self.queue
        env["SHEBAO_JOB_STALE_SECONDS"] = "8"  # a killed worker's job is taken up again soon (beats every 2 s)
        env["SHEBAO_WORKER_METRICS_PORT"] = "0"  # no metrics port unless a test asks (pass a free port)
        env.update(env_extra)
        log = self.logs / f"worker-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "shebao"), "worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs.append((proc, log))
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL to the worker and its rendering processes, as when a machine dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
        self.killed.add(proc.pid)

    def stop_all(self) -> None:
        for proc, log in self.procs:
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything left of the group
            proc.wait(timeout=15)
            output = log.read_text(errors="replace")
            if proc.pid not in self.killed:
                assert "Traceback" not in output, output


@pytest.fixture
def workers(db_url, tmp_path):
    pool = Workers(db_url, tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture
def worker(workers):
    """One real worker; yields its queue's name."""
    workers.start()
    return workers.queue
