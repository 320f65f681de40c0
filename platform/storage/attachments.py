"""Checks on uploaded attachments (labour contract, ID scan...): JPG, PNG or PDF, at most 5 MB.

The type is read from the content's magic bytes, never from the file name or the client's
Content-Type, both of which the uploader controls.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shebao.platform.errors import ErrorCode, ShebaoError

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
ALLOWED = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}

_JPEG = b"\xff\xd8\xff"  # SOI marker followed by the first segment's marker
_PNG = b"\x89PNG\r\n\x1a\n"
_PDF = b"%PDF-"
# The PDF spec (implementation notes) lets the header appear anywhere in the first 1024 bytes,
# and some scanners do put junk before it.
_PDF_WINDOW = 1024
# ...but that window also finds the PDF inside an uncompressed ZIP (Python's zipfile default), or an
# HTML page with "%PDF-" in a comment. A preamble that is plainly another format is not junk.
_OTHER_FORMATS = (
    b"PK\x03\x04",  # ZIP and everything built on it (docx, xlsx, jar, apk)
    b"PK\x05\x06",  # empty ZIP
    b"PK\x07\x08",  # spanned ZIP
    b"GIF8",
    b"MZ",  # Windows executable
    b"\x7fELF",
    b"Rar!",
    b"7z\xbc\xaf",
    b"<",  # HTML, XML, SVG
)


@dataclass(frozen=True)
class AttachmentInfo:
    content_type: str
    extension: str
    size: int
    sha256: str


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are, among the allowed ones; None for anything else."""
    if data.startswith(_JPEG):
        return "image/jpeg"
    if data.startswith(_PNG):
        return "image/png"
    head = data[:_PDF_WINDOW]
    if head.startswith(_PDF):
        return "application/pdf"
    if _PDF in head and not _looks_like_another_format(head):
        return "application/pdf"
    return None


def _looks_like_another_format(head: bytes) -> bool:
    # Leading whitespace and a UTF-8 byte-order mark do not hide an HTML page.
    start = head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    return start.startswith(_OTHER_FORMATS)


def check_attachment(data: bytes, filename: str | None = None) -> AttachmentInfo:
    """Accept or refuse an upload. ``filename`` is deliberately not consulted: the content decides."""
    size = len(data)
    if size == 0:
        raise ShebaoError.of(ErrorCode.ATTACHMENT_EMPTY, "file")
    if size > MAX_ATTACHMENT_BYTES:
        raise ShebaoError.of(ErrorCode.ATTACHMENT_TOO_LARGE, "file", size=size, max=MAX_ATTACHMENT_BYTES)
    content_type = sniff(data)
    if content_type is None:
        raise ShebaoError.of(ErrorCode.ATTACHMENT_TYPE, "file")
    return AttachmentInfo(
        content_type=content_type,
        extension=ALLOWED[content_type],
        size=size,
        sha256=hashlib.sha256(data).hexdigest(),
    )
