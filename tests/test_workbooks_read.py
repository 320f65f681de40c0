"""Reading uploaded batch workbooks: headers, cells, rows, the region's checks, the summary."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils.datetime import to_excel
from stdnum.cn import ric

from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import DeclarationFacts, DeclarationKind, Violation
from shebao.platform.regions.registry import registry
from shebao.platform.regions.rules import check_declaration
from shebao.platform.workbooks import read_workbook, template_workbook

TODAY = date(2026, 11, 20)
HEADER = ["证件号码", "姓名", "户口性质", "用工范围", "参保年月", "申报工资", "联系电话"]


def rid(seq: int, area: str = "120101", birth: str = "19900307") -> str:
    """A valid resident ID number: ``seq`` is the three-digit sequence (odd: a man)."""
    first = f"{area}{birth}{seq:03d}"
    return first + ric.calc_check_digit(first + "0")  # stdnum wants a placeholder check digit


def person(seq: int, **over) -> list:
    row = {
        "id": rid(seq),
        "name": f"员工{seq}",
        "household": "本市城镇",
        "form": "合同制",
        "month": "2026-11",
        "base": "6000.00",
        "phone": "13800000000",
    }
    row.update(over)
    return list(row.values())


def xlsx(*sheets, setup=None) -> bytes:
    """A workbook of ``(title, rows)`` or ``(title, rows, state)`` sheets, written by openpyxl."""
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in sheets:
        title, rows, *state = sheet
        ws = wb.create_sheet(title)
        if state:
            ws.sheet_state = state[0]
        for row in rows:
            ws.append(row)
    if setup is not None:
        setup(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def read(data: bytes, kind="add", region="tianjin", **kw):
    return read_workbook(data, "upload.xlsx", region, kind, today=TODAY, **kw)


def codes(result) -> dict[int, list[str]]:
    return {r.row: [str(p.code) for p in r.problems] for r in result.rows if r.problems}


def test_a_filled_in_template_reads_back_with_a_summary():
    wb = load_workbook(io.BytesIO(template_workbook("tianjin", "add")))
    ws = wb.worksheets[0]
    ws.append(person(1))
    ws.append(person(2, household="外埠农业", form="劳务派遣", base="7000.5"))
    buffer = io.BytesIO()
    wb.save(buffer)
    result = read(buffer.getvalue())
    assert not result.rejected, result.problems
    assert result.sheet == "单位职工增加" and result.header_row == 1
    assert [r.row for r in result.rows] == [2, 3]
    first, second = result.rows
    assert first.valid and second.valid
    assert first.values == {
        "id_number": rid(1),
        "name": "员工1",
        "household_type": "local_urban",
        "employment_form": "contract",
        "start_month": Month(2026, 11),
        "monthly_base": Decimal("6000.00"),
        "phone": "13800000000",
    }
    assert (first.gender, first.birth_date) == ("male", date(1990, 3, 7))
    assert second.gender == "female"
    assert second.values["household_type"] == "nonlocal_rural"
    summary = result.summary
    assert (summary.rows_read, summary.rows_valid, summary.head_count) == (2, 2, 2)
    assert summary.total_wage == Decimal("13000.50")
    assert result.columns["id_number"] == "A"
    notices = {n.code for n in result.notices}
    assert ErrorCode.WORKBOOK_SHEET_READ in notices
    assert ErrorCode.WORKBOOK_REGION_NOTICE in notices  # Tianjin: register the employment first
    outsider = next(n for n in result.notices if "外省户籍" in n.params.get("text", ""))
    assert outsider.params["rows"] == 1
    assert len(result.sha256) == 64


def test_headers_renamed_reordered_with_extra_columns_and_stars():
    header = ["序号", " 姓 名 ", "＊身份证号码", "缴费基数(元)", "户籍类型", "用工形式", "参保年月（YYYY-MM）", "备注"]
    row = [1, "张三", rid(1), 6000, "本市城镇", "合同制", "2026-11", "新入职"]
    result = read(xlsx(("Sheet1", [header, row])))
    assert not result.rejected
    assert result.rows[0].valid, result.rows[0].problems
    assert result.rows[0].values["id_number"] == rid(1)
    assert result.columns == {
        "name": "B",
        "id_number": "C",
        "monthly_base": "D",
        "household_type": "E",
        "employment_form": "F",
        "start_month": "G",
    }
    extra = next(n for n in result.notices if n.code is ErrorCode.WORKBOOK_EXTRA_COLUMNS)
    assert extra.params["columns"] == "备注"  # 序号 is ignored silently
    assert "备注" in extra.message("en")


def test_missing_required_columns_reject_the_file():
    result = read(xlsx(("Sheet1", [["证件号码", "姓名", "联系电话"], [rid(1), "张三", "13800000000"]])))
    assert result.rejected and not result.rows and not result.valid_rows
    (problem,) = result.problems
    assert problem.code is ErrorCode.WORKBOOK_MISSING_COLUMNS
    assert problem.params["columns"] == "户口性质、用工范围、参保年月、申报工资"


def test_a_missing_optional_column_is_fine():
    header = HEADER[:-1]
    result = read(xlsx(("Sheet1", [header, person(1)[:-1]])))
    assert not result.rejected and result.rows[0].valid


def test_a_column_given_twice_rejects_the_file():
    header = [*HEADER, "缴费基数"]
    result = read(xlsx(("Sheet1", [header, [*person(1), 7000]])))
    (problem,) = result.problems
    assert problem.code is ErrorCode.WORKBOOK_DUPLICATE_COLUMN
    assert (problem.params["first"], problem.params["second"]) == ("F", "H")


def test_the_header_may_sit_under_a_merged_title():
    def merge(wb):
        wb.active.merge_cells("A1:G1")

    result = read(xlsx(("Sheet1", [["天津市单位职工增加表"], HEADER, person(1)]), setup=merge))
    assert result.header_row == 2 and not result.rejected
    assert result.rows[0].row == 3 and result.rows[0].valid


def test_hidden_sheets_are_skipped_and_the_sheet_read_is_named():
    result = read(
        xlsx(
            ("old", [HEADER, person(9, base="1")], "hidden"),
            ("说明", [HEADER, person(8)]),  # the instructions sheet is never data
            ("本月增员", [HEADER, person(1)]),
        )
    )
    assert result.sheet == "本月增员"
    assert [r.values["id_number"] for r in result.rows] == [rid(1)]
    read_notice = next(n for n in result.notices if n.code is ErrorCode.WORKBOOK_SHEET_READ)
    assert read_notice.message() == "读取的是工作表「本月增员」（第 1 行为表头）"


def test_data_only_on_a_hidden_sheet_is_no_header_and_says_so():
    result = read(xlsx(("Sheet1", [["hello"]]), ("data", [HEADER, person(1)], "hidden")))
    (problem,) = result.problems
    assert problem.code is ErrorCode.WORKBOOK_NO_HEADER
    assert "data" in problem.params["sheets"] and "隐藏" in problem.params["sheets"]
    assert "证件号码" in problem.message()


def test_empty_sheet_header_only_and_no_header():
    assert read(xlsx(("Sheet1", []))).problems[0].code is ErrorCode.WORKBOOK_EMPTY
    assert read(xlsx(("Sheet1", [HEADER]))).problems[0].code is ErrorCode.WORKBOOK_NO_ROWS
    no_header = read(xlsx(("Sheet1", [["a", "b"], [1, 2]])))
    assert no_header.problems[0].code is ErrorCode.WORKBOOK_NO_HEADER


def test_each_problem_names_row_column_letter_and_code():
    rows = [
        HEADER,
        person(1),
        person(2, id=rid(2)[:-1] + ("0" if rid(2)[-1] != "0" else "1")),  # wrong check digit
        person(3, id=110101199003071234),  # typed as a number
        person(4, month="2026-13"),
        person(5, base=3000),  # below Tianjin's floor
        person(6, household="火星户口"),
        person(7, name=None, form=None),
        person(8, base="6000.123"),
    ]
    result = read(xlsx(("Sheet1", rows)))
    assert not result.rejected
    assert codes(result) == {
        3: ["INVALID_ID_NUMBER"],
        4: ["WORKBOOK_ID_AS_NUMBER"],  # not also "required"
        5: ["INVALID_MONTH"],
        6: ["BASE_BELOW_FLOOR"],
        7: ["INVALID_CODE"],
        8: ["REQUIRED", "REQUIRED"],
        9: ["INVALID_AMOUNT"],
    }
    by_row = {r.row: r for r in result.rows}
    number = by_row[4].problems[0]
    assert (number.row, number.column, number.key, number.letter) == (4, "证件号码", "id_number", "A")
    assert "1.10101E+17" in number.message() or "110101199003071234" in number.message()
    floor = by_row[6].problems[0]
    assert (floor.column, floor.letter, floor.rule) == ("申报工资", "F", "BASE_BELOW_FLOOR")
    assert "5013" in floor.message() and "floor" in floor.message("en")
    assert [p.column for p in by_row[8].problems] == ["姓名", "用工范围"]
    assert result.summary.rows_read == 8 and result.summary.rows_valid == 1


def test_the_same_problems_as_a_single_declaration():
    values = {
        "id_number": rid(1),
        "name": "张三",
        "household_type": "local_urban",
        "employment_form": "contract",
        "start_month": Month(2026, 11),
        "monthly_base": Decimal("3000.00"),
    }
    facts = DeclarationFacts(DeclarationKind.ADD, "tianjin", values, TODAY, ever_enrolled_here=True)
    single = check_declaration(registry().book("tianjin"), facts, registry().plugin_rules).problems
    result = read(xlsx(("Sheet1", [HEADER[:-1], person(1, name="张三", base="3000")[:-1]])))
    assert [p.problem for p in result.rows[0].problems] == single


def test_plugin_rules_run_on_every_row():
    def rules(region, facts):
        if facts.values.get("employment_form") == "part_time":
            return [Violation("test.part_time", "employmentForm", "非全日制不能批量导入", "No part-time in batches")]
        return []

    result = read(xlsx(("Sheet1", [HEADER, person(1), person(2, form="非全日制")])), plugin_rules=rules)
    (problem,) = result.rows[1].problems
    assert (problem.code, problem.rule, problem.column) == (ErrorCode.REGION_RULE, "test.part_time", "用工范围")
    assert problem.message("en") == "No part-time in batches"


def test_duplicate_rows_are_refused_on_the_second():
    result = read(xlsx(("Sheet1", [HEADER, person(1), person(2), person(1, name="又一次")])))
    assert codes(result) == {4: ["WORKBOOK_DUPLICATE_ROW"]}
    problem = result.rows[2].problems[0]
    assert problem.params == {"first": 2, "id_number": rid(1)}
    assert "第 2 行" in problem.message()
    assert result.summary.head_count == 2


def test_back_payments_may_repeat_a_person_for_other_months_only():
    header = ["证件号码", "姓名", "开始月份", "终止月份", "工资"]
    rows = [
        header,
        [rid(1), "张三", "2026-02", "2026-03", 6000],
        [rid(1), "张三", "2026-05", "2026-06", 6000],
        [rid(1), "张三", "2026-03", "2026-04", 6000],
    ]
    result = read(xlsx(("Sheet1", rows)), kind="back_payment")
    assert codes(result) == {4: ["WORKBOOK_DUPLICATE_ROW"]}


def _patch(data: bytes, part: str, old: str, new: str) -> bytes:
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == part:
                text = body.decode()
                assert old in text, text[:500]
                body = text.replace(old, new).encode()
            dst.writestr(info.filename, body)
    return out.getvalue()


def test_formulas_give_their_cached_value_or_a_clear_problem():
    def formulas(wb):
        ws = wb.active
        ws["F2"] = "=5000+1000"
        ws["F3"] = "=5000+1000"
        ws["F4"] = "=1/0"

    data = xlsx(("Sheet1", [HEADER, person(1), person(2), person(3)]), setup=formulas)
    sheet = "xl/worksheets/sheet1.xml"
    # Excel saves the computed value beside the formula; openpyxl writes none: add them by hand.
    data = _patch(data, sheet, '<c r="F2"><f>5000+1000</f><v /></c>', '<c r="F2"><f>5000+1000</f><v>6000</v></c>')
    data = _patch(data, sheet, '<c r="F4"><f>1/0</f><v /></c>', '<c r="F4" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
    result = read(data)
    assert result.rows[0].valid and result.rows[0].values["monthly_base"] == Decimal("6000.00")
    assert codes(result) == {3: ["WORKBOOK_FORMULA_NO_VALUE"], 4: ["WORKBOOK_ERROR_VALUE"]}
    assert result.rows[1].problems[0].params["cell"] == "F3"
    assert "F3" in result.rows[1].problems[0].message()
    assert "#DIV/0!" in result.rows[2].problems[0].message()


def test_merged_cells_in_the_data_are_marked_on_every_row_they_cover():
    def merge(wb):
        wb.active.merge_cells("C3:C4")

    data = xlsx(("Sheet1", [HEADER, person(1), person(2), person(3, household=None), person(4)]), setup=merge)
    result = read(data)
    assert codes(result) == {
        3: ["WORKBOOK_MERGED_CELL"],
        4: ["REQUIRED", "WORKBOOK_MERGED_CELL"],
    }
    merged = result.rows[2].problems[1]
    assert merged.params["range"] == "C3:C4" and merged.column == "户口性质"


def test_months_as_dates_serials_and_text_and_full_width_cells():
    rows = [
        HEADER,
        person(1, month=datetime(2026, 11, 1)),
        person(2, month=int(to_excel(datetime(2026, 11, 1)))),
        person(3, month="2026年11月"),
        person(4, month="202611"),
        person(5, month="２０２６／１１", base="６，０００．００", id=" " + rid(5).replace("1", "１") + "　"),
    ]
    result = read(xlsx(("Sheet1", rows)))
    assert not codes(result)
    assert {r.values["start_month"] for r in result.rows} == {Month(2026, 11)}
    assert result.rows[4].values["id_number"] == rid(5)
    assert result.rows[4].values["monthly_base"] == Decimal("6000.00")


def test_blank_rows_are_skipped_and_a_long_blank_run_ends_the_data():
    def styled_blanks(wb):
        ws = wb.active
        for row in range(3, 12):
            ws.cell(row, 1).number_format = "@"  # present in the XML, but empty
        ws.append(person(2))

    data = xlsx(("Sheet1", [HEADER, person(1)]), setup=styled_blanks)
    from shebao.platform.workbooks import Limits

    assert [r.row for r in read(data).rows] == [2, 12]
    short = read(data, limits=Limits(blank_tail=5))
    assert [r.row for r in short.rows] == [2]
    tail = next(n for n in short.notices if n.code is ErrorCode.WORKBOOK_BLANK_TAIL)
    assert tail.params == {"row": 2, "count": 5}


def test_agency_wide_files_carry_the_company():
    shape_header = ["参保单位", *HEADER]
    rows = [
        shape_header,
        ["91120000MA05K0P977", *person(1)],
        ["天津某某科技有限公司", *person(2)],
        ["91120000ma05k0p977", *person(3)],  # lowercase: read as the credit code
        ["91120000MA05K0P970", *person(4)],  # a credit code's shape with a wrong check digit
        [None, *person(5)],
    ]
    result = read(xlsx(("Sheet1", rows)), agency_wide=True)
    assert [r.company for r in result.rows[:3]] == ["91120000MA05K0P977", "天津某某科技有限公司", "91120000MA05K0P977"]
    assert codes(result) == {5: ["INVALID_CREDIT_CODE"], 6: ["REQUIRED"]}
    assert result.rows[4].problems[0].column == "参保单位"
    assert "company" not in result.rows[0].values  # the importer resolves it


def test_stop_rows_take_coded_reasons_and_keep_the_name_aside():
    header = ["身份证号码", "姓名", "变更日期", "变更原因"]
    rows = [
        header,
        [rid(1, "511102"), "张三", "2026-11", "离职（解除或终止劳动关系）"],
        [rid(2, "511102"), "李四", "2026-11", "退休"],
    ]
    result = read(xlsx(("Sheet1", rows)), kind="stop", region="leshan")
    assert not codes(result)
    assert result.rows[0].values == {
        "id_number": rid(1, "511102"),
        "stop_month": Month(2026, 11),
        "stop_reason": "left_job",
    }
    assert result.rows[0].name == "张三"


def test_a_kind_without_a_template_is_the_callers_error():
    with pytest.raises(ShebaoError) as err:
        read(xlsx(("Sheet1", [HEADER])), kind="rollback")
    assert err.value.code is ErrorCode.WORKBOOK_NO_TEMPLATE


def test_the_digest_identifies_the_file():
    data = xlsx(("Sheet1", [HEADER, person(1)]))
    assert read(data).sha256 == read(data, region=registry().get("tianjin")).sha256


def test_the_importer_maps_its_database_problems_to_columns():
    """What the import service does with the facts only the database knows: same rules, same columns."""
    from shebao.platform.regions.api import OtherEnrollment
    from shebao.platform.workbooks import RowChecker, template_layout

    result = read(xlsx(("Sheet1", [HEADER, person(1)])))
    row = result.rows[0]
    facts = DeclarationFacts(
        DeclarationKind.ADD,
        "tianjin",
        row.values,
        TODAY,
        other_enrollments=(OtherEnrollment("某某公司", "tianjin", Month(2025, 1)),),
    )
    found = check_declaration(registry().book("tianjin"), facts, registry().plugin_rules).problems
    checker = RowChecker(template_layout(registry().get("tianjin"), "add"), registry().book("tianjin"), TODAY)
    (problem,) = checker.row_problems(row.row, found, result.columns)
    assert (problem.code, problem.column, problem.letter, problem.row) == (
        ErrorCode.INSURED_ELSEWHERE,
        "证件号码",
        "A",
        2,
    )
    assert "某某公司" in problem.message()
