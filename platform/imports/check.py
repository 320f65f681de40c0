"""Checking an uploaded workbook with the database's facts: the preview a staged import shows.

The file layer (:func:`read_workbook`) reads every row and runs the region's pure rules. Here the
valid rows are checked again the way a single declaration is (:func:`checks.judge` with
:class:`KnownFacts`: insured elsewhere, in arrears, the month settled, the enrollment a stop needs,
the same change already pending), with the facts for the whole file loaded in a few queries.
Agency-wide files name a client company on each row: it must be one of the operator's in the region.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.companies.models import ClientCompany
from shebao.platform.companies.service import get_company
from shebao.platform.declarations.checks import judge
from shebao.platform.declarations.facts import KnownFacts
from shebao.platform.declarations.values import EFFECTIVE
from shebao.platform.errors import ErrorCode, Problem
from shebao.platform.imports.models import WorkbookImport
from shebao.platform.jobs.runner import json_params
from shebao.platform.policy.service import figure_book
from shebao.platform.regions.registry import registry
from shebao.platform.workbooks import ReadResult, RowChecker, RowResult, read_workbook, template_layout
from shebao.platform.workbooks.validate import total_wage


@dataclass
class Checked:
    """The file read and checked; ``companies``: each valid row's company (row number -> company)."""

    result: ReadResult
    companies: dict[int, ClientCompany]
    notices: dict[int, list[dict[str, str]]]  # row number -> the notices its declaration carries
    persons: dict[int, Any]  # row number -> the person's id, for a person already known to the agency


async def check_file(session: AsyncSession, row: WorkbookImport, data: bytes, today: date) -> Checked:
    region = registry().get(row.region_code)
    book = await figure_book(session, region.code)
    agency_wide = row.company_id is None
    # Parsing is CPU work (about a second for 10,000 rows): off the event loop, which serves requests.
    result = await asyncio.to_thread(
        read_workbook, data, row.filename, region, row.kind, agency_wide=agency_wide, book=book, today=today
    )
    checked = Checked(result, {}, {}, {})
    if result.rejected:
        return checked
    checker = RowChecker(template_layout(region, row.kind, agency_wide=agency_wide), book, today)
    valid = result.valid_rows
    if agency_wide:
        owners = await _companies_named(session, row.region_code, valid, checker, result.columns)
    else:
        company = await get_company(session, row.company_id, "companyId")
        owners = {r.row: company for r in valid}
    groups: dict[Any, list[RowResult]] = defaultdict(list)
    for r in valid:
        if r.row in owners:
            groups[owners[r.row].id].append(r)
    effective = EFFECTIVE.get(row.kind, "")
    for rows in groups.values():
        company = owners[rows[0].row]
        known = await KnownFacts.load(
            session,
            company,
            (r.values.get("id_number") for r in rows),
            (r.values.get(effective) for r in rows),
            today,
        )
        for r in rows:
            notices, problems = judge(known, book, known.facts(row.kind, r.values))
            if known.is_pending(row.kind, r.values.get("id_number")):
                problems.add(ErrorCode.DUPLICATE, "idNumber", value=r.values["id_number"])
            if problems.items:
                r.problems.extend(checker.row_problems(r.row, problems.items, result.columns))
            else:
                checked.companies[r.row] = company
                checked.notices[r.row] = notices
                person = known.persons.get(r.values.get("id_number") or "")
                checked.persons[r.row] = person.id if person is not None else None
    _resummarize(result)
    return checked


async def _companies_named(
    session: AsyncSession, region_code: str, rows: list[RowResult], checker: RowChecker, letters: dict[str, str]
) -> dict[int, ClientCompany]:
    """Each row's company by credit code or full name, among the operator's companies in the region."""
    stmt = select(ClientCompany).where(ClientCompany.region_code == region_code)
    companies = list(await session.scalars(stmt))
    by_code = {c.credit_code: c for c in companies}
    by_name: dict[str, list[ClientCompany]] = defaultdict(list)
    for c in companies:
        by_name[c.name.strip()].append(c)
    owners: dict[int, ClientCompany] = {}
    for r in rows:
        ref = (r.company or "").strip()
        found = by_code.get(ref.upper()) or (by_name[ref][0] if len(by_name.get(ref, ())) == 1 else None)
        if found is None:
            problem = Problem(ErrorCode.WORKBOOK_UNKNOWN_COMPANY, "company", {"company": ref, "region": region_code})
            r.problems.extend(checker.row_problems(r.row, [problem], letters))
        else:
            owners[r.row] = found
    return owners


def _resummarize(result: ReadResult) -> None:
    """The counts again, now that the database facts may have failed some rows."""
    valid = result.valid_rows
    result.summary.rows_valid = len(valid)
    result.summary.head_count = len({r.values.get("id_number") for r in valid if r.values.get("id_number")})
    result.summary.total_wage = total_wage(valid)


def summary_json(result: ReadResult) -> dict[str, Any]:
    s = result.summary
    return {
        "rows_read": s.rows_read,
        "rows_valid": s.rows_valid,
        "rows_failed": s.rows_failed,
        "head_count": s.head_count,
        "total_wage": str(s.total_wage),
    }


def row_problems_json(result: ReadResult) -> list[dict[str, Any]]:
    return [
        {
            "row": p.row,
            "column": p.column,
            "key": p.key,
            "letter": p.letter,
            "code": p.code.value,
            "field": p.problem.field,
            "params": json_params(p.params),
        }
        for p in result.row_problems()
    ]
