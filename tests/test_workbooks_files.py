"""Uploads that are not what they claim: each refused whole, with its own code and a useful message."""

from __future__ import annotations

import io
import struct
import time
import zipfile
from datetime import date

import pytest
from openpyxl import Workbook

from shebao.platform.errors import ErrorCode
from shebao.platform.workbooks import Limits, read_workbook

HEADER = ["证件号码", "姓名", "户口性质", "用工范围", "参保年月", "申报工资", "联系电话"]
ROW = ["120101199003070013", "张三", "本市城镇", "合同制", "2026-11", "6000.00", "13800000000"]


def good(rows: int = 3) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for _ in range(rows):
        ws.append(ROW)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def read(data: bytes, filename: str = "upload.xlsx", **kw):
    return read_workbook(data, filename, "tianjin", "add", today=date(2026, 11, 20), **kw)


def refused(data: bytes, code: ErrorCode, **kw):
    result = read(data, **kw)
    assert [p.code for p in result.problems] == [code], result.problems
    assert result.rejected and not result.rows and not result.valid_rows
    problem = result.problems[0]
    for lang in ("zh", "en"):
        assert "{" not in problem.message(lang), f"placeholders left in {problem.message(lang)}"
    return problem


def cfb(*streams: str) -> bytes:
    """A compound-file (OLE2) container with a directory naming ``streams``, as .xls and encrypted
    .xlsx files are: the header sector, then one directory sector of 128-byte entries."""
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHH", header, 24, 0x3E, 3, 0xFFFE, 9)  # version 3, little-endian, 512-byte sectors
    struct.pack_into("<I", header, 48, 0)  # the directory starts in sector 0
    directory = bytearray()
    for name in ("Root Entry", *streams):
        entry = bytearray(128)
        encoded = (name + "\0").encode("utf-16-le")
        entry[: len(encoded)] = encoded
        struct.pack_into("<H", entry, 64, len(encoded))
        entry[66] = 5 if name == "Root Entry" else 2
        directory += entry
    directory += bytes(512 - len(directory) % 512)
    return bytes(header) + bytes(directory)


def test_an_old_xls_is_asked_to_be_saved_as_xlsx():
    problem = refused(cfb("Workbook", "\x05SummaryInformation"), ErrorCode.WORKBOOK_OLD_XLS)
    assert "另存为" in problem.message() and ".xlsx" in problem.message("en")
    assert problem.field == "file"


def test_a_password_protected_workbook_is_said_to_be_encrypted():
    data = cfb("EncryptionInfo", "EncryptedPackage", "\x06DataSpaces")
    problem = refused(data, ErrorCode.WORKBOOK_ENCRYPTED)
    assert "密码" in problem.message() and "password" in problem.message("en")


@pytest.mark.parametrize(
    "data",
    [
        "证件号码,姓名\n120101199003070013,张三\n".encode(),
        "\ufeff证件号码,姓名\r\n".encode(),
        "证件号码,姓名\n120101199003070013,张三\n".encode("gbk"),
        "证件号码\t姓名\n".encode("utf-16"),
    ],
)
def test_a_csv_renamed_xlsx_is_recognised(data):
    problem = refused(data, ErrorCode.WORKBOOK_CSV)
    assert "upload.xlsx" in problem.message() and "CSV" in problem.message("en")


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "HTML"),
        (b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>', "Excel 2003 XML"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "PDF"),
    ],
)
def test_other_formats_are_named(data, detected):
    problem = refused(data, ErrorCode.WORKBOOK_NOT_XLSX)
    assert detected in problem.message()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return out.getvalue()


