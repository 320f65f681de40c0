"""The streaming parse's short path for plain rows (``stream._RowText``): the rows, values, merged
ranges and errors are those of ElementTree parsing the whole sheet, wherever the reads cut the text."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import pytest
from openpyxl import Workbook

from shebao.platform.workbooks import stream
from shebao.platform.workbooks.cells import NO_VALUE, CellError

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
EXCEL_ROOT = (
    f'<worksheet xmlns="{NS}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'mc:Ignorable="x14ac" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">'
)
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
STRINGS = ["证件号码", "姓名", "张三", "a&b", "合同制"]


def plain(first: int, count: int, attributes: str = ' spans="1:4"', between: str = "") -> str:
    """Rows as Excel writes them: a shared string, a number, an empty styled cell, a whole number."""
    return between.join(
        f'<row r="{r}"{attributes}><c r="A{r}" t="s"><v>{r % len(STRINGS)}</v></c><c r="B{r}"><v>{r}.25</v></c>'
        f'<c r="C{r}" s="1"/><c r="D{r}"><v>{r}</v></c></row>'
        for r in range(first, first + count)
    )


def sheet(rows: str, *, root: str = EXCEL_ROOT, head: str = "", tail: str = "", close: str = "</worksheet>") -> bytes:
    return f"{DECLARATION}{root}{head}<sheetData>{rows}</sheetData>{tail}{close}".encode()


def workbook(sheet_xml: bytes) -> bytes:
    """openpyxl's workbook with ``sheet_xml`` as its sheet and :data:`STRINGS` as shared strings; its
    style 1 is a date's."""
    buffer = io.BytesIO()
    book = Workbook()
    book.active["A1"] = datetime(2026, 11, 1)
    book.save(buffer)
    src = zipfile.ZipFile(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = sheet_xml
            elif info.filename == "[Content_Types].xml":
                body = body.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            elif info.filename == "xl/_rels/workbook.xml.rels":
                body = body.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
                )
            dst.writestr(info.filename, body)
        strings = "".join(f"<si><t>{s.replace('&', '&amp;')}</t></si>" for s in STRINGS)
        dst.writestr("xl/sharedStrings.xml", f'<sst xmlns="{NS}">{strings}</sst>')
    return out.getvalue()


def read(data: bytes) -> tuple[list, tuple[str, str] | None, list, int]:
    """Rows, the error (type and message) if any, merged ranges, and the runs the short path took."""
    book = stream.open_workbook(io.BytesIO(data))
    sheet_stream = stream.SheetStream(book, book.worksheets[0])
    rows, error = [], None
    try:
        for row in sheet_stream.rows():
            rows.append(row)
    except Exception as err:  # compared with what the whole parse raises
        error = (type(err).__name__, str(err))
    runs = sheet_stream._parser.source._count
    merged = sheet_stream.merged() if error is None else []
    sheet_stream.close()
    book.close()
    return rows, error, merged, runs


def both(sheet_xml: bytes, monkeypatch) -> tuple[tuple, tuple]:
    """Read with the short path, then with every row parsed by ElementTree."""
    data = workbook(sheet_xml)
    fast = read(data)
    with monkeypatch.context() as patched:
        patched.setattr(stream, "_rows_open", lambda prefix: None)
        slow = read(data)
    assert slow[3] == 0
    return fast, slow


