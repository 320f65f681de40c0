"""Settings, read from environment variables only (never a file that could ship a secret).

A missing or malformed setting stops start-up with a message naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from shebao.platform.storage.base import InvalidKeyError, check_key

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
    # "local" (the folder above) or "s3" (any S3-compatible store: the s3_* settings below).
    storage: str = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None  # None: AWS itself; else MinIO, Ceph, Aliyun OSS, Tencent COS...
    s3_region: str | None = None
    s3_prefix: str = ""  # keys are stored as "<prefix>/<key>" ("" = at the bucket's root)
    s3_addressing_style: str = "auto"  # "path" for most MinIO/Ceph set-ups, "virtual" for OSS/COS
    s3_access_key_id: str | None = None  # both None: boto3's own chain (AWS_* variables, IRSA, instance role)
    s3_secret_access_key: str | None = field(default=None, repr=False)  # never printed
    log_format: str = "text"  # "json": one JSON object a line (docs/operations.md)
    # A running job silent (no progress, no heartbeat) this long is taken to be dead and run again.
    job_stale_after: timedelta = timedelta(minutes=10)
    # Processes rendering PDFs in each API (embedded) or worker process: scale by adding workers.
    render_processes: int = 1
    # Each `shebao worker` serves its own /metrics on this port (0: none); the API's is on its own port.
    worker_metrics_port: int = 9101

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
        if env.get("SHEBAO_WORKER_METRICS_PORT"):
            values["worker_metrics_port"] = _port(env, "SHEBAO_WORKER_METRICS_PORT")
        if env.get("SHEBAO_STORAGE_DIR"):
            values["storage_dir"] = Path(env["SHEBAO_STORAGE_DIR"])
        if env.get("SHEBAO_LOG_FORMAT"):
            values["log_format"] = env["SHEBAO_LOG_FORMAT"].strip().lower()
            if values["log_format"] not in ("json", "text"):
                raise ConfigError(f"SHEBAO_LOG_FORMAT must be json or text, got {env['SHEBAO_LOG_FORMAT']!r}")
        values.update(_storage_settings(env))
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


# S3's bucket naming rule (Aliyun OSS and Tencent COS "name-appid" names follow it too).
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _storage_settings(env: Mapping[str, str]) -> dict:
    """SHEBAO_STORAGE and, for "s3", the SHEBAO_S3_* variables (docs/operations.md, "Document store")."""
    kind = (env.get("SHEBAO_STORAGE") or "local").strip().lower()
    if kind not in ("local", "s3"):
        raise ConfigError(f"SHEBAO_STORAGE must be local or s3, got {env['SHEBAO_STORAGE']!r}")
    if kind == "local":
        # A bucket named but not used would quietly keep every file on this machine's disk.
        if env.get("SHEBAO_S3_BUCKET"):
            raise ConfigError("SHEBAO_S3_BUCKET is set but SHEBAO_STORAGE is not s3: set SHEBAO_STORAGE=s3")
        return {}
    values: dict = {"storage": "s3"}
    bucket = (env.get("SHEBAO_S3_BUCKET") or "").strip()
    if not bucket:
        raise ConfigError("SHEBAO_S3_BUCKET is required when SHEBAO_STORAGE=s3")
    if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise ConfigError(f"SHEBAO_S3_BUCKET is not a bucket name (3-63 of a-z 0-9 . -), got {bucket!r}")
    values["s3_bucket"] = bucket
    if env.get("SHEBAO_S3_ENDPOINT_URL"):
        values["s3_endpoint_url"] = _endpoint_url("SHEBAO_S3_ENDPOINT_URL", env["SHEBAO_S3_ENDPOINT_URL"].strip())
    if env.get("SHEBAO_S3_REGION"):
        region = env["SHEBAO_S3_REGION"].strip()
        if not _REGION_NAME.fullmatch(region):
            raise ConfigError(f"SHEBAO_S3_REGION is not a region name, got {region!r}")
        values["s3_region"] = region
    if env.get("SHEBAO_S3_PREFIX"):
        values["s3_prefix"] = _key_prefix("SHEBAO_S3_PREFIX", env["SHEBAO_S3_PREFIX"])
    if env.get("SHEBAO_S3_ADDRESSING_STYLE"):
        style = env["SHEBAO_S3_ADDRESSING_STYLE"].strip().lower()
        if style not in ("auto", "path", "virtual"):
            raise ConfigError(f"SHEBAO_S3_ADDRESSING_STYLE must be auto, path or virtual, got {style!r}")
        values["s3_addressing_style"] = style
    key_id, secret = env.get("SHEBAO_S3_ACCESS_KEY_ID", ""), env.get("SHEBAO_S3_SECRET_ACCESS_KEY", "")
    if bool(key_id) != bool(secret):
        # Named, never shown: the message must not carry the half that is set.
        missing = "SHEBAO_S3_SECRET_ACCESS_KEY" if key_id else "SHEBAO_S3_ACCESS_KEY_ID"
        raise ConfigError(f"{missing} is required when the other S3 credential variable is set (or set neither)")
    if key_id:
        values["s3_access_key_id"], values["s3_secret_access_key"] = key_id.strip(), secret.strip()
    return values


def _endpoint_url(var: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{var} must be an http:// or https:// URL, got {_hide_password(value)!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{var} must not hold credentials: use SHEBAO_S3_ACCESS_KEY_ID/SECRET_ACCESS_KEY")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ConfigError(f"{var} has a port that is not a number: {value!r}") from None
    if parts.query or parts.fragment:
        raise ConfigError(f"{var} must not have a query or fragment, got {value!r}")
    return value.rstrip("/")


def _key_prefix(var: str, value: str) -> str:
    prefix = value.strip().strip("/")
    if not prefix:
        return ""
    try:
        check_key(prefix)
    except InvalidKeyError as err:
        raise ConfigError(f"{var} is not a clean key prefix ({err})") from None
    return prefix


def _port(env: Mapping[str, str], var: str) -> int:
    """A TCP port, or 0 for none."""
    try:
        value = int(env[var])
    except ValueError:
        raise ConfigError(f"{var} must be a port number (0 for none), got {env[var]!r}") from None
    if not 0 <= value <= 65535:
        raise ConfigError(f"{var} must be between 0 (none) and 65535, got {value}")
    return value


def _positive_int(env: Mapping[str, str], var: str, maximum: int) -> int:
    try:
        value = int(env[var])
    except ValueError:
        raise ConfigError(f"{var} must be a whole number, got {env[var]!r}") from None
    if not 1 <= value <= maximum:
        raise ConfigError(f"{var} must be between 1 and {maximum}, got {value}")
    return value
