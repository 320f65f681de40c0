"""File storage and the attachment checks: type from the content, at most 5 MB. No database.

The storage contract runs against every store: the local folder, and an S3 bucket on moto's real S3
HTTP server (started once per test process; tests/test_storage_s3.py has the S3-only cases).
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import io
import logging
import os
import struct
import threading
import uuid
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shebao.platform.config import Settings
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.storage.attachments import (
    ALLOWED,
    MAX_ATTACHMENT_BYTES,
    AttachmentInfo,
    check_attachment,
    sniff,
)
from shebao.platform.storage.base import (
    InvalidKeyError,
    ObjectNotFound,
    Storage,
    StorageError,
    StoredObject,
    check_key,
)
from shebao.platform.storage.factory import storage_for
from shebao.platform.storage.local import LocalFolderStorage
from shebao.platform.storage.s3 import S3Storage

# -- real minimal files, built here so the test shows exactly what is in them -------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_png() -> bytes:
    """A valid 1x1 white RGB PNG."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8 bits, truecolour
    pixels = zlib.compress(b"\x00\xff\xff\xff")  # filter byte 0, then one RGB pixel
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")


def _jpeg_segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def make_jpeg() -> bytes:
    """A baseline 1x1 greyscale JPEG: one block whose DC difference is 0 and whose AC part is EOB."""
    one_code = bytes([1] + [0] * 15)  # one Huffman code of length 1 ("0")
    return (
        b"\xff\xd8"  # SOI
        + _jpeg_segment(0xDB, b"\x00" + b"\x01" * 64)  # quantisation table 0, all ones
        + _jpeg_segment(0xC0, b"\x08" + struct.pack(">HH", 1, 1) + b"\x01" + b"\x01\x11\x00")  # SOF0
        + _jpeg_segment(0xC4, b"\x00" + one_code + b"\x00")  # DC table 0: "0" -> category 0
        + _jpeg_segment(0xC4, b"\x10" + one_code + b"\x00")  # AC table 0: "0" -> EOB
        + _jpeg_segment(0xDA, b"\x01" + b"\x01\x00" + b"\x00\x3f\x00")  # SOS
        + b"\x3f"  # bits 0 (DC) 0 (EOB), padded with ones
        + b"\xff\xd9"  # EOI
    )


def make_pdf(preamble: bytes = b"") -> bytes:
    """A one-page PDF with a correct cross-reference table (offsets count the preamble, as readers do)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(preamble + b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_gif() -> bytes:
    """A 1x1 GIF89a: a real image format, but not an allowed one."""
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
        b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def make_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("contract.pdf", make_pdf())  # a PDF inside a ZIP is still a ZIP
    return buf.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"


def agency_key(ext: str = "pdf") -> str:
    return f"agency/{uuid.uuid4()}/attachments/{uuid.uuid4()}.{ext}"


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# -- the stores under test --------------------------------------------------------------------

S3_REGION = "us-east-1"
S3_PREFIX = "shebao-files"  # a prefix, so that the contract also proves keys stay under it
_moto_lock = threading.RLock()
_moto_endpoint: list[str] = []


def moto_endpoint() -> str:
    """The URL of moto's S3 server for this test process: a real HTTP server on 127.0.0.1, a free port."""
    with _moto_lock:
        if not _moto_endpoint:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line a request otherwise
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            atexit.register(server.stop)
            host, port = server.get_host_and_port()
            _moto_endpoint.append(f"http://{host}:{port}")
        return _moto_endpoint[0]


_shared_s3: list[S3Storage] = []


def s3_store_in_new_bucket() -> S3Storage:
    """A store on a bucket of its own (nothing another test wrote can be seen). Building a boto3
    client takes a good part of a second on a busy machine: the stores share one (it is thread-safe)."""
    with _moto_lock:
        if not _shared_s3:
            _shared_s3.append(s3_store("shebao-test-shared"))
    bucket = f"shebao-test-{uuid.uuid4().hex[:16]}"
    _shared_s3[0].client.create_bucket(Bucket=bucket)
    store = copy.copy(_shared_s3[0])
    store.bucket = bucket
    return store


