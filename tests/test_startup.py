"""Start-up: the database checks, the embedded default migrating itself, the command line's
create-agency and demo, and broken region plugins stopping the start with the plugin's name."""

from __future__ import annotations

import importlib.metadata
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from shebao.platform.config import Settings
from shebao.platform.core.month import Month
from shebao.platform.db.migrate import current_revision, head_revision
from shebao.platform.db.preflight import StartupError, prepare_database
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.registry import PluginError, build_registry, registry

pytestmark = pytest.mark.anyio

PG_ADMIN = os.environ.get("SHEBAO_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432")
SHEBAO = str(Path(sys.executable).with_name("shebao"))


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SHEBAO_")}
    full_env.update(env)
    return subprocess.run(
        [SHEBAO, *args],
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sqlite_rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


# --- (a) an unmigrated PostgreSQL database ---------------------------------------------------------


@pytest.fixture
def empty_postgresql_database():
    name = f"shebao_empty_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN}/{name}"
    finally:
        with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _says_unmigrated(message: str) -> None:
    assert "has no Shebao schema" in message, message
    assert "shebao migrate" in message, message


def test_unmigrated_postgresql_refuses_to_start(empty_postgresql_database):
    with pytest.raises(StartupError) as caught:
        prepare_database(Settings(database_url=empty_postgresql_database))
    _says_unmigrated(str(caught.value))
    assert head_revision() in str(caught.value)
    assert current_revision(empty_postgresql_database) is None  # and nothing was migrated


def test_serve_on_an_unmigrated_postgresql_exits_with_the_reason(empty_postgresql_database):
    started = time.monotonic()
    result = run_cli("serve", "--port", "0", env={"SHEBAO_DATABASE_URL": empty_postgresql_database})
    assert time.monotonic() - started < 30
    assert result.returncode != 0
    _says_unmigrated(result.stderr)
    assert "Traceback" not in result.stderr
    assert "http://" not in result.stdout  # never got as far as serving
    assert current_revision(empty_postgresql_database) is None


def test_unreachable_database_is_a_clear_startup_error():
    with pytest.raises(StartupError, match="Cannot reach the database"):
        prepare_database(Settings(database_url="postgresql://nobody@127.0.0.1:1/nothing"))


# --- (b) the role the server connects as ------------------------------------------------------------


def test_superuser_connection_is_refused(postgresql_database):
    owner_url, app_url = postgresql_database
    with pytest.raises(StartupError) as caught:
        prepare_database(Settings(database_url=owner_url))
    message = str(caught.value)
    assert "superuser" in message and "row-level security" in message
    assert "'postgres'" in message
    prepare_database(Settings(database_url=app_url))  # the application role passes


# --- (c) the embedded default migrates itself -------------------------------------------------------


def test_sqlite_is_created_and_migrated(tmp_path):
    path = tmp_path / "not" / "yet" / "there" / "shebao.db"
    url = f"sqlite:///{path}"
    prepare_database(Settings(database_url=url))
    assert path.exists()
    assert current_revision(url) == head_revision()
    assert sqlite_rows(path, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert sqlite_rows(path, "SELECT count(*) FROM agencies") == [(0,)]
    prepare_database(Settings(database_url=url))  # again: nothing to do, no error
    assert current_revision(url) == head_revision()


# --- (d) shebao create-agency -------------------------------------------------------------------------------


async def _login(url: str, code: str, username: str, password: str):
    from shebao.platform.auth.service import login
    from shebao.platform.db.engine import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await login(session, Settings(database_url=url), code, username, password)
    finally:
        await engine.dispose()


async def test_create_agency_command(tmp_path):
    path = tmp_path / "cli.db"
    env = {"SHEBAO_DATABASE_URL": f"sqlite:///{path}"}

    # no password variable, no terminal: refused before anything is created
    result = run_cli("create-agency", "--code", "acme-hr", "--name", "Acme HR", "--admin", "boss", env=env)
    assert result.returncode != 0
    assert "SHEBAO_ADMIN_PASSWORD" in result.stderr
    assert not path.exists()

    # a weak password: PASSWORD_POLICY, nothing created
    weak = {**env, "SHEBAO_ADMIN_PASSWORD": "password"}
    result = run_cli("create-agency", "--code", "acme-hr", "--name", "Acme HR", "--admin", "boss", env=weak)
    assert result.returncode != 0
    assert "PASSWORD_POLICY" in result.stderr and "adminPassword" in result.stderr
    assert "Traceback" not in result.stderr
    assert not path.exists() or sqlite_rows(path, "SELECT count(*) FROM agencies") == [(0,)]

    # with the variable: created on a fresh file (the embedded default migrates itself)
    good = {**env, "SHEBAO_ADMIN_PASSWORD": "Sturdy-passw0rd"}
    result = run_cli("create-agency", "--code", "acme-hr", "--name", "Acme HR", "--admin", "boss", env=good)
    assert result.returncode == 0, result.stderr
    assert "acme-hr" in result.stdout
    assert sqlite_rows(path, "SELECT code, name FROM agencies") == [("acme-hr", "Acme HR")]
    assert sqlite_rows(path, "SELECT username, role FROM users") == [("boss", "admin")]
    issued = await _login(f"sqlite:///{path}", "acme-hr", "boss", "Sturdy-passw0rd")
    assert issued.user.username == "boss" and issued.token

    # the same code twice: DUPLICATE, still one agency
    result = run_cli("create-agency", "--code", "acme-hr", "--name", "Other", "--admin", "boss", env=good)
    assert result.returncode != 0 and "DUPLICATE" in result.stderr
    assert sqlite_rows(path, "SELECT count(*) FROM agencies") == [(1,)]


# --- (e) shebao demo -------------------------------------------------------------------------------------


def _demo_login(output: str) -> tuple[str, str, str]:
    fields = dict(re.findall(r"^\s*(agency code|username|password):\s+(\S+)\s*$", output, re.MULTILINE))
    assert set(fields) == {"agency code", "username", "password"}, output
    return fields["agency code"], fields["username"], fields["password"]


async def test_demo_seeds_a_login_with_a_fresh_password(tmp_path):
    path = tmp_path / "demo" / "shebao.db"
    url = f"sqlite:///{path}"
    first = run_cli("demo", "--no-serve", env={"SHEBAO_DATABASE_URL": url})
    assert first.returncode == 0, first.stderr
    code, username, password = _demo_login(first.stdout)
    assert len(password) >= 8 and re.search(r"\d", password) and re.search(r"[A-Za-z]", password)
    issued = await _login(url, code, username, password)
    assert issued.user.username == username

    second = run_cli("demo", "--no-serve", env={"SHEBAO_DATABASE_URL": url})
    assert second.returncode == 0, second.stderr
    code2, username2, password2 = _demo_login(second.stdout)
    assert (code2, username2) == (code, username)
    assert password2 != password
    await _login(url, code, username, password2)
    with pytest.raises(ShebaoError) as caught:
        await _login(url, code, username, password)
    assert caught.value.code == ErrorCode.INVALID_CREDENTIALS
    assert sqlite_rows(path, "SELECT count(*) FROM agencies") == [(1,)]
    assert sqlite_rows(path, "SELECT count(*) FROM client_companies")[0][0] > 0


# --- (f) broken region plugins ---------------------------------------------------------------------------


def _ep(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group="shebao.regions")


def _plugin_module(tmp_path: Path, monkeypatch, module: str, body: str) -> str:
    (tmp_path / f"{module}.py").write_text(
        "from shebao.platform.regions.api import Region, hookimpl\n\n" + textwrap.dedent(body)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    return module


def test_plugin_that_cannot_be_imported_is_named():
    with pytest.raises(PluginError) as caught:
        build_registry(eps=[_ep("broken", "no_such_module_xyz")])
    assert caught.value.plugin == "broken"
    assert "'broken'" in str(caught.value) and "no_such_module_xyz" in str(caught.value)


def test_misspelled_hook_is_named(tmp_path, monkeypatch):
    module = _plugin_module(
        tmp_path,
        monkeypatch,
        f"typo_region_{uuid.uuid4().hex[:8]}",
        """
        @hookimpl
        def shebao_regionz():
            return [Region(code="typo", name_zh="错字", name_en="Typo")]
        """,
    )
    with pytest.raises(PluginError) as caught:
        build_registry(eps=[_ep("typo", module)])
    assert caught.value.plugin == "typo"
    assert "shebao_regionz" in str(caught.value)


def test_plugin_with_a_bad_region_or_a_failing_hook(tmp_path, monkeypatch):
    bad_code = _plugin_module(
        tmp_path,
        monkeypatch,
        f"badcode_{uuid.uuid4().hex[:8]}",
        """
        @hookimpl
        def shebao_regions():
            return [Region(code="Not A Code", name_zh="坏", name_en="Bad")]
        """,
    )
    with pytest.raises(PluginError) as caught:
        build_registry(eps=[_ep("badcode", bad_code)])
    assert caught.value.plugin == "badcode"
    failing = _plugin_module(
        tmp_path,
        monkeypatch,
        f"failing_{uuid.uuid4().hex[:8]}",
        """
        @hookimpl
        def shebao_regions():
            raise ValueError("rates file missing")
        """,
    )
    with pytest.raises(PluginError) as caught:
        build_registry(eps=[_ep("failing", failing)])
    assert caught.value.plugin == "failing" and "rates file missing" in str(caught.value)


def test_demo_shows_every_region_with_every_household_type_and_employment_form(tmp_path):
    path = tmp_path / "demo" / "shebao.db"
    seeded = run_cli("demo", "--no-serve", env={"SHEBAO_DATABASE_URL": f"sqlite:///{path}"})
    assert seeded.returncode == 0, seeded.stderr
    rows = sqlite_rows(
        path,
        "SELECT c.region_code, e.household_type, e.employment_form, e.monthly_base FROM enrollments e"
        " JOIN client_companies c ON c.agency_id = e.agency_id AND c.id = e.company_id",
    )
    reg = registry()
    assert {r[0] for r in rows} == set(reg.codes)  # Fuzhou and Xiamen both, and every other region
    for code in reg.codes:
        region = reg.get(code)
        mine = [r for r in rows if r[0] == code]
        assert {r[1] for r in mine} == set(region.coded_list("household_types").codes), code
        assert {r[2] for r in mine} == set(region.coded_list("employment_forms").codes), code
        limits = reg.book(code).at(Month(2026, 1))
        bases = {Decimal(r[3]) for r in mine}
        assert Decimal(limits.number("base.floor")) in bases, code  # a base at the floor ...
        assert max(bases) > limits.number("base.ceiling"), code  # ... and one billed at the ceiling
    assert sqlite_rows(path, "SELECT name, value FROM policy_figures") == [("large_medical.employee_amount", "10.00")]
