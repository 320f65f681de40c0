"""Amounts in Chinese capital numerals (大写金额), as a payment notice prints its total.

The rules are those of the People's Bank of China for filling in bills and vouchers
(《正确填写票据和结算凭证的基本规定》):

- digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟万亿, then 元角分;
- ``壹拾`` keeps its ``壹`` (16 → 壹拾陆元整, 100,000 → 壹拾万元整);
- zeros between digits are written ``零`` once however many there are (10,010 → 壹万零壹拾元整,
  1,000,000.01 → 壹佰万元零壹分); trailing zeros are not written;
- an amount ending at 元 or 角 ends with ``整``; one with 分 does not;
- 角 zero and 分 not: ``零`` after 元 (325.04 → 叁佰贰拾伍元零肆分); 元 digit zero and 角 not:
  the ``零`` is optional and not written here (1,680.32 → 壹仟陆佰捌拾元叁角贰分);
- under one yuan the 元 is left out (0.05 → 伍分); zero is 零元整.

Amounts are Decimal (or int) with at most two decimals, from 0 to less than 10^16 yuan
(ten thousand 万亿); anything else is refused with ``INVALID_AMOUNT``: a negative amount, a float,
a third decimal (never silently rounded), NaN or infinity.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from shebao.platform.errors import ErrorCode, ShebaoError

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_IN_GROUP = ("", "拾", "佰", "仟")
_LIMIT = 10**16
_CENT = Decimal("0.01")


def _refuse(value: object) -> ShebaoError:
    return ShebaoError.of(ErrorCode.INVALID_AMOUNT, "amount", value=str(value))


def _cents(amount: Decimal | int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise _refuse(amount)  # floats are never money
    value = Decimal(amount)
    try:
        if not value.is_finite() or value < 0 or value != value.quantize(_CENT) or value >= _LIMIT:
            raise _refuse(amount)
    except InvalidOperation:
        raise _refuse(amount) from None
    return int(value * 100)


def _yuan(n: int) -> str:
    """The integer part (n > 0) with its section units 万 and 亿."""
    digits = str(n)
    out: list[str] = []
    pending_zero = False
    length = len(digits)
    for i, ch in enumerate(digits):
        place = length - 1 - i  # 0 for the units digit
        d = int(ch)
        if d == 0:
            pending_zero = bool(out)
        else:
            if pending_zero:
                out.append("零")
                pending_zero = False
            out.append(DIGITS[d] + _IN_GROUP[place % 4])
        if place % 4 == 0 and place > 0:
            section = digits[max(0, i - 3) : i + 1]
            if place % 8 == 0:  # 亿 is written whenever anything above it was
                if out and out[-1] not in ("亿",):
                    out.append("亿")
            elif int(section) != 0:
                out.append("万")
    return "".join(out)


def capital(amount: Decimal | int) -> str:
    """``12345.67`` → ``壹万贰仟叁佰肆拾伍元陆角柒分``; ``100`` → ``壹佰元整``."""
    cents = _cents(amount)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if cents == 0:
        return "零元整"
    out = _yuan(yuan) + "元" if yuan else ""
    if jiao:
        out += DIGITS[jiao] + "角"
    elif fen and yuan:
        out += "零"
    if fen:
        out += DIGITS[fen] + "分"
    else:
        out += "整"
    return out


def rmb(amount: Decimal | int) -> str:
    """As printed on a notice: ``人民币壹万贰仟叁佰肆拾伍元陆角柒分``."""
    return "人民币" + capital(amount)
