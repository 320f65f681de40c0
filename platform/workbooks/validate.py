"""One data row made into a declaration's values and checked like a single declaration.

Cells are normalised (:mod:`.cells`), typed by :func:`parse_values` (the function single
declarations use) and checked by the region's pure rules (:func:`check_declaration`) with facts
from the row alone. The database facts (insured elsewhere, arrears, earlier enrollments) are the
importer's: it re-runs the rules with them and maps the answers to columns with
:meth:`RowChecker.row_problems`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from openpyxl.utils.datetime import WINDOWS_EPOCH

from shebao.platform.core.identity import check_credit_code
from shebao.platform.core.month import Month
from shebao.platform.declarations.values import FIELDS, parse_values
from shebao.platform.errors import ErrorCode, Problem, Problems, ShebaoError
from shebao.platform.regions.api import TEMPLATE_FIELDS, DeclarationFacts, DeclarationKind, Notice
from shebao.platform.regions.figures import FigureBook
from shebao.platform.regions.rules import camel, check_declaration
from shebao.platform.workbooks import cells
from shebao.platform.workbooks.layout import Column, Layout
from shebao.platform.workbooks.result import RowProblem, RowResult

_CREDIT_CODE_SHAPE = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")


def _snake(field: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in field)


class RowChecker:
    """Checks the rows of one file in order; remembers what it needs across rows (duplicates)."""

    def __init__(
        self,
        layout: Layout,
        book: FigureBook,
        today: date,
        plugin_rules: Callable | None = None,
        epoch: datetime = WINDOWS_EPOCH,
    ):
        self.layout = layout
        self.kind = layout.kind
        self.book = book
        self.today = today
        self.plugin_rules = plugin_rules
        self.epoch = epoch
        self._fields = frozenset(FIELDS[layout.kind])
        self._readers: dict[str, Callable[[Any], Any]] = {c.key: self._reader(c) for c in layout.columns}
        self._seen: dict[str, int] = {}  # ID number -> first row
        self._ranges: dict[str, list[tuple[int, Month, Month]]] = {}  # back payments: ID -> (row, from, to)
        self._region_code = layout.region.code
        self._notices: dict[int, tuple[Notice, int]] = {}  # id(notice) -> (notice, rows): see notices
        self._facts: tuple[date, Callable[[dict[str, Any]], DeclarationFacts]] | None = None  # for today
        self.attachments: Counter[tuple[str, str]] = Counter()  # (label_zh, label_en) -> rows

    def _reader(self, column: Column) -> Callable[[Any], Any]:
        if column.key == "id_number":
            return cells.id_number
        if column.is_month:
            return _memo(lambda value: cells.month(value, self.epoch))
        if column.is_amount:
            return cells.amount
        if column.coded:
            code = self.layout.code
            return _memo(lambda value: None if (found := cells.coded(value)) is None else code(column.key, found))
        return cells.text

    def check(self, row: int, found: Mapping[str, Any], letters: Mapping[str, str]) -> RowResult:
        """``found``: the row's non-blank cells by field; ``letters``: each field's column letter."""
        raw: dict[str, Any] = {}
        bad: dict[str, Problem] = {}  # cell-level problems, one per field
        name = company = None
        readers, fields = self._readers, self._fields
        for key, value in found.items():
            try:
                parsed = readers[key](value)
            except cells.CellProblem as err:
                params = dict(err.params)
                params.setdefault("cell", f"{letters.get(key, '')}{row}")
                bad[key] = Problem(err.code, camel(key), params)
                continue
            if key == "name":
                name = parsed
            if key == "company":
                company = self._check_company(parsed, bad)
            elif key in fields:
                raw[key] = parsed
        problems = Problems()
        values = parse_values(self.kind, raw, problems)
        if self.layout.agency_wide and company is None and "company" not in bad:
            problems.add(ErrorCode.REQUIRED, "company")
        if self._facts is None or self._facts[0] is not self.today:
            template = DeclarationFacts(
                declaration=self.kind,
                region_code=self._region_code,
                values={},
                today=self.today,
                # Unknown without the database: assumed, so that the rule stays quiet here. The
                # importer checks again with the real facts.
                ever_enrolled_here=True,
            )
            self._facts = (self.today, _facts_for(template))
        outcome = check_declaration(self.book, self._facts[1](values), self.plugin_rules)
        if outcome.notices:
            counted = self._notices
            for notice in outcome.notices:  # counted by identity: hashing a Notice costs more than a row's checks
                seen = counted.get(id(notice))
                counted[id(notice)] = (notice, 1) if seen is None else (notice, seen[1] + 1)
        result = RowResult(row=row, values=values, name=name, company=company)
        if bad or problems.items or outcome.problems:
            # A field that could not be read is not also "required", or anything else, by the rules.
            listed = [*bad.values(), *problems.items]
            flagged = {p.field for p in listed}
            for p in outcome.problems:
                if p.code is ErrorCode.ATTACHMENT_REQUIRED:  # a draft takes its attachments later
                    self.attachments[(p.params.get("label", ""), p.params.get("label_en", ""))] += 1
                elif p.field is None or p.field not in flagged:
                    listed.append(p)
            if listed:
                result.problems = self.row_problems(row, listed, letters)
        self._check_duplicate(result, letters)
        if result.problems:
            result.cells = dict(found)
        return result

    def _check_company(self, company: str | None, bad: dict[str, Problem]) -> str | None:
        """A credit code (18 letters and digits of its alphabet) must be a valid one; a name is kept as typed."""
        if company and len(company) == 18 and set(company.upper()) <= _CREDIT_CODE_SHAPE:
            company = company.upper()
            try:
                check_credit_code(company, "company")
            except ShebaoError as err:
                bad["company"] = err.problems[0]
        return company

    def _check_duplicate(self, result: RowResult, letters: Mapping[str, str]) -> None:
        number = result.values.get("id_number")
        if not number:
            return
        first = self._seen.setdefault(number, result.row)
        if self.kind is DeclarationKind.BACK_PAYMENT:
            # One person may be back-paid for several periods, but never twice for the same month.
            start, end = result.values.get("from_month"), result.values.get("to_month")
            if not (isinstance(start, Month) and isinstance(end, Month)):
                return
            ranges = self._ranges.setdefault(number, [])
            first = next((r for r, s, e in ranges if s <= end and start <= e), result.row)
            ranges.append((result.row, start, end))
        if first != result.row:
            dup = Problem(ErrorCode.WORKBOOK_DUPLICATE_ROW, "idNumber", {"first": first, "id_number": number})
            result.problems.extend(self.row_problems(result.row, [dup], letters))

    def row_problems(
        self, row: int, problems: Iterable[Problem], letters: Mapping[str, str] | None = None
    ) -> list[RowProblem]:
        """Problems on one row, each with the column its field names (``monthlyBase`` → 申报工资)."""
        letters = letters or {}
        out: list[RowProblem] = []
        for p in problems:
            column = self.layout.for_field(p.field) if p.field else None
            key = column.key if column else (_snake(p.field) if p.field else None)
            label = column.label if column else TEMPLATE_FIELDS.get(key or "")
            out.append(RowProblem(row, label, key, letters.get(key or ""), p))
        return out

    @property
    def notices(self) -> Counter[Notice]:
        """The region's notices met so far, with the number of rows each applies to."""
        out: Counter[Notice] = Counter()
        for notice, count in self._notices.values():
            out[notice] += count
        return out

    def region_notices(self) -> list[Problem]:
        """What the region says about rows of this kind (bring the contract...), with the row counts."""
        out = [
            Problem(ErrorCode.WORKBOOK_REGION_NOTICE, None, {"text": n.text_zh, "text_en": n.text_en, "rows": count})
            for n, count in self.notices.items()
        ]
        out += [
            Problem(ErrorCode.WORKBOOK_ATTACH_LATER, None, {"label": zh, "label_en": en, "rows": count})
            for (zh, en), count in self.attachments.items()
        ]
        return out