def s3_store(bucket: str, prefix: str = S3_PREFIX, **options) -> S3Storage:
    options = {"access_key_id": "test-key-id", "secret_access_key": "test-secret", **options}
    return S3Storage(
        bucket, prefix=prefix, endpoint_url=moto_endpoint(), region=S3_REGION, addressing_style="path", **options
    )


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalFolderStorage(tmp_path / "files")
    return s3_store_in_new_bucket()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalFolderStorage:
    return LocalFolderStorage(tmp_path / "files")


def stored_keys(store: Storage) -> list[str]:
    """Everything the store's area holds, as keys relative to its root or prefix (temporary files
    included); anything written outside shows up as "../...". The local area is the root's parent."""
    if isinstance(store, LocalFolderStorage):
        return sorted(os.path.relpath(p, store.root).replace(os.sep, "/") for p in files_under(store.root.parent))
    pages = store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    inside = f"{store.prefix}/"
    return sorted(k.removeprefix(inside) if k.startswith(inside) else f"../{k}" for k in keys)


def raw_bytes(store: Storage, key: str) -> bytes:
    """The object read behind the store's back: the file at the key's path, or the bucket's object."""
    if isinstance(store, LocalFolderStorage):
        return store.root.joinpath(key).read_bytes()
    return store.client.get_object(Bucket=store.bucket, Key=f"{store.prefix}/{key}")["Body"].read()


# -- the storage contract: every store ------------------------------------------------------------


def test_every_store_is_a_storage(store):
    assert isinstance(store, Storage)


def test_round_trip(store):
    key = agency_key()
    data = make_pdf()
    stored = store.put(key, data)
    assert stored == StoredObject(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    assert store.exists(key)
    assert store.get(key) == data
    # the object is where the key says: a plain file under the root, an object under the prefix
    assert raw_bytes(store, key) == data
    assert stored_keys(store) == [key]


def test_empty_object_round_trips(store):
    # Storage itself does not judge content; emptiness is the attachment check's business.
    stored = store.put("docs/empty.txt", b"")
    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert store.get("docs/empty.txt") == b""
    assert store.exists("docs/empty.txt")


def test_put_same_bytes_twice_is_idempotent(store):
    key = agency_key("png")
    first = store.put(key, make_png())
    second = store.put(key, make_png())
    assert first == second
    assert store.get(key) == make_png()
    assert stored_keys(store) == [key]


def test_put_different_bytes_replaces_and_leaves_no_temp_object(store):
    key = agency_key()
    store.put(key, b"old contents")
    new = make_pdf()
    stored = store.put(key, new)
    assert stored.size == len(new)
    assert stored.sha256 == hashlib.sha256(new).hexdigest()
    assert store.get(key) == new
    # only the object itself: the local temporary file was renamed over it, not left beside it
    assert stored_keys(store) == [key]


def test_put_accepts_bytearray_and_memoryview(store):
    assert store.put("a/x.bin", bytearray(b"abc")).size == 3
    assert store.put("a/y.bin", memoryview(b"abcd")).size == 4
    assert store.get("a/x.bin") == b"abc"
    assert store.get("a/y.bin") == b"abcd"


def test_put_file_round_trip(store, tmp_path_factory):
    source = tmp_path_factory.mktemp("source") / "archive.zip"  # outside the local store's area
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one read chunk, not a whole number of them
    source.write_bytes(data)
    key = f"agency/{uuid.uuid4()}/jobs/archive.zip"
    stored = store.put_file(key, source)
    assert stored == StoredObject(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    assert store.get(key) == data
    assert store.put_file(key, str(source)) == stored  # a str path too, and again is the same object
    assert stored_keys(store) == [key]


def test_put_file_of_a_missing_source_is_a_storage_error(store, tmp_path_factory):
    with pytest.raises(StorageError):
        store.put_file("a/archive.zip", tmp_path_factory.mktemp("source") / "not-there.zip")
    assert not store.exists("a/archive.zip")
    assert stored_keys(store) == []


def test_missing_key(store):
    key = agency_key()
    assert not store.exists(key)
    with pytest.raises(ObjectNotFound) as caught:
        store.get(key)
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, StorageError)
    assert key in str(caught.value)
    assert not str(caught.value).startswith("'")  # readable, not KeyError's quoted repr


def test_a_folder_is_not_an_object(store):
    store.put("agency/one/attachments/x.pdf", b"x")
    assert not store.exists("agency/one")
    with pytest.raises(ObjectNotFound):
        store.get("agency/one")
    with pytest.raises(ObjectNotFound):
        store.get("agency/one/attachments/x.pdf/deeper")


def test_delete(store):
    key = agency_key()
    store.put(key, b"data")
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(ObjectNotFound):
        store.get(key)
    store.delete(key)  # deleting again is fine, as on S3
    store.delete("never/stored.pdf")
    assert stored_keys(store) == []


def test_the_store_is_safe_to_use_from_threads(store):
    # Jobs call the store through asyncio.to_thread: one store object, many threads at once.
    def work(n: int) -> bytes:
        key = f"threads/{n}.bin"
        data = hashlib.sha256(str(n).encode()).digest() * (n + 1)
        assert store.put(key, data).size == len(data)
        assert store.exists(key)
        got = store.get(key)
        if n % 2:
            store.delete(key)
        return got

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(24)))
    assert results == [hashlib.sha256(str(n).encode()).digest() * (n + 1) for n in range(24)]
    assert stored_keys(store) == sorted(f"threads/{n}.bin" for n in range(0, 24, 2))


