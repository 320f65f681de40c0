"""What an upload really is, judged by its bytes (never its name), before openpyxl sees it.

Real uploads include old ``.xls`` workbooks, password-protected ones (both OLE2 containers), CSV or
HTML files renamed ``.xlsx``, truncated downloads and zip bombs. Each gets its own code and a
message that says what to do; only a zip that looks like an ``.xlsx`` and unpacks within the limits
goes on to openpyxl.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile

from shebao.platform.errors import ErrorCode, Problem
from shebao.platform.workbooks.result import MB, Limits

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# An encrypted .xlsx is an OLE2 container holding these streams (MS-OFFCRYPTO); their names sit in
# the container's directory as UTF-16LE. A cell of an .xls spelling them out would fool this, and
# would only change which of two refusals is given.
ENCRYPTED_STREAMS = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_SAMPLE = 4096

# What a non-xlsx file was found to be: (zh, en).
HTML = ("网页（HTML）文件", "a web page (HTML)")
XML_2003 = ("Excel 2003 XML 表格", "an Excel 2003 XML spreadsheet")
XML = ("XML 文件", "an XML file")
PDF = ("PDF 文件", "a PDF file")
XLSB = ("Excel 二进制工作簿（.xlsb）", "an Excel binary workbook (.xlsb)")
ODS = ("OpenDocument 表格（.ods）", "an OpenDocument spreadsheet (.ods)")
DOCX = ("Word 文档", "a Word document")
ZIP = ("压缩包", "a zip archive")


def _problem(code: ErrorCode, filename: str, **params) -> Problem:
    return Problem(code, "file", {"filename": filename, **params})


def _not_xlsx(filename: str, detected: tuple[str, str]) -> Problem:
    return _problem(ErrorCode.WORKBOOK_NOT_XLSX, filename, detected=detected[0], detected_en=detected[1])


def corrupt(filename: str, detail: str) -> Problem:
    return _problem(ErrorCode.WORKBOOK_CORRUPT, filename, detail=detail)


def sniff(data: bytes, filename: str, limits: Limits) -> Problem | None:
    """None when ``data`` looks like an .xlsx within the limits; otherwise why it cannot be read."""
    if not data:
        return _problem(ErrorCode.WORKBOOK_EMPTY_FILE, filename)
    if len(data) > limits.max_file_bytes:
        return _problem(ErrorCode.WORKBOOK_TOO_LARGE, filename, size=len(data), max=limits.max_file_bytes)
    if data.startswith(OLE2_MAGIC):
        if any(name in data for name in ENCRYPTED_STREAMS):
            return _problem(ErrorCode.WORKBOOK_ENCRYPTED, filename)
        return _problem(ErrorCode.WORKBOOK_OLD_XLS, filename)
    if data[:4] in ZIP_MAGIC:
        return _check_zip(data, filename, limits)
    if data.startswith(b"%PDF"):
        return _not_xlsx(filename, PDF)
    sample = _as_text(data[:_SAMPLE])
    if sample is None:
        return corrupt(filename, "unknown format")
    head = sample.lstrip("\ufeff \t\r\n").lower()
    if head.startswith("<"):
        if "<html" in head or "<table" in head or "<!doctype html" in head:
            return _not_xlsx(filename, HTML)
        if "urn:schemas-microsoft-com:office:spreadsheet" in head:
            return _not_xlsx(filename, XML_2003)
        return _not_xlsx(filename, XML)
    return _problem(ErrorCode.WORKBOOK_CSV, filename)


def _as_text(sample: bytes) -> str | None:
    """The sample as text when it is text (UTF-8, UTF-16 with a BOM or GB18030), else None."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return sample.decode("utf-16", errors="ignore")
    if b"\x00" in sample:
        return None
    for encoding in ("utf-8", "gb18030"):
        try:
            decoded = sample.decode(encoding)
        except UnicodeDecodeError as err:
            if err.start < len(sample) - 4:  # not just a character cut at the sample's end
                continue
            decoded = sample[: err.start].decode(encoding)
        controls = sum(1 for ch in decoded if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n")
        return decoded if controls * 100 <= len(decoded) else None
    return None


def _check_zip(data: bytes, filename: str, limits: Limits) -> Problem | None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return corrupt(filename, "truncated or not a zip archive")
    with archive:
        # The sizes in the directory bound what zipfile will unpack (it stops there and then fails
        # the CRC), so adding them up is a real bound on a zip bomb.
        if len(infos) > limits.max_zip_entries or sum(i.file_size for i in infos) > limits.max_unzipped_bytes:
            return _problem(ErrorCode.WORKBOOK_UNZIPPED_TOO_LARGE, filename, max_mb=limits.max_unzipped_bytes // MB)
        names = {i.filename for i in infos}
        if "xl/workbook.xml" not in names:
            if "xl/workbook.bin" in names:
                return _not_xlsx(filename, XLSB)
            if "mimetype" in names and archive.read("mimetype").strip() == ODS_MIMETYPE:
                return _not_xlsx(filename, ODS)
            if "word/document.xml" in names:
                return _not_xlsx(filename, DOCX)
            if "[Content_Types].xml" in names:
                return corrupt(filename, "no xl/workbook.xml")
            return _not_xlsx(filename, ZIP)
        for info in infos:
            if not info.filename.endswith((".xml", ".rels", ".vml")):
                continue
            try:
                with archive.open(info) as part:
                    head = part.read(1024)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as err:
                # RuntimeError: a part encrypted with a zip password
                return corrupt(filename, f"{info.filename}: {type(err).__name__}")
            if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                # No spreadsheet program writes a DTD; entity expansion is how XML bombs work.
                return corrupt(filename, f"{info.filename}: DTD")
    return None
