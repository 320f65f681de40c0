"""Cell values as operators leave them: months, IDs, amounts, text; and header matching."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904, to_excel

from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode
from shebao.platform.regions.registry import registry
from shebao.platform.workbooks import cells
from shebao.platform.workbooks.layout import header_text, template_layout


@pytest.mark.parametrize(
    "value",
    [
        "2026-11",
        "2026/11",
        "2026.11",
        "202611",
        "2026年11月",
        "2026年 11 月",
        "２０２６－１１",  # full-width
        " 2026-11 ",
        "2026-11-01",
        "2026/11/15 00:00:00",
        "2026年11月5日",
        "20261101",
        202611,
        202611.0,
        datetime(2026, 11, 1),
        date(2026, 11, 30),
        int(to_excel(datetime(2026, 11, 1))),
        float(to_excel(datetime(2026, 11, 1))),
    ],
)
def test_months_in_every_usual_form(value):
    assert cells.month(value) == Month(2026, 11)


def test_serial_month_follows_the_workbook_epoch():
    serial = int(to_excel(datetime(2026, 11, 1), CALENDAR_MAC_1904))
    assert cells.month(serial, CALENDAR_MAC_1904) == Month(2026, 11)


@pytest.mark.parametrize("value", ["2026-13", "11/2026", "next month", "2026", 2026.11, 13, "202613", "0001-01"])
def test_bad_months_are_refused_with_the_value(value):
    with pytest.raises(cells.CellProblem) as err:
        cells.month(value)
    assert err.value.code is ErrorCode.INVALID_MONTH
    assert err.value.params["value"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120101199003072668", "120101199003072668"),
        (" 120101 19900307 2668 ", "120101199003072668"),
        ("１２０１０１１９９００３０７２６６８", "120101199003072668"),  # full-width digits
        ("52010219891111337x", "52010219891111337X"),
        ("52010219891111337ｘ", "52010219891111337X"),
        (None, None),
        ("  ", None),
    ],
)
def test_id_numbers_are_normalised(value, expected):
    assert cells.id_number(value) == expected


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1.10105199003073e17, "1.10105E+17"),
        (110105199003072668, "110105199003072668"),
        ("1.10105E+17", "1.10105E+17"),
        ("110105199003072668.0", "110105199003072668.0"),
    ],
)
def test_an_id_number_that_went_through_a_number_is_refused(value, shown):
    with pytest.raises(cells.CellProblem) as err:
        cells.id_number(value)
    assert err.value.code is ErrorCode.WORKBOOK_ID_AS_NUMBER
    assert err.value.params["value"] == shown


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (6000, Decimal("6000")),
        (6000.5, Decimal("6000.50")),
        (0.1 + 0.2, Decimal("0.30")),  # a formula's floating point, not what anyone typed
        (5500.000000000001, Decimal("5500.00")),
        ("6,000.00", "6000.00"),
        ("６０００．５０", "6000.50"),
        ("6000元", "6000"),
        ("¥6000", "6000"),
        ("abc", "abc"),
        (None, None),
    ],
)
def test_amounts(value, expected):
    assert cells.amount(value) == expected


def test_an_amount_with_real_thousandths_is_kept_for_parse_base_to_refuse():
    assert cells.amount(6000.123) == Decimal("6000.123")


def test_text_is_folded_and_trimmed():
    assert cells.text("　张　三　") == "张 三"
    assert cells.text("ＡＢＣ  12") == "ABC 12"
    assert cells.text(13800000000.0) == "13800000000"
    assert cells.text(True) == "是"
    assert cells.text("") is None


def test_markers_become_cell_problems():
    with pytest.raises(cells.CellProblem) as err:
        cells.text(cells.NO_VALUE)
    assert err.value.code is ErrorCode.WORKBOOK_FORMULA_NO_VALUE
    with pytest.raises(cells.CellProblem) as err:
        cells.month(cells.CellError("#REF!"))
    assert err.value.code is ErrorCode.WORKBOOK_ERROR_VALUE
    assert err.value.params["value"] == "#REF!"


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("*证件号码", "id_number"),
        ("证件号码（必填）", "id_number"),
        (" 证件 号码 ", "id_number"),
        ("＊证件号码", "id_number"),
        ("身份证号码", "id_number"),
        ("公民身份号码", "id_number"),
        ("id_number", "id_number"),
        ("idNumber", "id_number"),
        ("ID Number", "id_number"),
        ("缴费基数", "monthly_base"),
        ("申报工资(元)", "monthly_base"),
        ("户籍类型", "household_type"),
        ("用工形式", "employment_form"),
        ("参保年月【YYYY-MM】", "start_month"),
        ("备注", None),
        ("当前缴费基数", None),
    ],
)
def test_headers_are_matched_by_label_key_or_alias(header, key):
    shape = template_layout(registry().get("tianjin"), "add")
    assert shape.match(header) == key


def test_an_alias_goes_to_the_column_the_kind_has():
    tianjin = registry().get("tianjin")
    assert template_layout(tianjin, "stop").match("变更年月") == "stop_month"
    assert template_layout(tianjin, "base_change").match("变更年月") == "change_month"


def test_coded_values_by_label_code_or_case():
    shape = template_layout(registry().get("tianjin"), "add")
    assert shape.code("household_type", cells.coded("本市城镇")) == "local_urban"
    assert shape.code("household_type", cells.coded("LOCAL_URBAN")) == "local_urban"
    assert shape.code("household_type", cells.coded("本市 城镇")) == "local_urban"
    assert shape.code("employment_form", cells.coded("Part-time")) == "part_time"
    assert shape.code("household_type", "火星") == "火星"  # unknown: left for the rule to refuse


def test_header_text_folds_brackets_stars_and_width():
    assert header_text("＊参保年月（YYYY-MM）") == "参保年月"
    assert header_text(None) == ""


def test_every_workbook_code_speaks_both_languages():
    from shebao.platform.errors import MESSAGES

    codes = [c for c in ErrorCode if c.name.startswith("WORKBOOK_")]
    assert len(codes) >= 20
    for code in codes:
        zh, en = MESSAGES[code]
        assert zh and en and zh != en
