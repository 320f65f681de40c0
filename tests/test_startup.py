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
from pathlib import Path

import psycopg
import pytest

from shebao.platform.config import Settings
from shebao.platform.db.migrate import current_revision, head_revision
from shebao.platform.db.preflight import StartupError, prepare_database
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.registry import PluginError, build_registry

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


def test_two_plugins_claiming_one_region_code(tmp_path, monkeypatch):
    body = """
        @hookimpl
        def shebao_regions():
            return [Region(code="twice", name_zh="重复", name_en="Twice")]
        """
    first = _plugin_module(tmp_path, monkeypatch, f"twice_a_{uuid.uuid4().hex[:8]}", body)
    second = _plugin_module(tmp_path, monkeypatch, f"twice_b_{uuid.uuid4().hex[:8]}", body)
    with pytest.raises(PluginError) as caught:
        build_registry(eps=[_ep("alpha", first), _ep("beta", second)])
    message = str(caught.value)
    assert "'twice'" in message
    assert "alpha" in message and "beta" in message


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


def test_a_good_plugin_loads_next_to_the_installed_ones(tmp_path, monkeypatch):
    good = _plugin_module(
        tmp_path,
        monkeypatch,
        f"good_{uuid.uuid4().hex[:8]}",
        """
        @hookimpl
        def shebao_regions():
            return [Region(code="extra.town", name_zh="小镇", name_en="Town")]
        """,
    )
    installed = sorted(importlib.metadata.entry_points(group="shebao.regions"), key=lambda e: e.name)
    registry = build_registry(eps=[*installed, _ep("extra", good)])
    assert "extra.town" in registry.codes and "tianjin" in registry.codes
    assert registry.get("extra.town").name_en == "Town"