def _facts_for(template: DeclarationFacts) -> Callable[[dict[str, Any]], DeclarationFacts]:
    """Facts like ``template`` with each row's values. The rows' facts differ in their values only;
    the frozen dataclass's __init__ sets its nine fields one ``object.__setattr__`` at a time (5 µs,
    a tenth of a row's checks), so the template's fields are copied instead."""
    fields = getattr(template, "__dict__", None)
    if fields is None or set(fields) != {f.name for f in dataclasses.fields(template)}:
        return lambda values: dataclasses.replace(template, values=values)  # not a plain dataclass any more
    new = object.__new__

    def facts(values: dict[str, Any]) -> DeclarationFacts:
        made = new(DeclarationFacts)
        made.__dict__.update(fields, values=values)
        return made

    return facts


class _Refused(NamedTuple):
    code: ErrorCode
    params: dict[str, Any]


def _memo(read: Callable[[Any], Any], limit: int = 1024) -> Callable[[Any], Any]:
    """``read`` once per distinct cell value: months and coded labels repeat down a column."""
    seen: dict[Any, Any] = {}

    def reader(value: Any) -> Any:
        # Plain text by itself (most cells: no tuple to build); anything else with its type: 1 and
        # 1.0, or "#N/A" typed and the error value, are not the same cell.
        key = value if value.__class__ is str else (value.__class__, value)
        found = seen.get(key, seen)
        if found is seen:
            try:
                found = read(value)
            except cells.CellProblem as err:
                found = _Refused(err.code, err.params)
            if len(seen) < limit:
                seen[key] = found
        if isinstance(found, _Refused):  # a new exception each time: a re-raised one grows its traceback
            raise cells.CellProblem(found.code, **found.params)
        return found

    return reader


def total_wage(rows: Iterable[RowResult]) -> Decimal:
    return sum((r.values.get("monthly_base") or Decimal(0) for r in rows), Decimal("0.00"))
