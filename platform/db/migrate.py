"""Schema migrations (Alembic), driven from Shebao's own configuration instead of an ini file."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from shebao.platform.db.engine import sync_url

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseNotMigrated(RuntimeError):
    pass


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = sync_url(url)
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def require_migrated(url: str) -> None:
    """Refuse to serve a database whose schema is not at the code's head revision."""
    current, head = current_revision(url), head_revision()
    if current != head:
        state = "has no Shebao schema" if current is None else f"is at revision {current}"
        raise DatabaseNotMigrated(
            f"The database {state}; this Shebao needs revision {head}. "
            "Run `shebao migrate` (with SHEBAO_MIGRATION_DATABASE_URL set to an owner role) first."
        )