BAD_KEYS = [
    pytest.param("", id="empty"),
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("/", id="root"),
    pytest.param("..", id="dotdot"),
    pytest.param("../outside.pdf", id="leading-dotdot"),
    pytest.param("agency/../../outside.pdf", id="inner-dotdot"),
    pytest.param("agency/x/..", id="trailing-dotdot"),
    pytest.param("agency\\x.pdf", id="backslash"),
    pytest.param("..\\outside.pdf", id="backslash-dotdot"),
    pytest.param("agency//x.pdf", id="empty-part"),
    pytest.param("agency/x/", id="trailing-slash"),
    pytest.param(".", id="dot"),
    pytest.param("agency/./x.pdf", id="dot-part"),
    pytest.param("agency/.x.pdf.abc.tmp", id="hidden-name"),
    pytest.param("agency/x\x00.pdf", id="nul"),
    pytest.param("agency/x\n.pdf", id="newline"),
    pytest.param("a" * 1025, id="too-long"),
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_by_every_operation(store, tmp_path_factory, key):
    source = tmp_path_factory.mktemp("source") / "source.pdf"
    source.write_bytes(b"data")
    with pytest.raises(InvalidKeyError):
        store.put(key, b"data")
    with pytest.raises(InvalidKeyError):
        store.put_file(key, source)
    with pytest.raises(InvalidKeyError):
        store.get(key)
    with pytest.raises(InvalidKeyError):
        store.exists(key)
    with pytest.raises(InvalidKeyError):
        store.delete(key)
    # nothing was written anywhere near the store
    assert stored_keys(store) == []


def test_non_string_key_is_refused(store):
    with pytest.raises(InvalidKeyError):
        store.put(Path("a/b.pdf"), b"x")  # type: ignore[arg-type]


def test_check_then_store(store):
    data = make_png()
    info = check_attachment(data, "labour-contract.pdf")
    key = agency_key(info.extension)
    assert key.endswith(".png")
    stored = store.put(key, data)
    assert (stored.size, stored.sha256) == (info.size, info.sha256)
    assert store.get(key) == data


# -- the local folder store only ----------------------------------------------------------------


def test_the_root_is_created_on_first_write_only(tmp_path):
    root = tmp_path / "not" / "yet"
    store = LocalFolderStorage(root)
    assert not root.exists()
    assert not store.exists("a/b.pdf")
    store.put("a/b.pdf", b"x")
    assert (root / "a" / "b.pdf").is_file()


def test_a_failed_put_keeps_nothing_half_written(local_store, tmp_path):
    local_store.put("a/file.pdf", b"a file")
    # "a/file.pdf" is a file, so nothing can be stored beneath it (on S3 both are plain keys)
    with pytest.raises(StorageError):
        local_store.put("a/file.pdf/inner.pdf", b"data")
    assert local_store.get("a/file.pdf") == b"a file"
    assert files_under(tmp_path / "files") == [tmp_path / "files" / "a" / "file.pdf"]


def test_invalid_key_is_a_storage_error_and_a_value_error():
    with pytest.raises(StorageError):
        check_key("../x")
    with pytest.raises(ValueError):
        check_key("../x")


def test_good_keys():
    assert check_key("a") == ["a"]
    assert check_key("agency/1/attachments/2.pdf") == ["agency", "1", "attachments", "2.pdf"]
    assert check_key("附件/劳动合同.pdf") == ["附件", "劳动合同.pdf"]
    assert check_key("a" * 1024) == ["a" * 1024]


def test_the_factory_uses_the_configured_folder(tmp_path):
    store = storage_for(Settings(storage_dir=tmp_path / "configured"))
    assert isinstance(store, LocalFolderStorage)
    assert store.root == tmp_path / "configured"
    store.put("x/y.pdf", b"y")
    assert (tmp_path / "configured" / "x" / "y.pdf").read_bytes() == b"y"

    from_env = storage_for(Settings.from_env({"SHEBAO_STORAGE_DIR": str(tmp_path / "env")}))
    assert from_env.root == tmp_path / "env"


def test_the_default_folder_is_pinned_when_the_store_is_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = storage_for(Settings())
    assert store.root == tmp_path / "var" / "files"
    monkeypatch.chdir("/")
    store.put("k.pdf", b"k")
    assert (tmp_path / "var" / "files" / "k.pdf").is_file()


# -- sniffing ---------------------------------------------------------------------------------


def test_sniff_real_files():
    assert sniff(make_jpeg()) == "image/jpeg"
    assert sniff(make_png()) == "image/png"
    assert sniff(make_pdf()) == "application/pdf"


def test_sniff_pdf_header_anywhere_in_the_first_1024_bytes():
    assert sniff(make_pdf(preamble=b"\x00" * 1000)) == "application/pdf"
    # the whole "%PDF-" must lie inside the window: starting at 1019 ends at byte 1023
    assert sniff(b"x" * 1019 + b"%PDF-1.7\n") == "application/pdf"
    assert sniff(b"x" * 1020 + b"%PDF-1.7\n") is None
    assert sniff(make_pdf(preamble=b"\x00" * 2000)) is None


def test_sniff_pdf_preamble_may_be_junk_but_not_another_format():
    mime_junk = b"Content-Type: application/pdf\r\n\r\n"
    assert sniff(make_pdf(preamble=mime_junk)) == "application/pdf"
    assert sniff(make_pdf(preamble=b"\xef\xbb\xbf")) == "application/pdf"
    # the window would otherwise find the PDF inside a stored ZIP, or in an HTML comment
    assert make_zip().find(b"%PDF-") < 1024
    assert sniff(make_zip()) is None
    assert sniff(b"<html><!-- %PDF-1.4 --><script>alert(1)</script></html>") is None
    assert sniff(b"\xef\xbb\xbf \n<svg><!-- %PDF-1.4 --></svg>") is None
    assert sniff(make_gif() + b"%PDF-1.4") is None
    assert sniff(EXE + b"%PDF-1.4") is None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(make_gif(), id="gif"),
        pytest.param(make_zip(), id="zip"),
        pytest.param(HTML, id="html"),
        pytest.param(EXE, id="exe"),
        pytest.param(b"\xff\xd8", id="truncated-jpeg"),
        pytest.param(b"\x89PNG\r\n", id="truncated-png"),
        pytest.param(b"%PDF", id="truncated-pdf"),
        pytest.param(b"   \x89PNG\r\n\x1a\n", id="png-not-at-start"),
    ],
)
def test_sniff_refuses_other_content(data):
    assert sniff(data) is None


