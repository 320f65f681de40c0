"""The S3-compatible store, against moto's real S3 HTTP server: settings, what the store sends,
errors (a missing bucket, an endpoint nobody answers) that never show a secret, and attachments and
documents going through the app into a bucket and back. The storage contract every store meets is in
tests/test_storage_and_attachments.py, where it runs on the local folder and on S3 alike."""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from pathlib import Path

import pytest

from shebao.platform.config import ConfigError, Settings
from shebao.platform.storage.base import ObjectNotFound, StorageError
from shebao.platform.storage.factory import storage_for
from shebao.platform.storage.s3 import S3Storage
from tests.conftest import GraphQLClient
from tests.test_declaration_attachments import _leshan_draft
from tests.test_document_jobs import REQUEST, _poll
from tests.test_documents_gather import build_scenario
from tests.test_storage_and_attachments import (
    S3_PREFIX,
    S3_REGION,
    make_pdf,
    moto_endpoint,
    s3_store,
    s3_store_in_new_bucket,
)

SECRET = "sEcReT-never-printed-0123456789"


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    return moto_endpoint()


@pytest.fixture
def bucket_store(s3_endpoint) -> S3Storage:
    return s3_store_in_new_bucket()


def s3_env(endpoint: str, bucket: str, **extra: str) -> dict[str, str]:
    return {
        "SHEBAO_STORAGE": "s3",
        "SHEBAO_S3_BUCKET": bucket,
        "SHEBAO_S3_ENDPOINT_URL": endpoint,
        "SHEBAO_S3_REGION": S3_REGION,
        "SHEBAO_S3_PREFIX": S3_PREFIX,
        "SHEBAO_S3_ADDRESSING_STYLE": "path",
        "SHEBAO_S3_ACCESS_KEY_ID": "test-key-id",
        "SHEBAO_S3_SECRET_ACCESS_KEY": SECRET,
        **extra,
    }


def whole_story(err: BaseException) -> str:
    """The error and everything chained to it, as a traceback in a log would show them."""
    seen, texts = set(), []
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        texts.append(f"{type(err).__name__}: {err} {err!r}")
        err = err.__cause__ or err.__context__
    return "\n".join(texts)


# -- settings ------------------------------------------------------------------------------------


def test_the_local_folder_is_the_default():
    settings = Settings.from_env({})
    assert settings.storage == "local"
    assert settings.s3_bucket is None
    assert Settings.from_env({"SHEBAO_STORAGE": " LOCAL "}).storage == "local"


def test_s3_settings_are_read():
    settings = Settings.from_env(
        {
            "SHEBAO_STORAGE": "S3",
            "SHEBAO_S3_BUCKET": "shebao-files-1250000000",
            "SHEBAO_S3_ENDPOINT_URL": "https://cos.ap-guangzhou.myqcloud.com/",
            "SHEBAO_S3_REGION": "ap-guangzhou",
            "SHEBAO_S3_PREFIX": "/prod/shebao/",
            "SHEBAO_S3_ADDRESSING_STYLE": "Virtual",
            "SHEBAO_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "SHEBAO_S3_SECRET_ACCESS_KEY": SECRET,
        }
    )
    assert settings.storage == "s3"
    assert settings.s3_bucket == "shebao-files-1250000000"
    assert settings.s3_endpoint_url == "https://cos.ap-guangzhou.myqcloud.com"
    assert settings.s3_region == "ap-guangzhou"
    assert settings.s3_prefix == "prod/shebao"
    assert settings.s3_addressing_style == "virtual"
    assert (settings.s3_access_key_id, settings.s3_secret_access_key) == ("AKIDEXAMPLE", SECRET)
    assert SECRET not in repr(settings)  # settings get logged at start-up by some deployments


def test_s3_with_only_a_bucket_leaves_the_rest_to_boto3():
    settings = Settings.from_env({"SHEBAO_STORAGE": "s3", "SHEBAO_S3_BUCKET": "shebao-docs"})
    assert settings.s3_endpoint_url is None  # AWS itself
    assert settings.s3_region is None  # AWS_REGION / AWS_DEFAULT_REGION / the profile
    assert settings.s3_prefix == ""
    assert settings.s3_addressing_style == "auto"
    assert settings.s3_access_key_id is None and settings.s3_secret_access_key is None  # the AWS chain, IRSA


S3 = {"SHEBAO_STORAGE": "s3", "SHEBAO_S3_BUCKET": "shebao-docs"}


