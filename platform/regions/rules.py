"""A declaration checked against its region's rules: pure, from facts the caller gathered.

The host's rules are switched on and parameterised by the region's data (``FieldRules``, figures);
a plugin adds what data cannot say through the ``shebao_check_declaration`` hook. Every problem names
the field, the rule and the region's figure involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shebao.platform.core.identity import validate_resident_id
from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, Problem, Problems
from shebao.platform.regions.api import (
    BaseLimitAction,
    CodedList,
    DeclarationFacts,
    DeclarationKind,
    Notice,
    Region,
)
from shebao.platform.regions.figures import FigureBook

# The fields every region needs for each kind; a region's `required` adds to these.
CORE_REQUIRED: dict[DeclarationKind, tuple[str, ...]] = {
    DeclarationKind.ADD: ("id_number", "name", "household_type", "employment_form", "start_month", "monthly_base"),
    DeclarationKind.STOP: ("id_number", "stop_month", "stop_reason"),
    DeclarationKind.BASE_CHANGE: ("id_number", "change_month", "monthly_base"),
    DeclarationKind.BACK_PAYMENT: ("id_number", "from_month", "to_month", "monthly_base"),
    DeclarationKind.CORRECTION: ("id_number",),
    DeclarationKind.SENSITIVE_CORRECTION: ("id_number",),
    DeclarationKind.ROLLBACK: ("target_kind",),
}
CODED_FIELDS = {
    "household_type": "household_types",
    "employment_form": "employment_forms",
    "stop_reason": "stop_reasons",
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def check_code(region: Region, key: str, value: str, problems: Problems) -> None:
    """``value`` of the coded field ``key`` (household_type, ...) must be in the region's list."""
    coded = region.coded_list(CODED_FIELDS[key])
    if coded is not None and not _known_code(coded, value):
        problems.add(
            ErrorCode.INVALID_CODE,
            camel(key),
            value=value,
            list=coded.label_zh,
            list_en=coded.label_en,
            allowed="、".join(f"{v.code}（{v.label_zh}）" for v in coded.values),
            region=region.name_zh,
        )


# A list's codes as a set, by the list's id (kept beside it, so that a new list at a freed id is
# not taken for it): CodedList.get scans the list, and check_code runs on every row of a workbook.
_CODES: dict[int, tuple[CodedList, frozenset[str]]] = {}


def _known_code(coded: CodedList, value: str) -> bool:
    if value.__class__ is not str:  # as CodedList.get compares, whatever the value is
        return coded.get(value) is not None
    found = _CODES.get(id(coded))
    if found is None or found[0] is not coded:
        if len(_CODES) >= 256:
            _CODES.clear()
        found = _CODES[id(coded)] = (coded, frozenset(v.code for v in coded.values))
    return value in found[1]


# Types whose values are never equal to None or "": ``value in (None, "")`` would call a Month's
# dataclass __eq__ twice for nothing, on every field of every row.
_NEVER_BLANK = frozenset({Month, Decimal, int})


def _blank(value) -> bool:
    """``value in (None, "")``: a field left empty."""
    if value is None:
        return True
    kind = value.__class__
    if kind is str:
        return not value
    return kind not in _NEVER_BLANK and value in (None, "")


@dataclass(frozen=True)
class RuleOutcome:
    problems: list[Problem]
    notices: list[Notice]


def check_declaration(book: FigureBook, facts: DeclarationFacts, plugin_rules=None) -> RuleOutcome:
    """Check ``facts`` against the region of ``book``. ``plugin_rules(region, facts)`` gives the hook's answers."""
    region = book.region
    kind = facts.declaration
    values = facts.values
    problems = Problems()
    get = values.get
    for required in (CORE_REQUIRED.get(kind, ()), region.fields.required.get(kind, ())):
        for key in required:
            if _blank(get(key)):
                problems.add(ErrorCode.REQUIRED, camel(key))
    if not _blank(get("id_number")):
        problems.check(validate_resident_id, values["id_number"], field="idNumber")
    for key in CODED_FIELDS:
        if not _blank(get(key)):
            check_code(region, key, values[key], problems)
    _check_months(values, problems)
    _check_base(book, kind, values, problems)
    _check_state(book, facts, problems)
    for need in region.fields.attachments:
        if need.declaration != kind or need.document in facts.attachments:
            continue
        if need.employment_forms and values.get("employment_form") not in need.employment_forms:
            continue
        if need.household_types and values.get("household_type") not in need.household_types:
            continue
        problems.add(
            ErrorCode.ATTACHMENT_REQUIRED,
            "attachments",
            document=need.document,
            label=need.label_zh,
            label_en=need.label_en,
            region=region.name_zh,
        )
    for violation in plugin_rules(region, facts) if plugin_rules else ():
        problems.add(
            ErrorCode.REGION_RULE,
            violation.field,
            rule=violation.rule,
            message=violation.message_zh,
            message_en=violation.message_en,
        )
    notices = [
        n
        for n in region.fields.notices
        if n.declaration == kind
        and (not n.employment_forms or values.get("employment_form") in n.employment_forms)
        and (not n.household_types or values.get("household_type") in n.household_types)
    ]
    return RuleOutcome(problems.items, notices)


