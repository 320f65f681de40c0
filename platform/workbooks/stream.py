"""A worksheet streamed row by row, saying what openpyxl's read-only rows do not.

``ReadOnlyWorksheet.iter_rows`` trusts the sheet's ``<dimension>`` (a sheet claiming
``A1:XFD1048576`` pads every row to 16,384 cells), drops the merged ranges and turns a formula saved
without its value into an empty cell. So the sheet's XML is parsed here with openpyxl's own
``WorkSheetParser``, subclassed: rows are sparse ``(column, value)`` lists, formulas without a value
and error values come back as markers of :mod:`.cells`, and the merged ranges are known once the
rows are exhausted. This is the one module that touches openpyxl internals (``ws._get_source``,
``wb._date_formats``); openpyxl is pinned to 3.1 in the lock file.

The common cells (shared strings, plain numbers, one-run inline strings) are read on a short path:
the general one builds a dict per cell and a ``Text`` object per inline string, which made the
parser most of an import's time. For the same reason the workbook is opened by a subclass of
openpyxl's ``ExcelReader`` that reads plain shared strings directly, and does not size the sheets
(a sheet without a ``<dimension>`` is otherwise parsed in full once just to size it).

Most of what is left is ElementTree building an element for every row, cell and value (expat
itself takes a tenth of it). So plain rows, as Excel writes them (shared strings and numbers, no
formulas, no markup but ``row``, ``c`` and ``v``), are read from the text by :class:`_RowText`
and reach the XML parser as one empty ``<row>`` per run of rows, of the same length: everything
else, and every row it cannot vouch for, is parsed as before, and errors are found where they were.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element, SubElement, XMLPullParser

from openpyxl.cell.text import Text
from openpyxl.reader.excel import SHARED_STRINGS, ExcelReader
from openpyxl.utils.cell import column_index_from_string, range_boundaries
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import (
    CELL_TAG,
    DATA_TAG,
    FORMULA_TAG,
    INLINE_STRING,
    VALUE_TAG,
    WorkSheetParser,
    _cast_number,
)
from openpyxl.xml.constants import SHEET_MAIN_NS, XML_NS
from openpyxl.xml.functions import iterparse

from shebao.platform.workbooks.cells import NO_VALUE, CellError

_T_TAG = f"{{{SHEET_MAIN_NS}}}t"
_SI_TAG = f"{{{SHEET_MAIN_NS}}}si"
_R_TAG = f"{{{SHEET_MAIN_NS}}}r"
_DIGITS = "0123456789"


def open_workbook(source) -> Any:
    """``load_workbook(source, read_only=True, data_only=True, keep_links=False)``, faster to open."""
    reader = _WorkbookReader(source, read_only=True, data_only=True, keep_links=False)
    reader.read()
    return reader.wb


class _UnsizedSheet(ReadOnlyWorksheet):
    def _get_size(self) -> None:
        pass  # the dimension is never trusted here: no need to read it (or the whole sheet, without one)


class _WorkbookReader(ExcelReader):
    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        if part is not None:
            with self.archive.open(part.PartName[1:]) as src:
                self.shared_strings = _string_table(src)

    def read_worksheets(self) -> None:
        for sheet, rel in self.parser.find_sheets():  # as openpyxl's read-only branch, less the sizing
            if rel.target not in self.valid_files:
                continue
            if "chartsheet" in rel.Type:
                self.read_chartsheet(sheet, rel)
                continue
            ws = _UnsizedSheet(self.wb, sheet.name, rel.target, self.shared_strings)
            ws.sheet_state = sheet.state
            self.wb._sheets.append(ws)


def _string_table(src) -> list[str]:
    """The shared strings: ``<si><t>`` read directly (with Excel's phonetic hints after it, as CJK
    files have), rich text through openpyxl's ``Text``; ``x005F_`` dropped as openpyxl does."""
    strings = []
    for _, node in iterparse(src):
        if node.tag != _SI_TAG:
            continue
        first = node[0] if len(node) else None
        if first is not None and first.tag == _T_TAG and node.find(_R_TAG) is None:
            text = first.text or ""
        else:
            text = Text.from_tree(node).content
        strings.append(text.replace("x005F_", "") if "x005F_" in text else text)
        node.clear()
    return strings


