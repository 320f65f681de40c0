"""What a client may ask about regions: their rules and forms, the figures in force, a calculation.

Figures and calculations are resolved for the caller's agency, so its policy library applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.companies.validation import INDUSTRY_GRADES
from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, Problems
from shebao.platform.people.service import parse_base
from shebao.platform.policy.service import figure_book
from shebao.platform.regions.contributions import ContributionInput, ContributionLine, RateCard
from shebao.platform.regions.figures import ResolvedFigure
from shebao.platform.regions.registry import LoadedRegion, registry
from shebao.platform.regions.rules import check_code


def list_regions() -> list[LoadedRegion]:
    return registry().all()


def get_region(code: str) -> LoadedRegion:
    return registry().loaded(code, "code")


async def figures_for(session: AsyncSession, code: str, month: Month) -> list[ResolvedFigure]:
    """Every figure in force for ``code`` in ``month``: national, plugin or the agency's own."""
    book = await figure_book(session, code)
    return book.at(month).all()


@dataclass(frozen=True)
class Calculation:
    month: Month
    lines: list[ContributionLine]

    @property
    def employer_total(self) -> Decimal:
        return sum((line.employer.amount for line in self.lines), Decimal("0.00"))

    @property
    def employee_total(self) -> Decimal:
        return sum((line.employee.amount for line in self.lines), Decimal("0.00"))


async def calculate(
    session: AsyncSession,
    code: str,
    month: Month,
    *,
    base: str | Decimal,
    household_type: str,
    employment_form: str,
    industry_class: int = 1,
    industry_grade: int = 100,
) -> Calculation:
    """One person's monthly lines, as a settlement would bill them (nothing is stored)."""
    region = registry().get(code, "code")
    problems = Problems()
    amount = problems.check(parse_base, base, "base")
    check_code(region, "household_type", household_type, problems)
    check_code(region, "employment_form", employment_form, problems)
    if industry_grade not in INDUSTRY_GRADES.get(industry_class, ()):
        allowed = "/".join(map(str, INDUSTRY_GRADES.get(industry_class, INDUSTRY_GRADES[2])))
        problems.add(ErrorCode.INVALID_INDUSTRY_CLASS, "industryClass", allowed=allowed)
    problems.raise_if_any()
    book = await figure_book(session, code)
    card = RateCard(book.at(month))
    who = ContributionInput(amount, household_type, employment_form, industry_class, industry_grade)
    return Calculation(month, card.lines(who))
