"""Templates and rosters: the region's columns, marks, drop-downs, text formats; and they read back."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.regions.registry import registry
from shebao.platform.workbooks import read_workbook, roster_workbook, template_workbook
from shebao.platform.workbooks.layout import template_layout

KINDS = [DeclarationKind.ADD, DeclarationKind.STOP, DeclarationKind.BASE_CHANGE, DeclarationKind.BACK_PAYMENT]
TODAY = date(2026, 11, 20)


def regions_and_kinds():
    return [(code, kind) for code in registry().codes for kind in KINDS if registry().get(code).template(kind)]


@pytest.mark.parametrize(("code", "kind"), regions_and_kinds())
def test_every_region_template_has_its_columns_marks_and_lists(code, kind):
    region = registry().get(code)
    template = region.template(kind)
    wb = load_workbook(io.BytesIO(template_workbook(region, kind)))
    data = wb.worksheets[0]
    assert data.title == template.title_zh[:31]
    assert wb.sheetnames[1] == "说明"
    headers = [c.value for c in data[1]]
    shape = template_layout(region, kind)
    assert [h.lstrip("*") for h in headers] == [c.label_zh for c in template.columns]
    for header, column in zip(headers, shape.columns, strict=True):
        assert header.startswith("*") == column.required
        assert data[f"{data.cell(1, shape.columns.index(column) + 1).column_letter}1"].font.b
    assert data.freeze_panes == "A2"
    letters = {c.key: data.cell(1, i + 1).column_letter for i, c in enumerate(shape.columns)}
    assert data.column_dimensions[letters["id_number"]].number_format == "@"
    if "monthly_base" in letters:
        assert data.column_dimensions[letters["monthly_base"]].number_format == "0.00"
    coded = [c for c in shape.columns if c.coded]
    validations = {str(v.sqref).split(":")[0]: v for v in data.data_validations.dataValidation}
    for column in coded:
        validation = validations[f"{letters[column.key]}2"]
        assert validation.type == "list" and validation.showErrorMessage
        name = validation.formula1
        target = wb.defined_names[name].attr_text
        lists = wb["代码表"]
        assert lists.sheet_state == "hidden"
        cells = [c.value for row in lists[target.split("!")[1].replace("$", "")] for c in row]
        assert cells == [v.label_zh for v in region.coded_list(column.coded).values]
    if not coded:
        assert "代码表" not in wb.sheetnames


@pytest.mark.parametrize(("code", "kind"), regions_and_kinds())
def test_the_example_row_of_every_template_is_a_valid_row(code, kind):
    """The instructions' example, typed into the data sheet, passes the region's own checks."""
    region = registry().get(code)
    wb = load_workbook(io.BytesIO(template_workbook(region, kind)))
    notes = wb["说明"]
    rows = list(notes.iter_rows(values_only=True))
    header_at = max(
        i
        for i, r in enumerate(rows)
        if r and r[0] and str(r[0]).lstrip("*") == template_layout(region, kind).columns[0].label
    )
    wb.worksheets[0].append(list(rows[header_at + 1]))
    buffer = io.BytesIO()
    wb.save(buffer)
    result = read_workbook(buffer.getvalue(), "t.xlsx", region, kind, today=TODAY)
    assert not result.rejected, result.problems
    assert result.rows[0].valid, [(p.column, p.message()) for p in result.rows[0].problems]


def test_the_id_column_keeps_a_final_x():
    wb = load_workbook(io.BytesIO(template_workbook("guiyang", "add")))
    ws = wb.worksheets[0]
    ws.append(["52010219891111337X", "张三", "本市城镇", "合同制", "2026-11", 6000])
    buffer = io.BytesIO()
    wb.save(buffer)
    result = read_workbook(buffer.getvalue(), "t.xlsx", "guiyang", "add", today=TODAY)
    assert result.rows[0].values["id_number"] == "52010219891111337X"


def test_the_agency_wide_template_leads_with_the_company():
    wb = load_workbook(io.BytesIO(template_workbook("tianjin", "add", agency_wide=True)))
    headers = [c.value for c in wb.worksheets[0][1]]
    assert headers[0] == "*参保单位"
    assert wb.worksheets[0].column_dimensions["A"].number_format == "@"
    notes = [r[0] for r in wb["说明"].iter_rows(values_only=True) if r and r[0]]
    assert any("统一社会信用代码" in str(n) for n in notes)


def test_a_region_without_the_kind_has_no_template():
    with pytest.raises(Exception) as err:
        template_workbook("tianjin", "rollback")
    assert err.value.code is ErrorCode.WORKBOOK_NO_TEMPLATE


def test_the_roster_is_prefilled_and_reads_back_after_filling_the_wage():
    people = [
        {"id_number": "511102199006061526", "name": "张三", "current_base": Decimal("4800.00")},
        {"id_number": "51110219900606150X", "name": "李四", "current_base": Decimal("5200.50")},
    ]
    data = roster_workbook("leshan", people, prefill={"change_month": Month(2027, 7)})
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == ["*身份证号码", "姓名", "*申报年月", "当前缴费基数", "*申报工资"]
    assert [c.value for c in ws[3]] == ["51110219900606150X", "李四", "2027-07", 5200.5, None]
    assert ws["A3"].data_type == "s" and ws["A3"].number_format == "@"
    assert ws["D3"].number_format == "0.00"
    ws["E2"] = 5000
    ws["E3"] = "5300.00"
    buffer = io.BytesIO()
    wb.save(buffer)
    result = read_workbook(buffer.getvalue(), "roster.xlsx", "leshan", "base_change", today=TODAY)
    assert not result.rejected and not [n for n in result.notices if n.code is ErrorCode.WORKBOOK_EXTRA_COLUMNS]
    assert [r.values["monthly_base"] for r in result.rows] == [Decimal("5000.00"), Decimal("5300.00")]
    assert result.summary.head_count == 2 and result.summary.total_wage == Decimal("10300.00")
    assert [r.name for r in result.rows] == ["张三", "李四"]


def test_a_roster_row_left_unfilled_is_required():
    data = roster_workbook(
        "leshan", [{"id_number": "511102199006061526", "name": "张三"}], prefill={"change_month": "2027-07"}
    )
    result = read_workbook(data, "roster.xlsx", "leshan", "base_change", today=TODAY)
    (problem,) = result.rows[0].problems
    assert (problem.code, problem.column) == (ErrorCode.REQUIRED, "申报工资")
