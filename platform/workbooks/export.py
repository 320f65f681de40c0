"""Streamed workbook exports (rosters, payment details, settlement lines, declaration history).

Rows go through openpyxl's write-only mode one at a time: the sheet is written to a temporary file
as rows come, so an export of any length holds one row in memory (plus the comments, if any).

Text that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, a tab or a CR first)
is stored as a string cell with the quote-prefix style, which is what Excel itself records for
``'=1+1``: shown as typed, never evaluated, not even after the cell is edited. Money (Decimal) is a
number with two decimals; months are text (2026-11); datetimes are shown in Asia/Shanghai.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from shebao.platform.core.clock import SHANGHAI
from shebao.platform.core.month import Month

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
MONEY_FORMAT = "0.00"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FONT = Font(bold=True)


@dataclass(frozen=True)
class ExportColumn:
    label: str
    width: float | None = None
    number_format: str | None = None  # instead of the one the value's type implies


def text_cell(ws, value: str) -> Any:
    """A string as a string cell: safe when it would read as a formula, stripped of XML-illegal characters."""
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not value.startswith(FORMULA_PREFIXES) and not value.startswith("#"):
        return value
    # openpyxl would make "=..." a formula and "#N/A" an error: force the string type, and quote it.
    cell = WriteOnlyCell(ws, None)
    cell.value = value
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def cell_value(ws, value: Any, number_format: str | None = None) -> Any:
    """What to append for ``value``: a plain value, or a cell carrying its number format."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Month):
        return str(value)
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return text_cell(ws, value)
    fmt = number_format
    if isinstance(value, Decimal):
        fmt = fmt or MONEY_FORMAT
    elif isinstance(value, datetime):
        if value.tzinfo is not None:  # Excel has no time zones: local (Asia/Shanghai) wall time
            value = value.astimezone(SHANGHAI).replace(tzinfo=None)
        fmt = fmt or DATETIME_FORMAT
    elif isinstance(value, date):
        fmt = fmt or DATE_FORMAT
    elif not isinstance(value, (int, float)):
        return text_cell(ws, str(value))
    if fmt is None:
        return value
    cell = WriteOnlyCell(ws, value)
    cell.number_format = fmt
    return cell


def header_cell(ws, label: str) -> Any:
    cell = WriteOnlyCell(ws, None)
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", label)
    cell.data_type = "s"  # a header is text, whatever it starts with
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    return cell


def export_to(
    target: str | os.PathLike | BinaryIO,
    header: Sequence[str | ExportColumn],
    rows: Iterable[Sequence[Any]],
    *,
    title: str = "Sheet1",
) -> int:
    """Write ``rows`` under ``header`` to a path or a binary file object; returns the rows written."""
    columns = [c if isinstance(c, ExportColumn) else ExportColumn(str(c)) for c in header]
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(safe_title(title))
    for number, column in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(number)].width = column.width or max(
            10, min(40, len(column.label) * 2 + 2)
        )
    ws.freeze_panes = "A2"
    ws.append([header_cell(ws, c.label) for c in columns])
    formats = [c.number_format for c in columns]
    count = 0
    for row in rows:
        ws.append([cell_value(ws, v, formats[i] if i < len(formats) else None) for i, v in enumerate(row)])
        count += 1
    workbook.save(target)
    return count


def export_bytes(
    header: Sequence[str | ExportColumn], rows: Iterable[Sequence[Any]], *, title: str = "Sheet1"
) -> bytes:
    buffer = io.BytesIO()
    export_to(buffer, header, rows, title=title)
    return buffer.getvalue()


_TITLE_BAD = str.maketrans({ch: "_" for ch in "[]:*?/\\"})


def safe_title(title: str) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of []:*?/\\, not starting with a quote."""
    return (title.translate(_TITLE_BAD).strip("'") or "Sheet1")[:31]