class _Parser(WorkSheetParser):
    """openpyxl's sheet parser, giving ``(column, value)`` pairs instead of cell dicts."""

    source: _RowText

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._columns: dict[str, int] = {}

    def parse(self):
        for row in super().parse():
            if row.__class__ is list:  # a placeholder: the rows it stands for, read one at a time
                yield from map(self._plain_row, row)
            else:
                yield row

    def _plain_row(self, row: tuple[str | None, str, int, int]) -> tuple[int, list[tuple[int, Any]]]:
        """A row :class:`_RowText` took out, read as parse_row reads it (the cell as ElementTree
        would have built it for parse_cell, off the short path)."""
        number, text, start, end = row
        self.row_counter = int(number) if number else self.row_counter + 1
        self.col_counter = 0
        out = []
        columns, strings, dates = self._columns, self.shared_strings, self.date_formats
        for coordinate, letters, style, kind, tag, value in _CELL_PARTS.findall(text, start, end):
            column = columns.get(letters)
            if column is not None and value:
                if kind == "s":
                    self.col_counter = column
                    out.append((column, strings[int(value)]))
                    continue
                if (not kind or kind == "n") and (not style or int(style) not in dates):
                    self.col_counter = column
                    out.append((column, _cast_number(value)))
                    continue
            element = Element(CELL_TAG, {"r": coordinate})
            if style:
                element.set("s", style)
            if kind:
                element.set("t", kind)
            if tag:
                SubElement(element, VALUE_TAG).text = value or None
            out.append(self.parse_cell(element))
        return self.row_counter, out

    def parse_row(self, row):
        run = row.get(self.source.key)
        if run is not None:
            return self.source.runs.pop(int(run))
        number = row.get("r")
        self.row_counter = int(float(number)) if number else self.row_counter + 1
        self.col_counter = 0
        # parse_cell's short paths inlined (a method call per cell is a tenth of the parse): shared
        # strings and plain numbers with a coordinate; any other cell goes through parse_cell.
        out = []
        columns, strings, dates = self._columns, self.shared_strings, self.date_formats
        for element in row:  # no row heights: nothing to us
            coordinate = element.get("r")
            column = columns.get(coordinate.rstrip(_DIGITS)) if coordinate else None
            if column is not None:
                kind = element.get("t")
                if kind == "s":
                    found = element.findtext(VALUE_TAG)
                    if found:
                        self.col_counter = column
                        out.append((column, strings[int(found)]))
                        continue
                elif kind is None or kind == "n":
                    found = element.findtext(VALUE_TAG)
                    style = element.get("s")
                    if found and (not style or int(style) not in dates):
                        self.col_counter = column
                        out.append((column, _cast_number(found)))
                        continue
            out.append(self.parse_cell(element))
        return self.row_counter, out

    def parse_cell(self, element) -> tuple[int, Any]:  # type: ignore[override]
        coordinate = element.get("r")
        if coordinate:
            letters = coordinate.rstrip(_DIGITS)
            column = self._columns.get(letters)
            if column is None:
                column = self._columns[letters] = column_index_from_string(letters)
            self.col_counter = column
        else:
            self.col_counter += 1
            column = self.col_counter
        kind = element.get("t")
        style = element.get("s")
        if kind == "s":
            found = element.findtext(VALUE_TAG)
            if found:
                return column, self.shared_strings[int(found)]
        elif kind is None or kind == "n":
            found = element.findtext(VALUE_TAG)
            if not found:  # no value, or an empty <v/> as openpyxl writes beside a formula
                return column, (NO_VALUE if element.find(FORMULA_TAG) is not None else None)
            if not style or int(style) not in self.date_formats:
                return column, _cast_number(found)
        elif kind == "inlineStr":
            child = element.find(INLINE_STRING)
            if child is not None and len(child) == 1 and child[0].tag == _T_TAG:
                return column, child[0].text or ""
        return column, self._general(element)

    def _general(self, element) -> Any:
        cell = super().parse_cell(element)
        value = cell["value"]
        if cell["data_type"] == "e" and value is not None:
            return CellError(value)
        if value is None and element.find(FORMULA_TAG) is not None:
            return NO_VALUE
        return value


