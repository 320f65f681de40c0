"""Blank batch templates (报盘) per region and kind, and rosters pre-filled with a company's people.

A template has three sheets: the data sheet (first, so it opens there), the instructions (说明,
never read as data) and the hidden list of coded values behind the drop-downs. The roster is the
same data sheet filled with the people given (Leshan's 下载单位人员名单 → fill 申报工资 → upload),
with the current base beside the new one for information.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from shebao.platform.regions.api import DeclarationKind, Region
from shebao.platform.regions.registry import registry
from shebao.platform.workbooks.export import text_cell
from shebao.platform.workbooks.layout import INFO_LABELS, INSTRUCTIONS_TITLE, Layout, template_layout
from shebao.platform.workbooks.result import Limits
from shebao.platform.workbooks.sheet import DataSheet, SheetColumn, add_lists, list_names, sheet_columns

EXAMPLE_CREDIT_CODE = "91120000MA05K0P977"  # a well-formed code (check digit valid), not a real unit
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)


def _region(region: Region | str) -> Region:
    return registry().get(region) if isinstance(region, str) else region


def template_workbook(
    region: Region | str, kind: DeclarationKind | str, *, agency_wide: bool = False, limits: Limits | None = None
) -> bytes:
    """The region's empty batch workbook for ``kind`` (refused when the region has no such template)."""
    shape = template_layout(_region(region), kind, agency_wide=agency_wide)
    workbook = Workbook(write_only=True)
    rows = (limits or Limits()).max_rows
    DataSheet(workbook, shape.title_zh, sheet_columns(shape, list_names(shape)), rows)
    _instructions(workbook, shape, rows)
    add_lists(workbook, shape)
    return _save(workbook)


def roster_workbook(
    region: Region | str,
    people: Iterable[Mapping[str, Any]],
    *,
    kind: DeclarationKind | str = DeclarationKind.BASE_CHANGE,
    prefill: Mapping[str, Any] | None = None,
    agency_wide: bool = False,
    limits: Limits | None = None,
) -> bytes:
    """The template of ``kind`` filled with ``people``, one row each.

    A person is a mapping of column fields (``id_number``, ``name``, ``company`` for agency-wide
    files, ...) and ``current_base``, shown beside the base to declare and ignored on upload.
    ``prefill`` gives every row the same value where the person has none (``change_month``).
    """
    shape = template_layout(_region(region), kind, agency_wide=agency_wide)
    columns = sheet_columns(shape, list_names(shape))
    at = next((i for i, c in enumerate(columns) if c.key == "monthly_base"), None)
    if at is not None:
        label = INFO_LABELS["current_base"]
        columns.insert(
            at, SheetColumn(label, 14, text=False, info=True, comment="仅供参考，导入时忽略", key="current_base")
        )
    workbook = Workbook(write_only=True)
    rows = (limits or Limits()).max_rows
    sheet = DataSheet(workbook, shape.title_zh, columns, rows)
    prefill = prefill or {}
    for person in people:
        sheet.append([_pick(person, prefill, c.key) for c in columns])
    _instructions(workbook, shape, rows)
    add_lists(workbook, shape)
    return _save(workbook)


def _pick(person: Mapping[str, Any], prefill: Mapping[str, Any], key: str | None) -> Any:
    value = person.get(key) if key else None
    return prefill.get(key) if value is None and key else value


def _instructions(workbook, shape: Layout, rows: int) -> None:
    ws = workbook.create_sheet(INSTRUCTIONS_TITLE)
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 10
    ws.column_dimensions["C"].width = 60
    ws.column_dimensions["D"].width = 24
    region = shape.region
    title = ws_cell(ws, f"{region.name_zh}·{shape.title_zh}（{shape.title_en}）批量导入模板", TITLE_FONT)
    ws.append([title])
    ws.append([])
    notes = [
        f"1. 请在「{shape.title_zh}」工作表中填写，从第 2 行开始，每行一人；本页不会被导入。",
        "2. 带 * 的列（橙色表头）为必填项；表头请勿修改或删除，可以增加列（导入时忽略）。",
        "3. 有下拉菜单的项目只能选择菜单中的项目，否则导入会失败。",
        "4. 公民身份号码列已设为文本格式，请勿改为数字：数字格式会丢失末位 X 或后几位数字。",
        "5. 年月写作 2026-11（也可写 2026/11、202611、2026年11月）；金额以元为单位，最多两位小数。",
        "6. 性别和出生日期由公民身份号码自动生成，无需填写。",
        f"7. 每个文件最多 {rows} 行；请勿合并单元格，请勿使用公式（或先粘贴为数值）。",
        "8. 导入失败的行可下载“错误报告”，按“错误原因”修改后重新上传。",
    ]
    if shape.agency_wide:
        notes.append("9. 参保单位列填写统一社会信用代码（18 位）或单位全称，一个文件可以包含多个单位的人员。")
    for note in notes:
        ws.append([note])
    ws.append([])
    ws.append([ws_cell(ws, text, BOLD) for text in ("列名", "是否必填", "填写说明", "示例")])
    for column in shape.columns:
        hint = column.hint
        coded = region.coded_list(column.coded) if column.coded else None
        if coded is not None:
            hint = f"{hint}；可选：" + "、".join(v.label_zh for v in coded.values)
        ws.append([column.label, "是" if column.required else "否", hint, text_cell(ws, _example(column))])
    ws.append([])
    ws.append([ws_cell(ws, "示例行（仅供参考）", BOLD)])
    ws.append([shape.header(c) for c in shape.columns])
    ws.append([text_cell(ws, _example(c)) for c in shape.columns])


def _example(column) -> str:
    if column.key == "company":
        return EXAMPLE_CREDIT_CODE
    return column.example


def ws_cell(ws, value: str, font: Font):
    cell = WriteOnlyCell(ws, value)
    cell.font = font
    return cell


def _save(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
