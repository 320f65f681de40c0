"""An S3-compatible store: AWS S3, MinIO, Ceph RGW, Aliyun OSS, Tencent COS... (``SHEBAO_STORAGE=s3``).

Objects live in one bucket, under an optional key prefix. Error messages name the bucket, the key
and the store's error code, never a credential or the store's own message text.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable

from shebao.platform.storage.base import ObjectNotFound, StorageError, StoredObject, check_key

_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
_NO_BUCKET = {"NoSuchBucket"}
_CHUNK = 8 * 1024 * 1024


class S3Storage:
    """Thread-safe: one boto3 client, built here from a session of its own (sessions are not
    thread-safe, clients are), shared by every ``asyncio.to_thread`` call."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str = "auto",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 60,
        max_attempts: int = 3,
        multipart_threshold: int = 16 * 1024 * 1024,
    ):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            check_key(self.prefix)
        self.endpoint_url = endpoint_url
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "max_attempts": max_attempts},
            s3={"addressing_style": addressing_style},
            # asyncio.to_thread may run many calls at once; beyond the pool, connections are thrown away.
            max_pool_connections=32,
            # boto3 >= 1.36 adds CRC checksums by default, which several S3-compatible stores (older
            # MinIO and Ceph, OSS, COS) refuse; put() sends Content-MD5 instead, which all of them check.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session(
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=region
        )
        self.client = session.client("s3", endpoint_url=endpoint_url, config=config)
        # Large files go up in parts read from disk: at most max_concurrency parts in memory at a time.
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=_CHUNK, max_concurrency=4
        )

    def __repr__(self) -> str:
        where = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r}{where})"

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # -- the Storage protocol ------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> StoredObject:
        full = self._key(key)
        data = bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data, ContentMD5=md5, **_object_args(key, digest))
        except (BotoCoreError, ClientError) as err:
            raise self._error("store", key, err) from err
        return StoredObject(key=key, size=len(data), sha256=digest)

    def put_file(self, key: str, source: Path | str) -> StoredObject:
        """Hash the file (one pass, 1 MB at a time), then upload it: in parts above the threshold."""
        full = self._key(key)
        digest, size = hashlib.sha256(), 0
        try:
            with open(source, "rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
        except OSError as err:
            raise StorageError(f"cannot store {key!r}: cannot read {str(source)!r}: {err.strerror}") from err
        try:
            self.client.upload_file(
                str(source),
                self.bucket,
                full,
                ExtraArgs=_object_args(key, digest.hexdigest()),
                Config=self._transfer,
            )
        except (BotoCoreError, ClientError, Boto3Error) as err:
            raise self._error("store", key, err) from err
        except OSError as err:  # the file went away between the two passes
            raise StorageError(f"cannot store {key!r}: {err.strerror}") from err
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    def get(self, key: str) -> bytes:
        full = self._key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=full)
            with response["Body"] as body:
                return body.read()
        except (BotoCoreError, ClientError) as err:
            if _code(err) in _NOT_FOUND:
                raise ObjectNotFound(f"no stored object {key!r}") from None
            raise self._error("read", key, err) from err

    def exists(self, key: str) -> bool:
        full = self._key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=full)
            return True
        except (BotoCoreError, ClientError) as err:
            if _code(err) not in _NOT_FOUND:
                raise self._error("look up", key, err) from err
        # A HEAD answer has no body: a missing bucket is a bare 404 too. Tell them apart.
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as err:
            raise self._error("look up", key, err) from err
        return False

    def delete(self, key: str) -> None:
        full = self._key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=full)
        except (BotoCoreError, ClientError) as err:
            if _code(err) in _NOT_FOUND - {"404"}:  # S3 says 204 for a missing key; a few stores say NoSuchKey
                return
            raise self._error("delete", key, err) from err

    def ping(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as err:
            raise self._error("look up", self.prefix or "/", err) from err

    # -- errors --------------------------------------------------------------------------------

    def _error(self, action: str, key: str, err: Exception) -> StorageError:
        where = f"cannot {action} {key!r} in S3 bucket {self.bucket!r}"
        cause = _client_error(err)
        if cause is not None:
            code, status = _code(cause), cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _NO_BUCKET or (code == "404" and action == "look up"):
                return StorageError(f"{where}: the bucket does not exist")
            if status == 403 or code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return StorageError(f"{where}: access refused ({code}): check the credentials and the policy")
            return StorageError(f"{where}: {code} (HTTP {status})")
        if isinstance(err, NoCredentialsError | PartialCredentialsError):
            return StorageError(f"{where}: no credentials (SHEBAO_S3_ACCESS_KEY_ID/..., AWS_* or a role)")
        if isinstance(err, EndpointUnreachable | HTTPClientError):  # refused, DNS, time-outs, cut connections
            endpoint = self.endpoint_url or "the AWS S3 endpoint"
            return StorageError(f"{where}: cannot reach {endpoint} ({type(err).__name__})")
        return StorageError(f"{where}: {type(err).__name__}")


def _client_error(err: BaseException) -> ClientError | None:
    # upload_file wraps a ClientError in S3UploadFailedError (raised inside its except block).
    for candidate in (err, err.__cause__, err.__context__):
        if isinstance(candidate, ClientError):
            return candidate
    return None


def _code(err: BaseException) -> str:
    cause = _client_error(err)
    return str(cause.response.get("Error", {}).get("Code", "")) if cause is not None else ""


def _object_args(key: str, sha256: str) -> dict[str, Any]:
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    # The digest rides along as user metadata: a restore or an audit can check an object on its own.
    return {"ContentType": content_type, "Metadata": {"sha256": sha256}}
