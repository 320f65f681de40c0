"""What reading an uploaded workbook gives back: checked rows, file-level problems, a summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from shebao.platform.errors import ErrorCode, Problem
from shebao.platform.regions.api import DeclarationKind

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """How much of an upload is read. An upload over a limit is refused whole, never half-read."""

    max_rows: int = 50_000  # data rows (blank rows are not counted)
    max_file_bytes: int = 50 * MB  # the upload as sent
    max_unzipped_bytes: int = 400 * MB  # every part of the zip, as declared in its directory
    max_zip_entries: int = 5_000
    header_scan_rows: int = 20  # the header must be within the first rows of a sheet
    blank_tail: int = 5_000  # this many empty rows in a row end the data
    max_columns: int = 200  # columns looked at in the header row


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One problem on one row: where (row number, column label and letter) and what (a stable code)."""

    row: int
    column: str | None  # the template's column label; None for the row as a whole
    key: str | None  # the column's field (id_number, monthly_base, ...)
    letter: str | None  # the column's letter in the uploaded sheet (C), when it has one
    problem: Problem

    @property
    def code(self) -> ErrorCode:
        return self.problem.code

    @property
    def rule(self) -> str:
        """The rule that failed: a region rule's own name (leshan.part_time_counter) or the code."""
        return str(self.problem.params.get("rule") or self.problem.code)

    @property
    def params(self) -> dict[str, Any]:
        return self.problem.params

    def message(self, lang: str = "zh") -> str:
        return self.problem.message(lang)


@dataclass(slots=True)
class RowResult:
    """One data row: its typed values (as :func:`parse_values` gives them, coded values as codes)."""

    row: int  # the row number in the sheet, as the operator sees it
    values: dict[str, Any]
    problems: list[RowProblem] = field(default_factory=list)
    name: str | None = None  # the 姓名 column, also for kinds whose values do not take a name
    company: str | None = None  # agency-wide files: the client company (credit code or name), as typed
    cells: dict[str, Any] | None = None  # the cells as read, kept for failed rows (the error report)

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def gender(self) -> str | None:
        """ "male" or "female", from the ID number (the 17th digit: odd for men) of a valid row."""
        number = self.values.get("id_number") if not self.problems else None
        return None if number is None else ("male" if int(number[16]) % 2 else "female")

    @property
    def birth_date(self) -> date | None:
        """From the ID number of a valid row (its check passed, so the date is a real one)."""
        number = self.values.get("id_number") if not self.problems else None
        return None if number is None else date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


@dataclass(slots=True)
class Summary:
    rows_read: int = 0  # data rows (blank rows skipped)
    rows_valid: int = 0
    head_count: int = 0  # distinct ID numbers among the valid rows
    total_wage: Decimal = Decimal("0.00")  # the declared monthly bases of the valid rows

    @property
    def rows_failed(self) -> int:
        return self.rows_read - self.rows_valid


@dataclass
class ReadResult:
    """An upload read and checked. When ``problems`` is not empty the file is rejected: import nothing."""

    filename: str
    region_code: str
    kind: DeclarationKind
    agency_wide: bool
    sha256: str  # of the bytes uploaded: the same file uploaded twice has the same digest
    sheet: str | None = None  # the sheet read
    header_row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)  # field -> its letter in the sheet
    rows: list[RowResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # file-level: the file is rejected
    notices: list[Problem] = field(default_factory=list)  # said to the operator, nothing refused
    summary: Summary = field(default_factory=Summary)

    @property
    def rejected(self) -> bool:
        return bool(self.problems)

    @property
    def valid_rows(self) -> list[RowResult]:
        return [] if self.rejected else [r for r in self.rows if r.valid]

    @property
    def failed_rows(self) -> list[RowResult]:
        return [r for r in self.rows if not r.valid]

    def row_problems(self) -> list[RowProblem]:
        return [p for r in self.rows for p in r.problems]
