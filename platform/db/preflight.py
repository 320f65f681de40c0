"""Start-up checks on the database: migrated, and (PostgreSQL) not bypassing row-level security."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from shebao.platform.config import Settings
from shebao.platform.db.engine import sync_url
from shebao.platform.db.migrate import DatabaseNotMigrated, require_migrated, upgrade


class StartupError(RuntimeError):
    pass


def prepare_database(settings: Settings) -> None:
    """The embedded default migrates itself; PostgreSQL must already be migrated by its owner."""
    if settings.is_sqlite:
        database = make_url(settings.database_url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url)
        return
    try:
        require_migrated(settings.database_url)
    except DatabaseNotMigrated as exc:
        raise StartupError(str(exc)) from None
    except Exception as exc:
        raise StartupError(f"Cannot reach the database: {exc}") from None
    check_app_role(settings.database_url)


def check_app_role(url: str) -> None:
    """Refuse a role that row-level security would not apply to."""
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            name, superuser, bypass = conn.execute(
                text("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            ).one()
    finally:
        engine.dispose()
    if superuser or bypass:
        raise StartupError(
            f"Shebao connects to PostgreSQL as {name!r}, a {'superuser' if superuser else 'BYPASSRLS role'}: "
            "row-level security would not apply to it. Connect SHEBAO_DATABASE_URL as a login role granted "
            "shebao_app (CREATE ROLE shebao_web LOGIN; GRANT shebao_app TO shebao_web) and keep the owner role "
            "for SHEBAO_MIGRATION_DATABASE_URL."
        )
