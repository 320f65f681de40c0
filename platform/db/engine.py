"""Engines and sessions for the embedded default (SQLite) and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from shebao.platform.tenancy.filters import TenantSession


def async_url(url: str) -> str:
    """The async driver for a URL given with or without one."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return str(u.set(drivername="sqlite+aiosqlite"))
    if u.get_backend_name() == "postgresql":
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database: {u.get_backend_name()}")


def sync_url(url: str) -> str:
    """The sync driver (Alembic, CLI checks)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return str(u.set(drivername="sqlite"))
    return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _sqlite_savepoint(conn, _name) -> None:
    # The driver emits BEGIN lazily, before the first write: a SAVEPOINT taken before any write would
    # live outside a transaction, and releasing it would commit (a bulk action that fails later
    # would keep its first rows). Begin the transaction first.
    if not conn.connection.driver_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")


def make_engine(url: str, *, pool: bool = True, echo: bool = False) -> AsyncEngine:
    kwargs = {"echo": echo}
    if not pool:
        kwargs["poolclass"] = NullPool
    engine = create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "savepoint", _sqlite_savepoint)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Every model must be mapped before the first query, or a composite foreign key to a model
    # nobody imported yet fails mapper configuration (seen in a worker process).
    import shebao.platform.db.models  # noqa: F401

    return async_sessionmaker(engine, sync_session_class=TenantSession, expire_on_commit=False)
