"""The data sheet of a template-shaped workbook, shared by templates, rosters and error reports.

Header on row 1, frozen; required headers starred and coloured; ID, month and other text columns
formatted as text (@) so Excel neither drops an ID's X nor turns 2026-11 into a date; amounts as
0.00; coded columns as drop-down lists of the region's labels, kept on a hidden sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from shebao.platform.core.month import Month
from shebao.platform.workbooks.export import MONEY_FORMAT, cell_value, safe_title, text_cell
from shebao.platform.workbooks.layout import LISTS_TITLE, Column, Layout

REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")  # orange: must be filled
OPTIONAL_FILL = PatternFill("solid", fgColor="EDEDED")
INFO_FILL = PatternFill("solid", fgColor="DDEBF7")  # blue: for information, not imported
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")  # red: a bad cell in an error report
REQUIRED_FONT = Font(bold=True, color="C00000")
HEADER_FONT = Font(bold=True)
THIN = Side(style="thin", color="A6A6A6")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
AUTHOR = "Shebao"


@dataclass(frozen=True)
class SheetColumn:
    header: str
    width: float
    text: bool = True  # formatted as text (@); otherwise an amount (0.00)
    required: bool = False
    info: bool = False  # written for the operator, ignored on import
    list_name: str | None = None  # the defined name of its drop-down values
    comment: str = ""
    key: str | None = None


def _width(column: Column) -> float:
    if column.key in ("id_number", "company"):
        return 24
    if column.coded:
        return 20
    return max(12, len(column.label) * 2 + 4)


def sheet_columns(shape: Layout, lists: dict[str, str]) -> list[SheetColumn]:
    return [
        SheetColumn(
            header=shape.header(c),
            width=_width(c),
            text=c.is_text,
            required=c.required,
            list_name=lists.get(c.coded or ""),
            comment=c.hint,
            key=c.key,
        )
        for c in shape.columns
    ]


def _coded_lists(shape: Layout):
    found = (shape.region.coded_list(c.coded) for c in shape.columns if c.coded)
    return [c for c in found if c is not None]


def list_names(shape: Layout) -> dict[str, str]:
    """The defined name behind each coded list's drop-down (written by :func:`add_lists`)."""
    return {c.name: f"list_{c.name}" for c in _coded_lists(shape)}


def add_lists(workbook, shape: Layout) -> None:
    """The hidden sheet of coded values (the labels operators pick), one column per list."""
    coded = _coded_lists(shape)
    if not coded:
        return
    ws = workbook.create_sheet(LISTS_TITLE)
    ws.sheet_state = "hidden"
    for index, coded_list in enumerate(coded, 1):
        letter = get_column_letter(index)
        name = f"list_{coded_list.name}"
        ref = f"{quote_sheetname(LISTS_TITLE)}!${letter}$2:${letter}${len(coded_list.values) + 1}"
        workbook.defined_names[name] = DefinedName(name, attr_text=ref)
    ws.append([c.label_zh for c in coded])
    for i in range(max(len(c.values) for c in coded)):
        ws.append([c.values[i].label_zh if i < len(c.values) else None for c in coded])


class DataSheet:
    """A write-only sheet: set up the columns, then append rows of values by column."""

    def __init__(self, workbook, title: str, columns: Sequence[SheetColumn], validate_rows: int):
        self.ws = ws = workbook.create_sheet(safe_title(title))
        self.columns = list(columns)
        for number, column in enumerate(self.columns, 1):
            dim = ws.column_dimensions[get_column_letter(number)]
            dim.width = column.width
            dim.number_format = "@" if column.text else MONEY_FORMAT
        ws.freeze_panes = "A2"
        last = validate_rows + 1
        for number, column in enumerate(self.columns, 1):
            if column.list_name is None:
                continue
            validation = DataValidation(
                type="list",
                formula1=column.list_name,
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="请从下拉列表中选择",
                error="有下拉菜单的项目只能选择菜单中的项目，否则导入会失败",
            )
            letter = get_column_letter(number)
            validation.add(f"{letter}2:{letter}{last}")
            ws.data_validations.append(validation)
        ws.append([self._header(c) for c in self.columns])

    def _header(self, column: SheetColumn) -> Any:
        cell = WriteOnlyCell(self.ws, None)
        cell.value = column.header
        cell.data_type = "s"
        cell.font = REQUIRED_FONT if column.required else HEADER_FONT
        cell.fill = INFO_FILL if column.info else REQUIRED_FILL if column.required else OPTIONAL_FILL
        cell.border = BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        if column.comment:
            cell.comment = Comment(column.comment, AUTHOR, width=260, height=80)
        return cell

    def value(self, column: SheetColumn, value: Any) -> Any:
        """A value in ``column``'s type: text columns hold text (an ID stays '...X'), amounts numbers."""
        if value is None:
            return None
        if column.text and isinstance(value, (str, Month)):
            cell = WriteOnlyCell(self.ws, None)
            plain = text_cell(self.ws, str(value))
            if not isinstance(plain, str):
                return plain
            cell.value = plain
            cell.data_type = "s"
            cell.number_format = "@"
            return cell
        if isinstance(value, (Decimal, int, float)) and not column.text:
            return cell_value(self.ws, value, MONEY_FORMAT)
        return cell_value(self.ws, value)

    def append(self, values: Sequence[Any], marks: dict[int, str] | None = None) -> None:
        """One row; ``marks``: column index -> message, for the cells to colour and comment."""
        out = [self.value(c, v) for c, v in zip(self.columns, values, strict=False)]
        for index, message in (marks or {}).items():
            cell = out[index]
            if not isinstance(cell, Cell):
                plain, cell = cell, WriteOnlyCell(self.ws, None)
                cell.value = plain
            cell.fill = ERROR_FILL
            cell.comment = Comment(message, AUTHOR, width=300, height=120)
            out[index] = cell
        self.ws.append(out)
