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
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openpyxl.cell.text import Text
from openpyxl.reader.excel import SHARED_STRINGS, ExcelReader
from openpyxl.utils.cell import column_index_from_string, range_boundaries
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import FORMULA_TAG, INLINE_STRING, VALUE_TAG, WorkSheetParser, _cast_number
from openpyxl.xml.constants import SHEET_MAIN_NS
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._columns: dict[str, int] = {}

    def parse_row(self, row):
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


class SheetStream:
    """One worksheet of a workbook opened with ``load_workbook(read_only=True, data_only=True)``."""

    def __init__(self, workbook, worksheet):
        self.title: str = worksheet.title
        self._source = worksheet._get_source()
        self._parser = _Parser(
            self._source,
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
