"""Reading an uploaded batch workbook into checked rows: the first step of a staged import.

``read_workbook`` never raises for a bad file: every problem comes back in the result, file-level
ones in ``problems`` (the file is then rejected whole: import nothing from it) and row-level ones
on their rows. Memory stays bounded: the sheet is streamed (read-only mode), rows are kept as typed
values, and the cells as read are kept for failed rows only (for the error report).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from typing import Any

from openpyxl.utils import get_column_letter

from shebao.platform.core.clock import SHANGHAI, utcnow
from shebao.platform.errors import ErrorCode, Problem
from shebao.platform.regions.api import DeclarationKind, Region
from shebao.platform.regions.figures import FigureBook
from shebao.platform.regions.registry import national, registry
from shebao.platform.workbooks.cells import blank
from shebao.platform.workbooks.layout import IGNORED_HEADERS, INSTRUCTIONS_TITLE, Layout, header_text, template_layout
from shebao.platform.workbooks.result import Limits, ReadResult, RowProblem, Summary
from shebao.platform.workbooks.sniff import corrupt, sniff
from shebao.platform.workbooks.stream import SheetStream, open_workbook
from shebao.platform.workbooks.validate import RowChecker, total_wage


class _Unreadable(Exception):
    """openpyxl failed on the file: turned into WORKBOOK_CORRUPT in one place."""


def read_workbook(
    data: bytes,
    filename: str,
    region: Region | str,
    kind: DeclarationKind | str,
    *,
    agency_wide: bool = False,
    max_rows: int | None = None,
    limits: Limits | None = None,
    book: FigureBook | None = None,
    today: date | None = None,
    plugin_rules: Callable | None = None,
) -> ReadResult:
    """Read and check an uploaded workbook of ``kind`` declarations for ``region``.

    ``book``: the figures as the agency sees them (``policy.service.figure_book``); the region's
    own by default. ``plugin_rules``: the plugins' declaration hook (the registry's by default).
    """
    if isinstance(region, str):
        region = registry().get(region)
    limits = limits or Limits()
    if max_rows is not None:
        limits = replace(limits, max_rows=max_rows)
    shape = template_layout(region, kind, agency_wide=agency_wide)
    result = ReadResult(filename, region.code, shape.kind, agency_wide, hashlib.sha256(data).hexdigest())
    refused = sniff(data, filename, limits)
    if refused is not None:
        result.problems.append(refused)
        return result
    if book is None:
        book = registry().book(region.code) if region.code in registry().codes else FigureBook(region, national())
    checker = RowChecker(
        shape,
        book,
        today or utcnow().astimezone(SHANGHAI).date(),
        _plugin_rules() if plugin_rules is None else plugin_rules,
    )
    with warnings.catch_warnings():
        # openpyxl warns about what it drops (extensions, data validation kinds): nothing to us.
        warnings.simplefilter("ignore")
        try:
            _Reading(data, shape, checker, limits, result).run()
        except _Unreadable as err:
            cause = err.__cause__ or err
            result.rows = []
            result.problems.append(corrupt(filename, f"{type(cause).__name__}: {str(cause)[:120]}"))
    result.notices += checker.region_notices()
    valid = [r for r in result.rows if r.valid]
    result.summary = Summary(
        rows_read=len(result.rows),
        rows_valid=len(valid),
        head_count=len({r.values.get("id_number") for r in valid} - {None}),
        total_wage=total_wage(valid),
    )
    return result


def _plugin_rules() -> Callable | None:
    """The registry's declaration hook; None when no plugin implements it (its answer is then always
    empty, and calling pluggy on every row of a large file costs a tenth of the rules' time)."""
    found = registry()
    return found.plugin_rules if found.pm.hook.shebao_check_declaration.get_hookimpls() else None


def _guarded(rows: Iterator) -> Iterator:
    """openpyxl's errors on a damaged file (bad XML, a CRC error, a missing part) as _Unreadable."""
    while True:
        try:
            item = next(rows)
        except StopIteration:
            return
        except Exception as err:  # anything the parser raises on a user's file means "cannot be read"
            raise _Unreadable() from err
        yield item


