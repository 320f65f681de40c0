"""The error report (fix and upload again) and streamed exports (no formula ever evaluated)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from openpyxl import Workbook, load_workbook
from stdnum.cn import ric

from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode
from shebao.platform.workbooks import ExportColumn, error_report, export_bytes, export_to, read_workbook

TODAY = date(2026, 11, 20)
HEADER = ["证件号码", "姓名", "户口性质", "用工范围", "参保年月", "申报工资", "联系电话"]


def rid(seq: int) -> str:
    first = f"12010119900307{seq:03d}"
    return first + ric.calc_check_digit(first + "0")


def upload(rows, text_cells=()) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    for ref in text_cells:  # a string cell, as a spreadsheet saves text that only looks like a formula
        ws[ref].data_type = "s"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def read(data: bytes):
    return read_workbook(data, "upload.xlsx", "tianjin", "add", today=TODAY)


def test_the_error_report_gives_back_failed_rows_marked_and_reads_again():
    rows = [
        [rid(1), "张三", "本市城镇", "合同制", "2026-11", 6000, None],
        [rid(2), "李四", "火星户口", "合同制", "2026/11", 3000, None],  # bad code, base below floor
        [110101199003071234, "王五", "本市城镇", "合同制", "2026-11", 6000, None],  # ID as a number
        [rid(4), '=HYPERLINK("http://x")', "本市城镇", "合同制", "2026-11", 3000, None],  # a text cell
    ]
    data = upload(rows, text_cells=["B5"])
    result = read(data)
    assert [r.row for r in result.failed_rows] == [3, 4, 5]
    assert result.rows[3].name == '=HYPERLINK("http://x")'
    report = error_report(result)
    assert "<f>" not in _sheet_xml(report)
    wb = load_workbook(io.BytesIO(report))
    ws = wb.worksheets[0]
    assert wb.sheetnames[:2] == ["单位职工增加", "导入结果"]
    assert [c.value for c in ws[1]][-1] == "错误原因"
    assert ws.max_row == 4
    assert ws["B4"].value == '=HYPERLINK("http://x")' and ws["B4"].data_type == "s"
    second = [c.value for c in ws[2]]
    assert second[:6] == [rid(2), "李四", "火星户口", "合同制", "2026/11", 3000]
    assert second[-1].startswith("第 3 行：户口性质：") and "申报工资" in second[-1]
    assert ws["C2"].fill.fgColor.rgb.endswith("FFC7CE") and "火星户口" in ws["C2"].comment.text
    assert ws["F2"].comment is not None and ws["A2"].comment is None
    assert ws["A2"].data_type == "s" and ws["A2"].number_format == "@"
    assert "身份证号码被存成了数字" in ws["A3"].comment.text
    summary = {r[0]: r[1] for r in wb["导入结果"].iter_rows(values_only=True)}
    assert (summary["读取行数"], summary["有效行数"], summary["失败行数"]) == (4, 1, 3)
    assert ws.data_validations.dataValidation  # the drop-downs are there again

    # Fixed and uploaded again: the reason column is an ignored extra, and nothing else is lost.
    ws["C2"] = "本市农业"
    ws["F2"] = 6000
    ws["A3"] = rid(3)
    buffer = io.BytesIO()
    wb.save(buffer)
    again = read(buffer.getvalue())
    assert not again.rejected and [r.valid for r in again.rows] == [True, True, False]
    extra = next(n for n in again.notices if n.code is ErrorCode.WORKBOOK_EXTRA_COLUMNS)
    assert extra.params["columns"] == "错误原因"
    assert again.rows[0].values["household_type"] == "local_rural"


def test_a_rejected_file_gives_a_report_of_its_problems():
    result = read(b"a,b\n1,2\n")
    wb = load_workbook(io.BytesIO(error_report(result, lang="en")))
    assert wb.worksheets[0].max_row == 1
    lines = [r[1] for r in wb["导入结果"].iter_rows(values_only=True)]
    assert any("CSV" in str(line) for line in lines)


def test_a_merged_cell_on_a_row_that_was_otherwise_valid_still_shows_its_values():
    def merged(wb):
        wb.active.merge_cells("C2:C3")

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append([rid(1), "张三", "本市城镇", "合同制", "2026-11", 6000, None])
    ws.append([rid(2), "李四", None, "合同制", "2026-11", 6000, None])
    merged(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    result = read(buffer.getvalue())
    report = load_workbook(io.BytesIO(error_report(result))).worksheets[0]
    assert [c.value for c in report[2]][:6] == [rid(1), "张三", "本市城镇", "合同制", "2026-11", 6000]


class Status(StrEnum):
    DRAFT = "draft"


def _sheet_xml(data: bytes) -> str:
    return zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()


def test_exports_never_write_a_formula():
    nasty = ["=1+1", "+SUM(A1:A2)", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://evil","x")', "#N/A"]
    data = export_bytes(["值"], ([v] for v in nasty))
    assert "<f>" not in _sheet_xml(data)
    ws = load_workbook(io.BytesIO(data)).active
    for row, value in enumerate(nasty, 2):
        cell = ws.cell(row, 1)
        # XML reads a raw CR back as LF (openpyxl writes it unescaped): the text is otherwise intact.
        assert cell.value == value.replace("\r", "\n") and cell.data_type == "s" and cell.quotePrefix
    # openpyxl's own behaviour, which this guards against: a plain string starting with = is a formula.
    wb = Workbook(write_only=True)
    plain = wb.create_sheet()
    plain.append(["=1+1"])
    buffer = io.BytesIO()
    wb.save(buffer)
    assert "<f>1+1</f>" in _sheet_xml(buffer.getvalue())


def test_exports_type_their_values():
    header = [ExportColumn("人员", width=30), "月份", "基数", "人数", "日期", "提交时间", "状态", "空"]
    row = [
        "张三",
        Month(2026, 11),
        Decimal("6000.50"),
        3,
        date(2026, 11, 1),
        datetime(2026, 11, 1, 16, 30, tzinfo=UTC),
        Status.DRAFT,
        None,
    ]
    ws = load_workbook(io.BytesIO(export_bytes(header, [row], title="花名册/2026"))).active
    assert ws.title == "花名册_2026"
    assert [c.value for c in ws[1]] == ["人员", "月份", "基数", "人数", "日期", "提交时间", "状态", "空"]
    values = [c.value for c in ws[2]]
    assert values[:4] == ["张三", "2026-11", 6000.5, 3]
    assert ws["B2"].data_type == "s"
    assert ws["C2"].number_format == "0.00"
    assert values[4] == datetime(2026, 11, 1) and ws["E2"].number_format == "yyyy-mm-dd"
    assert values[5] == datetime(2026, 11, 2, 0, 30)  # Asia/Shanghai wall time
    assert values[6] == "draft" and values[7] is None
    assert ws.freeze_panes == "A2" and ws.column_dimensions["A"].width == 30


def test_exports_strip_characters_xml_cannot_hold():
    ws = load_workbook(io.BytesIO(export_bytes(["名"], [["张\x00三\x0b"]]))).active
    assert ws["A2"].value == "张三"


def test_export_streams_to_a_path(tmp_path):
    target = tmp_path / "roster.xlsx"
    count = export_to(target, ["证件号码", "基数"], ((rid(i % 900), Decimal(i)) for i in range(5000)))
    assert count == 5000
    ws = load_workbook(target, read_only=True).active
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) == 5001 and rows[-1] == (rid(4999 % 900), 4999)