@pytest.mark.parametrize(
    ("env", "var"),
    [
        pytest.param({"SHEBAO_STORAGE": "gcs"}, "SHEBAO_STORAGE", id="unknown-store"),
        pytest.param({"SHEBAO_STORAGE": "s3"}, "SHEBAO_S3_BUCKET", id="no-bucket"),
        pytest.param({**S3, "SHEBAO_S3_BUCKET": "  "}, "SHEBAO_S3_BUCKET", id="blank-bucket"),
        pytest.param({"SHEBAO_S3_BUCKET": "docs"}, "SHEBAO_S3_BUCKET", id="bucket-but-local"),
        pytest.param({**S3, "SHEBAO_S3_BUCKET": "Shebao_Docs"}, "SHEBAO_S3_BUCKET", id="bucket-upper"),
        pytest.param({**S3, "SHEBAO_S3_BUCKET": "ab"}, "SHEBAO_S3_BUCKET", id="bucket-short"),
        pytest.param({**S3, "SHEBAO_S3_BUCKET": "a" * 64}, "SHEBAO_S3_BUCKET", id="bucket-long"),
        pytest.param({**S3, "SHEBAO_S3_BUCKET": "docs..x"}, "SHEBAO_S3_BUCKET", id="bucket-dots"),
        pytest.param({**S3, "SHEBAO_S3_BUCKET": "-docs"}, "SHEBAO_S3_BUCKET", id="bucket-dash"),
        pytest.param({**S3, "SHEBAO_S3_ENDPOINT_URL": "minio:9000"}, "SHEBAO_S3_ENDPOINT_URL", id="endpoint-no-scheme"),
        pytest.param({**S3, "SHEBAO_S3_ENDPOINT_URL": "ftp://minio"}, "SHEBAO_S3_ENDPOINT_URL", id="endpoint-ftp"),
        pytest.param({**S3, "SHEBAO_S3_ENDPOINT_URL": "http://"}, "SHEBAO_S3_ENDPOINT_URL", id="endpoint-no-host"),
        pytest.param({**S3, "SHEBAO_S3_ENDPOINT_URL": "http://m:90a"}, "SHEBAO_S3_ENDPOINT_URL", id="endpoint-port"),
        pytest.param({**S3, "SHEBAO_S3_ENDPOINT_URL": "http://m/?x=1"}, "SHEBAO_S3_ENDPOINT_URL", id="endpoint-query"),
        pytest.param({**S3, "SHEBAO_S3_REGION": "cn north 1"}, "SHEBAO_S3_REGION", id="region"),
        pytest.param({**S3, "SHEBAO_S3_PREFIX": "a/../b"}, "SHEBAO_S3_PREFIX", id="prefix-dotdot"),
        pytest.param({**S3, "SHEBAO_S3_PREFIX": "a//b"}, "SHEBAO_S3_PREFIX", id="prefix-empty-part"),
        pytest.param({**S3, "SHEBAO_S3_ADDRESSING_STYLE": "dns"}, "SHEBAO_S3_ADDRESSING_STYLE", id="style"),
        pytest.param({**S3, "SHEBAO_S3_ACCESS_KEY_ID": "AKID"}, "SHEBAO_S3_SECRET_ACCESS_KEY", id="only-key-id"),
    ],
)
def test_bad_storage_settings_name_the_variable(env, var):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert var in str(caught.value)


