"""Identity numbers checked by python-stdnum, with the manuals' stricter writing rules first.

stdnum is lenient on purpose (it upper-cases, strips spaces, and reads full-width digits as digits
before failing on the checksum); the portals are not: an ID number is 18 half-width characters
with an uppercase final X. We refuse anything else with a reason the operator can act on.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

from shebao.platform.errors import ErrorCode, ShebaoError

_FULLWIDTH = re.compile(r"[\uff01-\uff5e\u3000]")
_RIC_SHAPE = re.compile(r"^\d{17}[\dX]$")
_ASCII_RIC_SHAPE = re.compile(r"[0-9]{17}[0-9X]\Z")
_USCC_SHAPE = re.compile(r"^[0-9A-Z]{18}$")
_MOBILE = re.compile(r"^1\d{10}$")
# 港澳台居民居住证 (since 2018-09) follow GB 11643 with these area codes, which stdnum does not know.
HMT_PERMIT_AREAS = frozenset({"810000", "820000", "830000"})

REASONS = {
    "fullwidth": ("含全角字符，请使用半角", "contains full-width characters"),
    "whitespace": ("含空格", "contains spaces"),
    "length": ("应为 18 位", "must be 18 characters"),
    "lowercase_x": ("末位 X 须大写", "the final X must be uppercase"),
    "format": ("格式不正确", "malformed"),
    "checksum": ("校验位错误", "wrong check digit"),
    "birth_date": ("出生日期无效", "invalid birth date"),
    "birth_place": ("地区码无效", "unknown area code"),
    "lowercase": ("字母须大写", "letters must be uppercase"),
}


def _fail(code: ErrorCode, field: str | None, reason: str) -> ShebaoError:
    zh, en = REASONS[reason]
    return ShebaoError.of(code, field, reason=reason, reason_zh=zh, reason_en=en)


def _shape(value: str, code: ErrorCode, field: str | None) -> None:
    if _FULLWIDTH.search(value):
        raise _fail(code, field, "fullwidth")
    if value != value.strip() or " " in value:
        raise _fail(code, field, "whitespace")
    if len(value) != 18:
        raise _fail(code, field, "length")


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    gender: str  # "male" | "female": the 17th digit, odd for men


def check_resident_id(value: str, field: str | None = "idNumber") -> ResidentId:
    born = validate_resident_id(value, field)
    gender = "male" if int(value[16]) % 2 == 1 else "female"
    return ResidentId(value, born, gender)


def validate_resident_id(value: str, field: str | None = "idNumber") -> date:
    """:func:`check_resident_id` without building its answer (the rules only need to know it is valid):
    the birth date, or the same ShebaoError."""
    code = ErrorCode.INVALID_ID_NUMBER
    if not isinstance(value, str):
        raise _fail(code, field, "format")
    # The usual case, 17 ASCII digits and a digit or X, passes the writing rules as it stands and
    # needs none of stdnum's cleaning (``ric.compact`` maps every character, 40% of a check).
    plain = value.isascii() and _ASCII_RIC_SHAPE.match(value) is not None
    if not plain:
        _shape(value, code, field)
        if value.endswith("x"):
            raise _fail(code, field, "lowercase_x")
        if not _RIC_SHAPE.match(value):
            raise _fail(code, field, "format")
    # stdnum's own checks, in ric.validate's order; the area lookup (most of validate's cost) is
    # cached per area code and birth year: a 10,000-row import checks few of them.
    if ric.calc_check_digit(value) != value[-1]:
        raise _fail(code, field, "checksum")
    try:
        # ric.get_birth_date without its compact(), a no-op on ASCII digits.
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14])) if plain else ric.get_birth_date(value)
    except (ValueError, stdnum_errors.ValidationError):
        raise _fail(code, field, "birth_date") from None
    if value[:6] not in HMT_PERMIT_AREAS and not _known_area(value[:6], born.year):
        raise _fail(code, field, "birth_place")
    return born


@functools.lru_cache(maxsize=65536)
def _known_area(area: str, year: int) -> bool:
    """Whether the area code was assigned in that year (stdnum's county table has date ranges)."""
    try:
        ric.get_birth_place(f"{area}{year:04d}0101000X")
    except stdnum_errors.ValidationError:
        return False
    return True


def check_credit_code(value: str, field: str | None = "creditCode") -> str:
    code = ErrorCode.INVALID_CREDIT_CODE
    if not isinstance(value, str):
        raise _fail(code, field, "format")
    _shape(value, code, field)
    if value != value.upper():
        raise _fail(code, field, "lowercase")
    if not _USCC_SHAPE.match(value):
        raise _fail(code, field, "format")
    try:
        return uscc.validate(value)
    except stdnum_errors.InvalidChecksum:
        raise _fail(code, field, "checksum") from None
    except stdnum_errors.ValidationError:
        raise _fail(code, field, "format") from None


def check_mobile(value: str, field: str | None = "mobile") -> str:
    if not _MOBILE.match(value or ""):
        raise ShebaoError.of(ErrorCode.INVALID_MOBILE, field)
    return value