# -- the attachment check ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type", "extension"),
    [
        (make_jpeg(), "image/jpeg", "jpg"),
        (make_png(), "image/png", "png"),
        (make_pdf(), "application/pdf", "pdf"),
    ],
)
def test_allowed_attachments(data, content_type, extension):
    info = check_attachment(data, "upload.bin")
    assert info == AttachmentInfo(
        content_type=content_type,
        extension=extension,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    assert ALLOWED[info.content_type] == info.extension


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (make_png(), "contract.pdf", "image/png"),
        (make_pdf(), "id-card.jpg", "application/pdf"),
        (make_jpeg(), "scan.png", "image/jpeg"),
        (make_jpeg(), None, "image/jpeg"),
        (make_png(), "no-extension", "image/png"),
    ],
)
def test_the_content_wins_over_the_file_name(data, filename, expected):
    info = check_attachment(data, filename)
    assert info.content_type == expected
    assert info.extension == ALLOWED[expected]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(HTML, id="html"),
        pytest.param(make_zip(), id="zip"),
        pytest.param(EXE, id="exe"),
        pytest.param(make_gif(), id="gif"),
        pytest.param(b"just some text", id="text"),
    ],
)
@pytest.mark.parametrize("filename", ["photo.jpg", "contract.pdf", "scan.PNG", None])
def test_disguised_files_are_refused(data, filename):
    with pytest.raises(ShebaoError) as caught:
        check_attachment(data, filename)
    problem = caught.value.problems[0]
    assert problem.code == ErrorCode.ATTACHMENT_TYPE
    assert problem.field == "file"