class _Reading:
    def __init__(self, data: bytes, shape: Layout, checker: RowChecker, limits: Limits, result: ReadResult):
        self.data, self.shape, self.checker, self.limits, self.result = data, shape, checker, limits, result

    def run(self) -> None:
        try:
            workbook = open_workbook(io.BytesIO(self.data))
        except Exception as err:  # openpyxl raises whatever its parsers raise on a damaged file
            raise _Unreadable() from err
        self.checker.epoch = workbook.epoch
        try:
            found = self._find_header(workbook)
            if found is not None:
                stream, rows, header_row, header = found
                try:
                    self._read(stream, rows, header_row, header)
                finally:
                    stream.close()
        finally:
            workbook.close()

    def _find_header(self, workbook):
        """The first visible sheet with the header within its first rows, positioned after it."""
        looked, hidden, content = [], [], False
        for sheet in workbook.worksheets:
            if sheet.sheet_state != "visible":
                hidden.append(sheet.title)
                continue
            if sheet.title == INSTRUCTIONS_TITLE:
                continue
            looked.append(sheet.title)
            try:
                stream = SheetStream(workbook, sheet)
            except Exception as err:  # a part missing from the archive
                raise _Unreadable() from err
            rows = _guarded(stream.rows())
            for number, cells in rows:
                if number > self.limits.header_scan_rows:
                    content = True
                    break
                content = content or not all(blank(v) for _, v in cells)
                header = {c: v for c, v in cells if c <= self.limits.max_columns and not blank(v)}
                if len({self.shape.match(v) for v in header.values()} - {None}) >= 2:
                    self.result.sheet, self.result.header_row = sheet.title, number
                    return stream, rows, number, header
            stream.close()
        names = "、".join(f"「{t}」" for t in looked) or "-"
        if looked and not content:
            self._refuse(ErrorCode.WORKBOOK_EMPTY, sheets=names)
        else:
            if hidden:
                names += "（已跳过隐藏的工作表 " + "、".join(f"「{t}」" for t in hidden) + "）"
            expected = "、".join(c.label for c in self.shape.required)
            self._refuse(
                ErrorCode.WORKBOOK_NO_HEADER, sheets=names, rows=self.limits.header_scan_rows, expected=expected
            )
        return None

    def _refuse(self, code: ErrorCode, **params: Any) -> None:
        self.result.problems.append(Problem(code, "file", params))

    def _columns(self, header: dict[int, Any]) -> dict[int, str] | None:
        """Column number -> field; None (with the file's problem) when the header cannot be used."""
        columns: dict[int, str] = {}
        extra = []
        for number, text in sorted(header.items()):
            key = self.shape.match(text)
            if key is None:
                if header_text(text) not in IGNORED_HEADERS:
                    extra.append(str(text).strip())
                continue
            first = next((c for c, k in columns.items() if k == key), None)
            if first is not None:
                self._refuse(
                    ErrorCode.WORKBOOK_DUPLICATE_COLUMN,
                    column=self.shape.column(key).label,
                    first=get_column_letter(first),
                    second=get_column_letter(number),
                )
                return None
            columns[number] = key
        self.result.notices.append(
            Problem(
                ErrorCode.WORKBOOK_SHEET_READ, None, {"sheet": self.result.sheet, "header_row": self.result.header_row}
            )
        )
        if extra:
            self.result.notices.append(Problem(ErrorCode.WORKBOOK_EXTRA_COLUMNS, None, {"columns": "、".join(extra)}))
        missing = [c.label for c in self.shape.required if c.key not in columns.values()]
        if missing:
            self._refuse(ErrorCode.WORKBOOK_MISSING_COLUMNS, sheet=self.result.sheet, columns="、".join(missing))
            return None
        return columns

    def _read(self, stream: SheetStream, rows: Iterator, header_row: int, header: dict[int, Any]) -> None:
        columns = self._columns(header)
        if columns is None:
            return
        letters = {key: get_column_letter(number) for number, key in columns.items()}
        self.result.columns = letters
        out = self.result.rows
        check = self.checker.check
        blank_run, last, ended = 0, header_row, True
        for number, cells in rows:
            found = {}
            for column, value in cells:
                key = columns.get(column)
                if key is not None and value is not None and (type(value) is not str or value.strip()):
                    found[key] = value
            if not found:
                blank_run += 1
                if blank_run >= self.limits.blank_tail:
                    self.result.notices.append(
                        Problem(ErrorCode.WORKBOOK_BLANK_TAIL, None, {"row": last, "count": blank_run})
                    )
                    ended = False
                    break
                continue
            blank_run, last = 0, number
            if len(out) >= self.limits.max_rows:
                self._refuse(ErrorCode.WORKBOOK_TOO_MANY_ROWS, max=self.limits.max_rows)
                return
            out.append(check(number, found, letters))
        if ended:
            self._mark_merged(stream.merged(), header_row, columns, letters)
        if not out:
            self._refuse(ErrorCode.WORKBOOK_NO_ROWS, sheet=self.result.sheet)

    def _mark_merged(self, merged, header_row: int, columns: dict[int, str], letters: dict[str, str]) -> None:
        """Merged cells in the data leave all but one cell empty: say so on every row they cover."""
        if not merged:
            return
        by_number = {r.row: r for r in self.result.rows}
        for min_col, min_row, max_col, max_row in merged:
            keys = [columns[c] for c in range(min_col, max_col + 1) if c in columns]
            if max_row <= header_row or not keys:
                continue
            ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}"
            column = self.shape.column(keys[0])
            for number in range(max(min_row, header_row + 1), max_row + 1):
                row = by_number.get(number)
                if row is None:
                    continue
                problem = Problem(ErrorCode.WORKBOOK_MERGED_CELL, None, {"range": ref})
                row.problems.append(RowProblem(number, column.label, column.key, letters.get(column.key), problem))
