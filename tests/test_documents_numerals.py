"""Amounts in Chinese capital numerals (大写金额), by the People's Bank of China's rules for bills."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from shebao.platform.documents.numerals import DIGITS, capital, rmb
from shebao.platform.errors import ErrorCode, ShebaoError

CASES = [
    # zero and under one yuan: no 元
    ("0", "零元整"),
    ("0.00", "零元整"),
    ("0.05", "伍分"),
    ("0.5", "伍角整"),
    ("0.50", "伍角整"),
    ("0.55", "伍角伍分"),
    # units; 壹拾 keeps its 壹
    ("1", "壹元整"),
    ("10", "壹拾元整"),
    ("16", "壹拾陆元整"),
    ("20", "贰拾元整"),
    ("110", "壹佰壹拾元整"),
    ("100", "壹佰元整"),
    ("1000", "壹仟元整"),
    # 角 and 分
    ("100.10", "壹佰元壹角整"),
    ("1.01", "壹元零壹分"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
    ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
    ("12345.67", "壹万贰仟叁佰肆拾伍元陆角柒分"),
    # zeros in the middle: one 零 however many, across 万
    ("101", "壹佰零壹元整"),
    ("1001", "壹仟零壹元整"),
    ("10010", "壹万零壹拾元整"),
    ("10001", "壹万零壹元整"),
    ("100001", "壹拾万零壹元整"),
    ("107000.53", "壹拾万零柒仟元伍角叁分"),
    ("1000000.01", "壹佰万元零壹分"),
    ("1010000", "壹佰零壹万元整"),
    ("10000000", "壹仟万元整"),
    ("12000800", "壹仟贰佰万零捌佰元整"),
    # 亿 and beyond
    ("100000000", "壹亿元整"),
    ("100000001", "壹亿零壹元整"),
    ("100010000", "壹亿零壹万元整"),
    ("1000010000", "壹拾亿零壹万元整"),
    ("110000000", "壹亿壹仟万元整"),
    ("123456789.12", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元壹角贰分"),
    ("1000000000000", "壹万亿元整"),
    ("10000000000000", "壹拾万亿元整"),
    ("1000100000000", "壹万零壹亿元整"),
    ("9999999999999999.99", "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
]


@pytest.mark.parametrize(("amount", "expected"), CASES)
def test_capital(amount, expected):
    assert capital(Decimal(amount)) == expected


def test_rmb_and_int():
    assert rmb(Decimal("12345.67")) == "人民币壹万贰仟叁佰肆拾伍元陆角柒分"
    assert rmb(Decimal("12345")) == "人民币壹万贰仟叁佰肆拾伍元整"
    assert capital(10) == "壹拾元整"


@pytest.mark.parametrize(
    "amount",
    [
        Decimal("-0.01"),
        Decimal("-100"),
        Decimal("1.005"),
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("1E16"),
        1.5,
        "1",
        True,
    ],
)
def test_refused(amount):
    with pytest.raises(ShebaoError) as caught:
        capital(amount)
    assert caught.value.code == ErrorCode.INVALID_AMOUNT


def test_trailing_zero_decimals_are_not_a_third_decimal():
    assert capital(Decimal("12.3400")) == "壹拾贰元叁角肆分"


def _back(text: str) -> int:
    """Read a capital amount back, in fen: a check independent of how it was written."""
    units = {"拾": 10, "佰": 100, "仟": 1000}
    total = section = number = 0
    fen = 0
    body = text.removesuffix("整")
    if "元" in body:
        yuan_part, _, rest = body.partition("元")
    else:
        yuan_part, rest = "", body
    high = 0  # what stood before the last 亿
    for ch in yuan_part:
        if ch in DIGITS:
            number = DIGITS.index(ch)
        elif ch in units:
            section += number * units[ch]
            number = 0
        elif ch == "万":
            total += (section + number) * 10_000
            section = number = 0
        elif ch == "亿":
            high = (high + total + section + number) * 100_000_000
            total = section = number = 0
    yuan = high + total + section + number
    number = 0
    for ch in rest:
        if ch in DIGITS:
            number = DIGITS.index(ch)
        elif ch == "角":
            fen += number * 10
            number = 0
        elif ch == "分":
            fen += number
            number = 0
    return yuan * 100 + fen


def test_random_amounts_read_back_and_follow_the_zero_rules():
    rng = random.Random(20261123)
    for _ in range(3000):
        digits = rng.choice([1, 2, 3, 5, 8, 9, 12, 13, 16])
        # Many zeros: the interesting cases.
        cents = int("".join(rng.choice("0000123456789") for _ in range(digits + 2)))
        amount = Decimal(cents).scaleb(-2)
        if amount >= Decimal(10) ** 16:
            continue
        text = capital(amount)
        assert _back(text) == cents, (amount, text)
        assert ("零零" not in text and not text.startswith("零")) or text == "零元整", (amount, text)
        assert not text.endswith("零元整") or cents == 0
        assert text.endswith("分") != text.endswith("整"), (amount, text)
        assert "零万" not in text and "零亿" not in text and "亿万" not in text, (amount, text)
        if cents % 100 == 0:
            assert text.endswith("元整"), (amount, text)
        if cents % 10 and not (cents // 10) % 10 and cents >= 100:
            assert text.endswith(f"元零{DIGITS[cents % 10]}分"), (amount, text)
