"""Cell values as operators leave them, made into what a declaration takes.

Each function takes the value openpyxl read (str, int, float, datetime, bool, or a marker of
:mod:`.stream`) and returns the normalised value, or raises :class:`CellProblem` with a stable
code. Full-width digits and spaces are folded (NFKC); ID numbers never pass through a number;
months are read from text in the usual ways, from date cells and from Excel serial numbers.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel

from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode

_SPACES = re.compile(r"\s+")
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?e[+-]?\d+$", re.IGNORECASE)
_DECIMAL_ID = re.compile(r"^\d+\.\d*$")
_PLAIN_ID = re.compile(r"[0-9]{17}[0-9Xx]\Z")  # ASCII only: [0-9], not \d
_YYYYMM = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")
# 2026-11, 2026/11, 2026.11, 2026年11月, optionally with a day (and a time, as text dates carry).
_YEAR_MONTH = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*(?:月|(?:[-/.]\s*\d{1,2}|月\s*\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?)?$"
)
_AMOUNT_NOISE = re.compile(r"[,\s元¥$]")
# Excel serial numbers from 1910 to 2999: a plain number outside is not taken for a date.
_SERIAL_RANGE = (3654, 401768)
_FEN = Decimal("0.01")
_MILLIONTH_FEN = Decimal("0.000001")


class CellProblem(Exception):
    """A cell that cannot be read as its column needs; the row carries it as a problem."""

    def __init__(self, code: ErrorCode, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


class FormulaWithoutValue:
    """A formula cell saved without its computed value (written by a program, never recalculated)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<formula without value>"


NO_VALUE = FormulaWithoutValue()


class CellError(str):
    """An Excel error value (#N/A, #REF!...) read from a cell, as opposed to text typed in it."""

    __slots__ = ()


def blank(value: Any) -> bool:
    return value is None or (type(value) is str and not value.strip())


def _check_marker(value: Any) -> None:
    if value is NO_VALUE:
        raise CellProblem(ErrorCode.WORKBOOK_FORMULA_NO_VALUE)
    if isinstance(value, CellError):
        raise CellProblem(ErrorCode.WORKBOOK_ERROR_VALUE, value=str(value))


def text(value: Any) -> str | None:
    """Any cell as text: full-width folded, spaces trimmed and collapsed; None when empty."""
    if value is None:
        return None
    if type(value) is str:
        if not value.isascii():
            value = unicodedata.normalize("NFKC", value)
        value = value.strip()
        if "  " in value or "\n" in value or "\t" in value:
            value = _SPACES.sub(" ", value)
        return value or None
    _check_marker(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if value.time() != datetime.min.time() else f"{value:%Y-%m-%d}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return str(value).strip() or None


def id_number(value: Any) -> str | None:
    """A resident ID number as text. A number in the cell is refused: it may have lost digits or its X."""
    if type(value) is str and _PLAIN_ID.match(value) is not None:  # as typed: nothing to fold or refuse
        return value if value[17] != "x" else value[:17] + "X"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        shown = format(value, "G") if isinstance(value, float) else str(value)
        raise CellProblem(ErrorCode.WORKBOOK_ID_AS_NUMBER, value=shown)
    found = text(value)
    if found is None:
        return None
    found = "".join(found.split())
    if _SCIENTIFIC.match(found) or _DECIMAL_ID.match(found):  # a number pasted as text: 1.10105E+17
        raise CellProblem(ErrorCode.WORKBOOK_ID_AS_NUMBER, value=found)
    if found[-1:] == "x":
        found = found[:-1] + "X"
    return found


def month(value: Any, epoch: datetime = WINDOWS_EPOCH) -> Month | None:
    """A contribution month from a date cell, an Excel serial number, 202611 or text like 2026年11月."""
    if value is None:
        return None
    if isinstance(value, (datetime, date)):
        return _month(value.year, value.month, value)
    if isinstance(value, float):
        if not value.is_integer():  # 2026.1 typed in a number cell: October or January?
            raise CellProblem(ErrorCode.INVALID_MONTH, value=repr(value))
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if 190001 <= value <= 299912:
            return _month(value // 100, value % 100, value)
        if _SERIAL_RANGE[0] <= value <= _SERIAL_RANGE[1]:
            day = from_excel(value, epoch)
            return _month(day.year, day.month, value)
        raise CellProblem(ErrorCode.INVALID_MONTH, value=str(value))
    found = text(value)
    if found is None:
        return None
    match = _YYYYMM.match(found) or _YEAR_MONTH.match(found)
    if match is None:
        raise CellProblem(ErrorCode.INVALID_MONTH, value=found)
    return _month(int(match.group(1)), int(match.group(2)), found)


def _month(year: int, number: int, shown: Any) -> Month:
    if not (1 <= number <= 12 and 1900 <= year <= 2999):
        raise CellProblem(ErrorCode.INVALID_MONTH, value=str(shown))
    return Month(year, number)


def amount(value: Any) -> Decimal | str | None:
    """An amount for :func:`parse_base`: numbers exact (a formula's 0.1 + 0.2 becomes 0.30), text cleaned."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        exact = Decimal(repr(value))
        rounded = exact.quantize(_FEN) if exact.is_finite() and abs(exact) < 10**12 else exact
        # Binary floating point from a formula, not what anyone typed: within a millionth of a fen.
        return rounded if abs(exact - rounded) < _MILLIONTH_FEN else exact
    found = text(value)
    if found is None:
        return None
    cleaned = _AMOUNT_NOISE.sub("", found)
    try:
        Decimal(cleaned)
    except (InvalidOperation, ValueError):
        return found  # parse_base says it is no amount, naming the text as typed
    return cleaned


def coded(value: Any) -> str | None:
    found = text(value)
    return None if found is None else "".join(found.split())