def _check_months(values, problems: Problems) -> None:
    start, end = values.get("from_month"), values.get("to_month")
    if isinstance(start, Month) and isinstance(end, Month) and end < start:
        problems.add(ErrorCode.MONTH_ORDER, "toMonth", start=str(start), end=str(end))


def _months_billed(kind: DeclarationKind, values) -> list[Month]:
    if kind is DeclarationKind.ADD and isinstance(values.get("start_month"), Month):
        return [values["start_month"]]
    if kind is DeclarationKind.BASE_CHANGE and isinstance(values.get("change_month"), Month):
        return [values["change_month"]]
    if kind is DeclarationKind.BACK_PAYMENT:
        start, end = values.get("from_month"), values.get("to_month")
        if isinstance(start, Month) and isinstance(end, Month) and start <= end:
            return [start.add(i) for i in range(end - start + 1)]
    return []


def _check_base(book: FigureBook, kind: DeclarationKind, values, problems: Problems) -> None:
    base = values.get("monthly_base")
    if not isinstance(base, Decimal):
        return
    rules = book.region.fields
    for month in _months_billed(kind, values):
        figures = book.at(month)
        floor, ceiling = figures.get("base.floor"), figures.get("base.ceiling")
        if floor is None or ceiling is None:
            # Accepting it would only fail later, when the month is billed.
            name = "base.floor" if floor is None else "base.ceiling"
            problems.add(ErrorCode.NO_FIGURE, "monthlyBase", name=name, region=book.region.code, month=str(month))
            return
        if rules.base_below_floor is BaseLimitAction.REFUSE and floor is not None and base < floor.value:
            problems.add(
                ErrorCode.BASE_BELOW_FLOOR,
                "monthlyBase",
                base=str(base),
                floor=str(floor.value),
                month=str(month),
                region=book.region.name_zh,
                source=floor.cite(),
            )
            return
        if rules.base_above_ceiling is BaseLimitAction.REFUSE and ceiling is not None and base > ceiling.value:
            problems.add(
                ErrorCode.BASE_ABOVE_CEILING,
                "monthlyBase",
                base=str(base),
                ceiling=str(ceiling.value),
                month=str(month),
                region=book.region.name_zh,
                source=ceiling.cite(),
            )
            return


def _check_state(book: FigureBook, facts: DeclarationFacts, problems: Problems) -> None:
    region: Region = book.region
    rules = region.fields
    kind, values = facts.declaration, facts.values
    if kind is DeclarationKind.ADD and rules.insured_elsewhere_refused and facts.other_enrollments:
        other = facts.other_enrollments[0]
        problems.add(
            ErrorCode.INSURED_ELSEWHERE,
            "idNumber",
            company=other.company_name,
            region=other.region_code,
            since=str(other.since),
        )
    if kind is DeclarationKind.STOP and rules.arrears_block_stop and facts.arrears > 0:
        problems.add(ErrorCode.ARREARS_BLOCK_STOP, "idNumber", amount=str(facts.arrears), region=region.name_zh)
    if kind is DeclarationKind.BACK_PAYMENT:
        if rules.add_before_back_payment and not facts.ever_enrolled_here:
            problems.add(ErrorCode.ADD_BEFORE_BACK_PAYMENT, "idNumber", region=region.name_zh)
        current = Month(facts.today.year, facts.today.month)
        start, end = values.get("from_month"), values.get("to_month")
        if isinstance(end, Month) and end >= current:
            problems.add(ErrorCode.BACK_PAYMENT_NOT_PAST, "toMonth", month=str(end), current=str(current))
        window = book.at(current).get("back_payment.max_months")
        if isinstance(start, Month) and window is not None:
            earliest = current.add(-int(window.value))
            if start < earliest:
                problems.add(
                    ErrorCode.BACK_PAYMENT_TOO_OLD,
                    "fromMonth",
                    month=str(start),
                    earliest=str(earliest),
                    months=int(window.value),
                    region=region.name_zh,
                    source=window.cite(),
                )
    if kind is DeclarationKind.ROLLBACK and values.get("target_kind"):
        target = values["target_kind"]
        if target not in region.settlement.rollback_kinds:
            allowed = "、".join(sorted(k.value for k in region.settlement.rollback_kinds)) or "-"
            problems.add(
                ErrorCode.ROLLBACK_NOT_ALLOWED, "targetKind", kind=str(target), region=region.name_zh, allowed=allowed
            )
        elif facts.paid:
            problems.add(ErrorCode.ALREADY_PAID, "targetKind", kind=str(target))
