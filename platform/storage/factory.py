"""Pick the store the settings ask for: the local folder (default) or an S3-compatible bucket."""

from __future__ import annotations

import functools

from shebao.platform.config import ConfigError, Settings
from shebao.platform.storage.base import Storage
from shebao.platform.storage.local import LocalFolderStorage


def storage_for(settings: Settings) -> Storage:
    if settings.storage == "s3":
        return _s3_store(
            settings.s3_bucket,
            settings.s3_prefix,
            settings.s3_endpoint_url,
            settings.s3_region,
            settings.s3_addressing_style,
            settings.s3_access_key_id,
            settings.s3_secret_access_key,
        )
    return LocalFolderStorage(settings.storage_dir)


# HTTP handlers ask for the store on every request; building a boto3 client takes milliseconds and
# its own connection pool, so each process keeps one per configuration (the client is thread-safe).
@functools.lru_cache(maxsize=8)
def _s3_store(
    bucket: str | None,
    prefix: str,
    endpoint_url: str | None,
    region: str | None,
    addressing_style: str,
    access_key_id: str | None,
    secret_access_key: str | None,
) -> Storage:
    from shebao.platform.storage.s3 import S3Storage  # boto3 is imported only by processes that use it

    if not bucket:
        raise ConfigError("SHEBAO_S3_BUCKET is required when SHEBAO_STORAGE=s3")
    return S3Storage(
        bucket,
        prefix=prefix,
        endpoint_url=endpoint_url,
        region=region,
        addressing_style=addressing_style,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
    )