@pytest.mark.parametrize("filename", ["photo.jpg", None])
def test_empty_is_refused(filename):
    with pytest.raises(ShebaoError) as caught:
        check_attachment(b"", filename)
    assert caught.value.code == ErrorCode.ATTACHMENT_EMPTY
    assert caught.value.problems[0].field == "file"


def test_exactly_5_mb_is_accepted():
    data = make_png() + b"\x00" * (MAX_ATTACHMENT_BYTES - len(make_png()))
    assert len(data) == MAX_ATTACHMENT_BYTES == 5_242_880
    info = check_attachment(data, "big.png")
    assert info.size == MAX_ATTACHMENT_BYTES
    assert info.content_type == "image/png"


def test_one_byte_over_5_mb_is_refused_before_the_type():
    # a type-less body: the size is reported first, whatever the content
    for data in (make_pdf() + b"\x00" * MAX_ATTACHMENT_BYTES, b"\x00" * (MAX_ATTACHMENT_BYTES + 1)):
        with pytest.raises(ShebaoError) as caught:
            check_attachment(data, "big.pdf")
        problem = caught.value.problems[0]
        assert problem.code == ErrorCode.ATTACHMENT_TOO_LARGE
        assert problem.field == "file"
        assert problem.params == {"size": len(data), "max": MAX_ATTACHMENT_BYTES}


# -- messages, in both languages ----------------------------------------------------------------


def _problem(data: bytes):
    with pytest.raises(ShebaoError) as caught:
        check_attachment(data, "x.pdf")
    return caught.value.problems[0]


def test_too_large_message_shows_the_figures_in_zh_and_en():
    problem = _problem(b"\x00" * (MAX_ATTACHMENT_BYTES + 1))
    for lang in ("zh", "en"):
        text = problem.message(lang)
        # Problem.message falls back to the raw template on a missing param: no braces means it rendered
        assert "{" not in text
        assert "5242881" in text
        assert "5242880" in text
    assert "字节" in problem.message("zh")
    assert "bytes" in problem.message("en")


@pytest.mark.parametrize("data", [b"", HTML], ids=["empty", "type"])
def test_other_messages_render_in_zh_and_en(data):
    problem = _problem(data)
    zh, en = problem.message("zh"), problem.message("en")
    assert "{" not in zh
    assert "{" not in en
    assert "附件" in zh
    assert "attachment" in en.lower()


def test_the_error_text_is_english_and_names_the_field():
    with pytest.raises(ShebaoError) as caught:
        check_attachment(HTML, "x.jpg")
    assert "ATTACHMENT_TYPE@file" in str(caught.value)
    assert "JPG, PNG or PDF" in str(caught.value)
