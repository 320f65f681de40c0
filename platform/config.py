"""Settings, read from environment variables only (never a file that could ship a secret).

A missing or malformed setting stops start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite:///var/shebao.db"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # The owner role for migrations on PostgreSQL; the app itself connects as a non-superuser.
    migration_database_url: str | None = None
    redis_url: str | None = None
    queue_name: str = "shebao:queue"
    token_ttl: timedelta = timedelta(hours=12)
    lockout_threshold: int = 5
    lockout_duration: timedelta = timedelta(minutes=15)
    max_query_depth: int = 10
    max_query_tokens: int = 2000
    max_page_size: int = 100
    default_page_size: int = 20
    storage_dir: Path = Path("var/files")
    log_format: str = "text"  # "json": one JSON object a line (docs/operations.md)
    # A running job silent (no progress, no heartbeat) this long is taken to be dead and run again.
    job_stale_after: timedelta = timedelta(minutes=10)
    # Processes rendering PDFs in each API (embedded) or worker process: scale by adding workers.
    render_processes: int = 1

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"

    @property
    def migrations_url(self) -> str:
        return self.migration_database_url or self.database_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict = {}
        for var, key in (
            ("SHEBAO_DATABASE_URL", "database_url"),
            ("SHEBAO_MIGRATION_DATABASE_URL", "migration_database_url"),
        ):
            if env.get(var):
                values[key] = _database_url(var, env[var])
        if env.get("SHEBAO_REDIS_URL"):
            values["redis_url"] = _redis_url("SHEBAO_REDIS_URL", env["SHEBAO_REDIS_URL"])
        if env.get("SHEBAO_QUEUE_NAME"):
            values["queue_name"] = env["SHEBAO_QUEUE_NAME"]
        if env.get("SHEBAO_TOKEN_TTL_HOURS"):
            values["token_ttl"] = timedelta(hours=_positive_int(env, "SHEBAO_TOKEN_TTL_HOURS", 24 * 90))
        if env.get("SHEBAO_MAX_QUERY_DEPTH"):
            values["max_query_depth"] = _positive_int(env, "SHEBAO_MAX_QUERY_DEPTH", 50)
        if env.get("SHEBAO_JOB_STALE_SECONDS"):
            values["job_stale_after"] = timedelta(seconds=_positive_int(env, "SHEBAO_JOB_STALE_SECONDS", 86400))
        if env.get("SHEBAO_RENDER_PROCESSES"):
            values["render_processes"] = _positive_int(env, "SHEBAO_RENDER_PROCESSES", 64)
        if env.get("SHEBAO_STORAGE_DIR"):
            values["storage_dir"] = Path(env["SHEBAO_STORAGE_DIR"])
        if env.get("SHEBAO_LOG_FORMAT"):
            values["log_format"] = env["SHEBAO_LOG_FORMAT"].strip().lower()
            if values["log_format"] not in ("json", "text"):
                raise ConfigError(f"SHEBAO_LOG_FORMAT must be json or text, got {env['SHEBAO_LOG_FORMAT']!r}")
        return cls(**values)


def _database_url(var: str, value: str) -> str:
    try:
        backend = make_url(value).get_backend_name()
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(f"{var} is not a database URL: {_hide_password(value)!r}") from None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{var} must be a sqlite:/// or postgresql:// URL, got {backend!r}")
    return value


def _redis_url(var: str, value: str) -> str:
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{var} must start with redis://, rediss:// or unix://, got {_hide_password(value)!r}")
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ConfigError(f"{var} has a port that is not a number: {_hide_password(value)!r}") from None
    database = parts.path.strip("/") if parts.scheme != "unix" else ""
    if database and not database.isdigit():
        raise ConfigError(f"{var} must end in a database number (redis://host:6379/0), got {_hide_password(value)!r}")
    return value


def _hide_password(url: str) -> str:
    """The URL as it may be printed: a password in it replaced by ***."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def _positive_int(env: Mapping[str, str], var: str, maximum: int) -> int:
    try:
        value = int(env[var])
    except ValueError:
        raise ConfigError(f"{var} must be a whole number, got {env[var]!r}") from None
    if not 1 <= value <= maximum:
        raise ConfigError(f"{var} must be between 1 and {maximum}, got {value}")
    return value