def test_a_half_given_credential_never_shows_the_half_that_is_given():
    env = {**S3, "SHEBAO_S3_SECRET_ACCESS_KEY": SECRET}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert "SHEBAO_S3_ACCESS_KEY_ID" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_credentials_in_the_endpoint_url_are_refused_unshown():
    env = {**S3, "SHEBAO_S3_ENDPOINT_URL": f"http://minio:{SECRET}@minio:9000"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert "SHEBAO_S3_ENDPOINT_URL" in str(caught.value)
    assert SECRET not in str(caught.value)


# -- the factory ---------------------------------------------------------------------------------


def test_the_factory_makes_one_s3_store_per_configuration(s3_endpoint, bucket_store):
    settings = Settings.from_env(s3_env(s3_endpoint, bucket_store.bucket))
    store = storage_for(settings)
    assert isinstance(store, S3Storage)
    assert (store.bucket, store.prefix, store.endpoint_url) == (bucket_store.bucket, S3_PREFIX, s3_endpoint)
    assert SECRET not in repr(store)
    # HTTP handlers ask for the store on every request: the client (and its connections) is kept
    assert storage_for(Settings.from_env(s3_env(s3_endpoint, bucket_store.bucket))) is store
    other = storage_for(Settings.from_env(s3_env(s3_endpoint, bucket_store.bucket, SHEBAO_S3_PREFIX="other")))
    assert other is not store and other.prefix == "other"

    store.put("agency/a.pdf", make_pdf())
    assert bucket_store.get("agency/a.pdf") == make_pdf()  # the same bucket and prefix
    assert other.exists("agency/a.pdf") is False


def test_a_store_setting_without_a_bucket_is_refused():
    with pytest.raises(ConfigError):
        storage_for(Settings(storage="s3"))


# -- what goes into the bucket -------------------------------------------------------------------


def test_objects_carry_their_content_type_and_sha256(bucket_store):
    stored = bucket_store.put("agency/1/notice.pdf", make_pdf())
    head = bucket_store.client.head_object(Bucket=bucket_store.bucket, Key=f"{S3_PREFIX}/agency/1/notice.pdf")
    assert head["ContentType"] == "application/pdf"
    assert head["Metadata"] == {"sha256": stored.sha256}
    bucket_store.put("agency/1/raw", b"\x00\x01")
    head = bucket_store.client.head_object(Bucket=bucket_store.bucket, Key=f"{S3_PREFIX}/agency/1/raw")
    assert head["ContentType"] == "application/octet-stream"


def test_without_a_prefix_keys_are_the_bucket_keys(bucket_store):
    bare = s3_store(bucket_store.bucket, prefix="")
    bare.put("agency/x.png", b"png")
    assert bucket_store.client.get_object(Bucket=bare.bucket, Key="agency/x.png")["Body"].read() == b"png"
    assert not bucket_store.exists("agency/x.png")  # the prefixed store sees only its own area


def test_a_large_file_goes_up_in_parts_and_comes_back_whole(bucket_store, tmp_path):
    store = s3_store(bucket_store.bucket, multipart_threshold=5 * 1024 * 1024)
    source = tmp_path / "region.zip"
    with source.open("wb") as out:  # 18 MB: parts of 8, 8 and 2 MB
        for n in range(18):
            out.write(hashlib.sha256(str(n).encode()).digest() * (1024 * 1024 // 32))
    stored = store.put_file("agency/1/jobs/region.zip", source)
    assert stored.size == 18 * 1024 * 1024
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    head = store.client.head_object(Bucket=store.bucket, Key=f"{S3_PREFIX}/agency/1/jobs/region.zip")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload's ETag counts its parts
    assert head["ContentType"] == "application/zip"
    assert head["Metadata"] == {"sha256": stored.sha256}
    assert hashlib.sha256(store.get("agency/1/jobs/region.zip")).hexdigest() == stored.sha256


# -- errors --------------------------------------------------------------------------------------


def _every_operation(store: S3Storage, source: Path):
    yield "put", lambda: store.put("agency/a.pdf", b"data")
    yield "put_file", lambda: store.put_file("agency/a.pdf", source)
    yield "get", lambda: store.get("agency/a.pdf")
    yield "exists", lambda: store.exists("agency/a.pdf")
    yield "delete", lambda: store.delete("agency/a.pdf")
    yield "ping", store.ping  # the readiness check


def test_a_missing_bucket_is_a_storage_error_for_every_operation(s3_endpoint, tmp_path):
    source = tmp_path / "a.pdf"
    source.write_bytes(b"data")
    store = s3_store(f"shebao-never-made-{uuid.uuid4().hex[:8]}", secret_access_key=SECRET)
    for name, operation in _every_operation(store, source):
        with pytest.raises(StorageError) as caught:
            operation()
        assert not isinstance(caught.value, ObjectNotFound), name  # a missing bucket is not a missing file
        assert store.bucket in str(caught.value) and "does not exist" in str(caught.value), name
        assert SECRET not in whole_story(caught.value), name


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_endpoint_is_a_storage_error_soon(tmp_path):
    source = tmp_path / "a.pdf"
    source.write_bytes(b"data")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    store = S3Storage(
        "shebao-docs",
        endpoint_url=endpoint,
        region=S3_REGION,
        access_key_id="test-key-id",
        secret_access_key=SECRET,
        connect_timeout=1,
        max_attempts=2,  # one retry, so the retry path runs too
    )
    started = time.monotonic()
    for name, operation in _every_operation(store, source):
        with pytest.raises(StorageError) as caught:
            operation()
        assert f"cannot reach {endpoint}" in str(caught.value), name
        assert SECRET not in whole_story(caught.value), name
    assert time.monotonic() - started < 15  # five operations, each given up after one retry


# -- through the app: an attachment and a document land in the bucket and come back ----------------


@pytest.fixture
async def s3_client(db_url, s3_endpoint, bucket_store):
    """The real app, as the app_client fixture, but with its files in this test's bucket."""
    from litestar.testing import AsyncTestClient

    from shebao.graphql.app import create_app

    settings = Settings.from_env({"SHEBAO_DATABASE_URL": db_url, **s3_env(s3_endpoint, bucket_store.bucket)})
    async with AsyncTestClient(app=create_app(settings, check_database=False)) as client:
        yield client


@pytest.mark.anyio
async def test_readiness_checks_the_bucket(db_url, s3_endpoint, bucket_store):
    from litestar.testing import AsyncTestClient

    from shebao.graphql.app import create_app

    for bucket, status in ((bucket_store.bucket, 200), (f"shebao-never-made-{uuid.uuid4().hex[:8]}", 503)):
        settings = Settings.from_env({"SHEBAO_DATABASE_URL": db_url, **s3_env(s3_endpoint, bucket)})
        async with AsyncTestClient(app=create_app(settings, check_database=False)) as client:
            response = await client.get("/ready")
        assert response.status_code == status, response.text
        body = response.json()
        assert body["checks"]["database"]["status"] == "ok"
        assert body["checks"]["storage"]["status"] == ("ok" if status == 200 else "error")
        assert SECRET not in response.text and bucket not in response.text  # the error's class only


@pytest.mark.anyio
async def test_an_attachment_is_uploaded_to_s3_and_downloaded_from_it(make_agency, session_as, s3_client, bucket_store):
    a = await make_agency("s3-att")
    async with session_as(a.system) as s:
        _, row = await _leshan_draft(s)
        await s.commit()
    token = await GraphQLClient(s3_client).login(a.code, a.admin_username, a.admin_password)
    auth = {"Authorization": f"Bearer {token}"}
    pdf = make_pdf()
    done = await s3_client.post(
        f"/declarations/{row.id}/attachments",
        files={"file": ("合同.pdf", pdf)},
        data={"document": "labour_contract"},
        headers=auth,
    )
    assert done.status_code == 201, done.text
    body = done.json()
    # the bytes are in the bucket, under the prefix, at the row's key
    [key] = _bucket_keys(bucket_store)
    assert key == f"{S3_PREFIX}/{a.id}/declarations/{row.id}/{hashlib.sha256(pdf).hexdigest()}.pdf"
    assert bucket_store.client.get_object(Bucket=bucket_store.bucket, Key=key)["Body"].read() == pdf
    download = await s3_client.get(body["downloadUrl"], headers=auth)
    assert download.status_code == 200 and download.content == pdf
    assert download.headers["content-type"].startswith("application/pdf")


@pytest.mark.anyio
@pytest.mark.slow  # a rendering process is spawned: several seconds on a busy machine
@pytest.mark.parametrize("backend", ["sqlite"])  # the storage path is the same on both databases
async def test_a_document_job_writes_its_pdf_to_s3(make_agency, session_as, s3_client, bucket_store):
    a = await make_agency("s3-doc")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "tianjin")
    gql = GraphQLClient(s3_client)
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    asked = {"kind": "PAYMENT_NOTICE", "companyId": str(sc.company.id), "monthFrom": "2026-11", "monthTo": "2026-11"}
    answer = (await gql(REQUEST, {"input": asked}, token=token))["requestDocument"]
    assert answer["errors"] == [], answer
    state = await _poll(gql, token, answer["job"]["id"])
    assert state["status"] == "SUCCEEDED", state
    [key] = _bucket_keys(bucket_store)
    assert key == f"{S3_PREFIX}/{state['result']['key']}" and key.endswith(".pdf")
    in_bucket = bucket_store.client.get_object(Bucket=bucket_store.bucket, Key=key)["Body"].read()
    assert in_bucket.startswith(b"%PDF") and len(in_bucket) == state["result"]["size"]
    response = await s3_client.get(state["downloadUrl"], headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.content == in_bucket


def _bucket_keys(store: S3Storage) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))