MERGED = '<mergeCells count="1"><mergeCell ref="A2:B3"/></mergeCells>'
ODD_ROW = (
    '<row r="500"><c r="A500"><f>1+1</f><v>2</v></c><c r="B500" t="inlineStr"><is><t>a&amp;b</t></is></c>'
    '<c r="C500" t="e"><v>#N/A</v></c><c r="D500"><f>A1</f></c></row>'
)
CASES = {
    "plain": sheet(plain(1, 400), tail=MERGED),
    "no attributes, no declaration": sheet(plain(1, 400, "")).replace(DECLARATION.encode(), b""),
    "Excel's row attributes": sheet(plain(1, 400, ' spans="1:4" x14ac:dyDescent="0.25" ht="20" customHeight="1"')),
    "line breaks between rows": sheet(plain(1, 400, between="\r\n  "), tail="\n" + MERGED),
    "other rows among them": sheet(plain(1, 200) + ODD_ROW + plain(501, 200), tail=MERGED),
    "dates": sheet(plain(1, 100) + '<row r="200"><c r="A200" s="1"><v>46327.5</v></c></row>' + plain(201, 100)),
    "rows and cells without a number": sheet(plain(1, 100) + '<row><c t="s"><v>1</v></c></row>' + plain(102, 100)),
    "empty rows": sheet(plain(1, 100) + '<row r="101"/><row r="102" spans="1:2"></row>' + plain(103, 100)),
    "a comment": sheet(plain(1, 100) + "<!-- " + plain(101, 5) + " -->" + plain(200, 100)),
    "CDATA": sheet(plain(1, 100) + "<![CDATA[" + plain(101, 5) + "]]>" + plain(200, 100)),
    "a processing instruction": sheet(plain(1, 100) + "<?x y?>" + plain(200, 100)),
    "rows in another element": sheet(plain(1, 100) + "<x>" + plain(101, 5) + "</x>" + plain(200, 100)),
    "a comment before the rows": sheet(plain(1, 300), head="<!-- <sheetData> -->"),
    "another namespace": sheet(plain(1, 300), root='<worksheet xmlns="urn:other">'),
    "a namespace declared on a row": sheet(plain(1, 100) + plain(101, 1, ' xmlns="urn:x"') + plain(102, 100)),
    "an undeclared prefix": sheet(plain(1, 100) + plain(101, 1, ' q:a="1"') + plain(102, 100)),
    "an attribute twice": sheet(plain(1, 100) + plain(101, 1, ' spans="1" spans="2"') + plain(102, 100)),
    "a bad merged range after the rows": sheet(plain(1, 400, between="\n"), tail='<mergeCells><mergeCell ref="A1">'),
    "cut short": sheet(plain(1, 400))[:-300],
    "a bad shared string index": sheet(plain(1, 100) + '<row r="101"><c r="A101" t="s"><v>99</v></c></row>'),
    "a bad number": sheet(plain(1, 100) + '<row r="101"><c r="A101"><v>1.2.3</v></c></row>' + plain(102, 100)),
    "an end tag with a space": sheet(plain(1, 100) + plain(101, 1).replace("</row>", "</row >") + plain(102, 100)),
    "a > in an attribute": sheet(plain(1, 100) + plain(101, 1, ' x="/>"') + plain(102, 100)),
}


@pytest.mark.parametrize("name", CASES)
def test_plain_rows_read_as_the_whole_parse_reads_them(name, monkeypatch):
    fast, slow = both(CASES[name], monkeypatch)
    assert fast[:3] == slow[:3]


def test_the_short_path_is_taken_and_the_text_keeps_its_length(monkeypatch):
    passed: list[bytes] = []
    read_text = stream._RowText.read

    def spy(self, size=-1):
        out = read_text(self, size)
        passed.append(out)
        return out

    monkeypatch.setattr(stream._RowText, "read", spy)
    xml = sheet(plain(1, 2000, between="\n"), tail=MERGED)
    rows, error, merged, runs = read(workbook(xml))
    assert error is None and len(rows) == 2000 and merged == [(1, 2, 2, 3)]
    assert runs > 5  # one per read of 16 KiB, less a row cut by the end of each
    text = b"".join(passed)
    assert len(text) == len(xml) and text.count(b"\n") == xml.count(b"\n")
    assert text.count(b"<row ") < 2000 / 10
    assert rows[0] == (1, [(1, STRINGS[1]), (2, 1.25), (3, None), (4, 1)])


def test_markers_and_values_off_the_short_path(monkeypatch):
    fast, slow = both(sheet(plain(1, 50) + ODD_ROW), monkeypatch)
    assert fast[:3] == slow[:3]
    assert fast[0][-1] == (500, [(1, 2), (2, "a&b"), (3, CellError("#N/A")), (4, NO_VALUE)])
