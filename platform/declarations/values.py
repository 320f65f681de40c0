"""A declaration's input, typed: which fields each kind takes, parsed once, with field-named errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, Problems
from shebao.platform.people.service import parse_base
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.regions.rules import camel

MONTHS = ("start_month", "stop_month", "change_month", "from_month", "to_month")
TEXTS = ("id_number", "name", "household_type", "employment_form", "phone", "stop_reason", "target_id")

# The fields each kind takes (the region may require more of them: FieldRules.required).
FIELDS: dict[DeclarationKind, tuple[str, ...]] = {
    DeclarationKind.ADD: (
        "id_number",
        "name",
        "household_type",
        "employment_form",
        "start_month",
        "monthly_base",
        "phone",
    ),
    DeclarationKind.STOP: ("id_number", "stop_month", "stop_reason"),
    DeclarationKind.BASE_CHANGE: ("id_number", "change_month", "monthly_base"),
    DeclarationKind.BACK_PAYMENT: ("id_number", "from_month", "to_month", "monthly_base"),
    DeclarationKind.CORRECTION: ("id_number", "phone"),
    DeclarationKind.SENSITIVE_CORRECTION: ("id_number", "name"),
    DeclarationKind.ROLLBACK: ("target_id",),
}
# As sets, for parse_values, which runs on every row of a batch workbook.
_TAKES = {kind: frozenset(keys) for kind, keys in FIELDS.items()}
_MONTHS = frozenset(MONTHS)
# The month a declaration takes effect, by kind.
EFFECTIVE = {
    DeclarationKind.ADD: "start_month",
    DeclarationKind.STOP: "stop_month",
    DeclarationKind.BASE_CHANGE: "change_month",
    DeclarationKind.BACK_PAYMENT: "from_month",
}


def parse_values(kind: DeclarationKind, raw: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """Typed values (Month, Decimal, stripped text) of the fields ``kind`` takes; others are refused."""
    takes = _TAKES[kind]
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        stripped = value.strip() if isinstance(value, str) else None
        if stripped == "":
            continue
        if key not in takes:
            allowed = ", ".join(map(camel, FIELDS[kind]))
            problems.add(ErrorCode.INVALID_VALUE, camel(key), value=str(value), allowed=allowed)
            continue
        if key in _MONTHS:
            if isinstance(value, Month):  # read as a month already (a workbook's cells): as _month gives it
                parsed = value
            else:
                parsed = problems.check(_month, value, camel(key), field=camel(key))
        elif key == "monthly_base":
            parsed = problems.check(parse_base, value, "monthlyBase")
        else:
            parsed = stripped if type(value) is str else str(value).strip()
        if parsed is not None:
            out[key] = parsed
    return out


def _month(value: Any, field: str) -> Month:
    return value if isinstance(value, Month) else Month.parse(str(value), field)


def stored(values: dict[str, Any]) -> dict[str, str]:
    """As JSON: months and amounts as text."""
    return {k: str(v) for k, v in values.items()}


def loaded(values: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in MONTHS:
            out[key] = Month.parse(value)
        elif key == "monthly_base":
            out[key] = Decimal(value)
        else:
            out[key] = value
    return out