# A plain row, as Excel writes it: attributes in double quotes, one space apart, of printable
# ASCII but " & < > (no entity, nothing to normalise); cells with a coordinate, then a style and a
# type if any, in that order, holding at most a <v> of ASCII letters, digits and . + -.
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*(?::[A-Za-z_][A-Za-z0-9_.-]*)?"
_CELL_PARTS = re.compile(  # coordinate, its letters, style, type, <v> if there, the value
    r'<c r="(([A-Z]{1,3})[0-9]{1,7})"(?: s="([0-9]{1,9})")?(?: t="([A-Za-z]{1,9})")?'
    r"(?:/>|>(?:(<v>)([0-9A-Za-z.+-]*)</v>)?</c>)"
)
_CELLS = _CELL_PARTS.pattern.replace("(", "(?:").replace("(?:?:", "(?:")  # the same, no groups
_PLAIN_ROW = re.compile(  # the number, the other attributes, the cells
    rf"""<row(?: r="([0-9]{{1,9}})")?((?: {_NAME}="[ !#-%'-;=?-~]*")*)(?:/>|>((?:{_CELLS})*)</row>)"""
)
_ATTRIBUTE_NAME = re.compile(rf" ({_NAME})=")
# Any row's start tag (an attribute may hold what a plain row's may not, but never a <).
_START_TAG = re.compile(
    r"""<row(?:[ \t\r\n]+[^ \t\r\n=/<>"']+[ \t\r\n]*=[ \t\r\n]*(?:"[^"<]*"|'[^'<]*'))*[ \t\r\n]*(/?)>"""
)
_ROW_OPEN = re.compile(r"<row[ \t\r\n/>]")
_SPACE = re.compile(r"[ \t\r\n]+")
# The XML declaration as Excel writes it: UTF-8 (or nothing said: UTF-8 too).
_DECLARATION = re.compile(
    rb'(?:\xef\xbb\xbf)?(?:<\?xml version="1\.0"(?: encoding="(?i:utf-8)")?(?: standalone="(?:yes|no)")?[ \t\r\n]*\?>)?'
)
_SHEET_DATA = b"<sheetData>"
_LIMIT = 1 << 20  # rows starting later than this, or a tag longer: the sheet is parsed as it is
_BLANK = {i: " " for i in range(256) if chr(i) not in "\t\r\n"}  # a run's text inside a tag


class _RowText:
    """The sheet's XML as read from the archive, with each run of plain rows replaced by an empty
    ``<row>`` naming the run in :attr:`runs`: of the same length, with line breaks where they were
    (an error after it is reported where it is in the file).

    A run is replaced only where the parser is certainly between two children of ``<sheetData>``:
    after the sheet's ``<sheetData>`` tag (the text before it declares UTF-8, has no comment, CDATA
    or processing instruction, and a parser says where it ends), after a run, or after a row whose
    end is certain (no comment, CDATA, processing instruction or other row in it). Anything else,
    and all after it, is passed on as it is. Nothing is held back, so every error is met when it was.
    """

    def __init__(self, source):
        self.source = source
        self.key = f"shebao-run-{secrets.token_hex(8)}"  # the placeholders' attribute: no file has it
        self.runs: dict[int, list[tuple[str | None, str, int, int]]] = {}
        self._count = 0
        self._head: bytearray | None = bytearray()  # the text while looking for <sheetData>
        self._rows = False  # between the children of <sheetData>
        self._carry = ""  # the start of an item cut by the end of the last read (passed on already)
        self._prefixes: dict[str, str] = {}  # declared on the root: in force in every row
        self._checked: dict[str, bool] = {}  # a row's other attributes -> plain

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        if data and self._head is not None:
            return self._find_rows(data)
        if data and self._rows:
            return self._replace(data.decode("latin-1")).encode("latin-1")  # ASCII where it matters
        return data

    def close(self) -> None:
        self.source.close()

    def _find_rows(self, data: bytes) -> bytes:
        head = self._head
        assert head is not None
        seen = len(head)
        head += data
        found = head.find(_SHEET_DATA, max(0, seen - len(_SHEET_DATA)))
        if found < 0:
            self._head = head if len(head) < _LIMIT else None
            return data
        cut = found + len(_SHEET_DATA)
        prefixes = _rows_open(bytes(head[:cut]))
        self._head, self._rows, self._prefixes = None, prefixes is not None, prefixes or {}
        if not self._rows:
            return data
        cut -= seen  # in data: the tag may have begun in the last read
        return data[:cut] + self._replace(data[cut:].decode("latin-1")).encode("latin-1")

    def _plain(self, others: str) -> bool:
        """Whether a row's attributes after its number are plain (the same in most rows: kept)."""
        known = self._checked.get(others)
        if known is None:
            known = _plain_attributes(others, self._prefixes)
            if len(self._checked) < 1024:
                self._checked[others] = known
        return known

    def _replace(self, text: str) -> str:
        """``text`` as the parser gets it."""
        buf, done = self._carry + text, len(self._carry)  # buf[:done]: passed on already
        out: list[str] = []
        run: list[tuple[str | None, str, int, int]] = []
        start = end = p = 0
        ended = False
        while p < len(buf):
            if buf[p] in " \t\r\n":
                p = _SPACE.match(buf, p).end()  # type: ignore[union-attr]
                continue
            tag = _START_TAG.match(buf, p)
            if tag is None:
                rest = buf[p : p + 12]
                if rest.startswith("<row"):  # a start tag to come, or one we cannot see the end of
                    ended = buf.find("<", p + 1) >= 0
                else:  # </sheetData>, anything else, or the start of one of them to come
                    ended = len(rest) == 12 or not ("</sheetData>".startswith(rest) or "<row".startswith(rest))
                break
            row_end = tag.end() if tag.group(1) else buf.find("</row>", tag.end()) + 6
            if row_end < 6:
                break  # the end of the row is still to come
            plain = _PLAIN_ROW.fullmatch(buf, p, row_end) if p >= done else None
            if plain is not None and self._plain(plain.group(2)):
                start = p if not run else start
                run.append((plain.group(1), buf, *plain.span(3)))
                end = p = row_end
                continue
            if "<!" in buf[p:row_end] or "<?" in buf[p:row_end] or _ROW_OPEN.search(buf, p + 1, row_end):
                ended = True
                break
            done = self._flush(out, buf, done, run, start, end)
            run = []
            out.append(buf[done:row_end])  # any other row: parsed as it is
            done = p = row_end
        done = self._flush(out, buf, done, run, start, end)
        out.append(buf[done:])
        self._carry = "" if ended else buf[p:]
        self._rows = not ended and len(self._carry) < _LIMIT
        return "".join(out)

    def _flush(self, out: list[str], buf: str, done: int, run: list, start: int, end: int) -> int:
        """The text before the run as it is, then the run's placeholder; where the text passed on ends."""
        if not run:
            return done
        out.append(buf[done:start])
        head = f'<row {self.key}="{self._count}"'
        text = buf[start:end]
        if len(text) < len(head) + 2 or "\n" in text[: len(head)] or "\r" in text[: len(head)]:
            out.append(text)  # too short to stand for the run: parsed as it is
            return end
        self.runs[self._count] = run
        self._count += 1
        blank = text[len(head) : -2]
        if "\n" in blank or "\r" in blank or "\t" in blank:
            blank = blank.translate(_BLANK)  # the line breaks between the rows kept
        else:
            blank = " " * len(blank)
        out.append(f"{head}{blank}/>")
        return end