@pytest.mark.parametrize(
    ("members", "detected"),
    [
        ({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}, "ods"),
        ({"[Content_Types].xml": b"<x/>", "xl/workbook.bin": b"\x00"}, "xlsb"),
        ({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<x/>"}, "Word"),
        ({"photo.jpg": b"\xff\xd8"}, "压缩包"),
    ],
)
def test_other_zips_are_named(members, detected):
    assert detected in refused(_zip(members), ErrorCode.WORKBOOK_NOT_XLSX).message()


def test_a_truncated_file_is_corrupt():
    data = good()
    refused(data[: len(data) // 2], ErrorCode.WORKBOOK_CORRUPT)
    refused(data[:-30], ErrorCode.WORKBOOK_CORRUPT)


def test_a_damaged_part_is_corrupt_and_nothing_is_kept():
    src = zipfile.ZipFile(io.BytesIO(good(50)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body[: len(body) // 2]  # the XML stops half-way, mid-row
            dst.writestr(info.filename, body)
    problem = refused(out.getvalue(), ErrorCode.WORKBOOK_CORRUPT)
    assert "ParseError" in problem.params["detail"]


def test_a_crc_error_inside_the_zip_is_corrupt():
    data = bytearray(good(200))
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle] ^= 0xFF  # one flipped byte in the compressed sheet
    refused(bytes(data), ErrorCode.WORKBOOK_CORRUPT)


def test_a_zip_bomb_is_refused_before_unpacking():
    members = {
        "[Content_Types].xml": b"<x/>",
        "xl/workbook.xml": b"<x/>",
        "xl/worksheets/sheet1.xml": bytes(20 * 2**20),
    }
    data = _zip(members)
    assert len(data) < 100_000
    problem = refused(data, ErrorCode.WORKBOOK_UNZIPPED_TOO_LARGE, limits=Limits(max_unzipped_bytes=10 * 2**20))
    assert problem.params["max_mb"] == 10


def test_a_dtd_in_a_part_is_refused():
    members = {"[Content_Types].xml": b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x/>', "xl/workbook.xml": b"<x/>"}
    assert "DTD" in refused(_zip(members), ErrorCode.WORKBOOK_CORRUPT).params["detail"]


def test_empty_and_oversized_uploads():
    refused(b"", ErrorCode.WORKBOOK_EMPTY_FILE)
    problem = refused(good(), ErrorCode.WORKBOOK_TOO_LARGE, limits=Limits(max_file_bytes=1000))
    assert problem.params["max"] == 1000


def test_binary_noise_is_corrupt():
    refused(bytes(range(256)) * 4, ErrorCode.WORKBOOK_CORRUPT)


def test_a_file_over_the_row_limit_is_refused_whole():
    assert not read(good(5), max_rows=5).rejected
    result = read(good(6), max_rows=5)
    (problem,) = result.problems
    assert problem.code is ErrorCode.WORKBOOK_TOO_MANY_ROWS and problem.params["max"] == 5
    assert result.rejected and not result.valid_rows


def test_a_sheet_claiming_a_huge_dimension_is_streamed_as_it_is():
    src = zipfile.ZipFile(io.BytesIO(good(3)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b'<dimension ref="A1:G4"', b'<dimension ref="A1:XFD1048576"')
                assert b"XFD1048576" in body
            dst.writestr(info.filename, body)
    started = time.perf_counter()
    result = read(out.getvalue())
    assert time.perf_counter() - started < 5
    assert not result.rejected and [r.row for r in result.rows] == [2, 3, 4]


NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def excel_like(strings: list[str], rows: list[list[int | float]]) -> bytes:
    """A workbook as Excel writes it: an ``int`` is an index into the shared strings (``<si>`` given
    raw), a ``float`` a number cell; no dimension tag."""
    base = zipfile.ZipFile(io.BytesIO(good(0)))
    cells = []
    for r, row in enumerate(rows, 1):
        parts = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if isinstance(value, float):
                parts.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                parts.append(f'<c r="{ref}" t="s"><v>{value}</v></c>')
        cells.append(f'<row r="{r}">{"".join(parts)}</row>')
    sheet = f'<worksheet xmlns="{NS}"><sheetData>{"".join(cells)}</sheetData></worksheet>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in base.infolist():
            body = base.read(info).decode()
            if info.filename == "xl/worksheets/sheet1.xml":
                body = sheet
            elif info.filename == "[Content_Types].xml":
                body = body.replace(
                    "</Types>",
                    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            elif info.filename == "xl/_rels/workbook.xml.rels":
                body = body.replace(
                    "</Relationships>",
                    '<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
                )
            dst.writestr(info.filename, body)
        dst.writestr("xl/sharedStrings.xml", f'<sst xmlns="{NS}">{"".join(strings)}</sst>')
    return out.getvalue()


def test_shared_strings_plain_with_phonetic_hints_and_rich_text():
    strings = [f"<si><t>{h}</t></si>" for h in HEADER] + [
        "<si><t>120101199003070013</t></si>",
        # Chinese Excel adds a phonetic-properties element after the text
        '<si><t>张三</t><phoneticPr fontId="1" type="noConversion"/></si>',
        # rich text: two runs, and a phonetic run that is not part of the text
        "<si><r><t>本市</t></r><r><rPr><b/></rPr><t>城镇</t></r><rPh sb='0' eb='1'><t>ben</t></rPh></si>",
        '<si><t xml:space="preserve">合同制</t></si>',
        "<si><t>2026-11</t></si>",
    ]
    data = excel_like(strings, [list(range(7)), [7, 8, 9, 10, 11, 6000.0]])
    result = read(data)
    assert not result.rejected, result.problems
    (row,) = result.rows
    assert row.valid, row.problems
    assert (row.name, row.values["household_type"], row.values["employment_form"]) == (
        "张三",
        "local_urban",
        "contract",
    )
