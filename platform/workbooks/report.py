"""The error report: the failed rows back in the template's layout, ready to fix and upload again.

Each failed row keeps its cells as read; the bad cells are coloured and carry the message as a
comment, and a 错误原因 column after the template's columns says everything wrong with the row
(the upload ignores it as an extra column). A second sheet sums up the file: rows read and valid,
and the file-level problems and notices.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook

from shebao.platform.regions.api import Region
from shebao.platform.regions.registry import registry
from shebao.platform.workbooks.cells import NO_VALUE
from shebao.platform.workbooks.export import text_cell
from shebao.platform.workbooks.layout import Layout, template_layout
from shebao.platform.workbooks.result import ReadResult, RowResult
from shebao.platform.workbooks.sheet import DataSheet, SheetColumn, add_lists, list_names, sheet_columns

REASON_LABEL = "错误原因"
SUMMARY_TITLE = "导入结果"


def error_report(result: ReadResult, region: Region | None = None, *, lang: str = "zh") -> bytes:
    """The failed rows of ``result`` as a workbook in the template's layout, with the reasons."""
    region = region or registry().get(result.region_code)
    shape = template_layout(region, result.kind, agency_wide=result.agency_wide)
    columns = sheet_columns(shape, list_names(shape))
    reason = SheetColumn(REASON_LABEL if lang != "en" else "Reason", 60, info=True, key=None)
    workbook = Workbook(write_only=True)
    failed = result.failed_rows
    sheet = DataSheet(workbook, shape.title_zh, [*columns, reason], len(failed) + 1000)
    index = {c.key: i for i, c in enumerate(columns)}
    for row in failed:
        values = [_shown(shape, row, c.key) for c in columns]
        marks: dict[int, list[str]] = {}
        for p in row.problems:
            if p.key in index:
                marks.setdefault(index[p.key], []).append(p.message(lang))
        sheet.append([*values, _reasons(row, lang)], {i: "\n".join(m) for i, m in marks.items()})
    _summary(workbook, result, lang)
    add_lists(workbook, shape)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _shown(shape: Layout, row: RowResult, key: str | None) -> Any:
    """The cell as the operator left it; for a row whose cells were not kept, its values as typed."""
    if key is None:
        return None
    if row.cells is not None:
        value = row.cells.get(key)
        return None if value is NO_VALUE else str(value) if isinstance(value, str) else value
    if key == "name":
        return row.name
    if key == "company":
        return row.company
    value = row.values.get(key)
    column = shape.column(key)
    if value is not None and column is not None and column.coded:
        coded = shape.region.coded_list(column.coded)
        found = coded.get(value) if coded is not None else None
        return found.label_zh if found is not None else value
    return value


def _reasons(row: RowResult, lang: str) -> str:
    head = f"第 {row.row} 行" if lang != "en" else f"Row {row.row}"
    parts = [f"{p.column}：{p.message(lang)}" if p.column else p.message(lang) for p in row.problems]
    return f"{head}：" + "；".join(parts)


def _summary(workbook, result: ReadResult, lang: str) -> None:
    ws = workbook.create_sheet(SUMMARY_TITLE)
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 90
    s = result.summary
    lines = [
        ("文件", result.filename),
        ("工作表", result.sheet or "-"),
        ("读取行数", s.rows_read),
        ("有效行数", s.rows_valid),
        ("失败行数", s.rows_failed),
        ("人数", s.head_count),
        ("申报工资合计", s.total_wage),
    ]
    for label, value in lines:
        ws.append([label, text_cell(ws, value) if isinstance(value, str) else value])
    for label, items in (("文件问题", result.problems), ("提示", result.notices)):
        for problem in items:
            ws.append([label, text_cell(ws, problem.message(lang))])