def _plain_attributes(others: str, prefixes: dict[str, str]) -> bool:
    """No namespace declared, no r (the row's number comes first or not at all), prefixes declared on
    the root, no name twice."""
    names = set()
    for name in _ATTRIBUTE_NAME.findall(others):
        prefix, _, local = name.rpartition(":")
        space = XML_NS if prefix == "xml" else prefixes.get(prefix) if prefix else ""
        if name in ("xmlns", "r") or prefix == "xmlns" or space is None or (space, local) in names:
            return False
        names.add((space, local))
    return True


def _rows_open(prefix: bytes) -> dict[str, str] | None:
    """The prefixes declared on the root if ``prefix`` ends with the ``<sheetData>`` of the sheet's
    rows, a child of the root in the main namespace; None when that is not certain."""
    declaration = _DECLARATION.match(prefix)
    rest = prefix[declaration.end() if declaration else 0 :]
    if b"<!" in rest or b"<?" in rest:
        return None
    depth, prefixes, last = 0, {}, None
    try:
        parser = XMLPullParser(events=("start", "end", "start-ns"))
        parser.feed(prefix)
        for event, item in parser.read_events():
            if event == "start-ns":
                if last is None:  # before the root's start: declared on the root
                    prefixes[item[0]] = item[1]
                continue
            depth += 1 if event == "start" else -1
            last = (event, item.tag)
    except Exception:  # damaged: parsed as it is, and the parser says why
        return None
    return prefixes if depth == 2 and last == ("start", DATA_TAG) else None


class SheetStream:
    """One worksheet of a workbook opened with ``load_workbook(read_only=True, data_only=True)``."""

    def __init__(self, workbook, worksheet):
        self.title: str = worksheet.title
        self._source = worksheet._get_source()
        self._parser = _Parser(
            _RowText(self._source),
            worksheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        self._rows = self._parser.parse()

    def rows(self) -> Iterator[tuple[int, list[tuple[int, Any]]]]:
        """``(row number, [(column, value), ...])`` for each row present in the XML."""
        return self._rows

    def merged(self) -> list[tuple[int, int, int, int]]:
        """Merged ranges as (min_col, min_row, max_col, max_row): complete once the rows are exhausted."""
        found = self._parser.merged_cells
        if found is None:
            return []
        out = []
        for cell in found.mergeCell:
            try:
                bounds = range_boundaries(cell.ref)
            except (TypeError, ValueError):  # a malformed range merges nothing we could point at
                continue
            if None not in bounds:
                out.append(bounds)
        return out

    def close(self) -> None:
        self._rows.close()
        self._source.close()
