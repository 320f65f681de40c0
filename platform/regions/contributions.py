"""Contribution lines: one per insurance kind, for one person and month, each able to explain itself.

A :class:`RateCard` holds what is in force for a region and month (figures already resolved), so a
settlement of many people resolves once and computes each line with a few Decimal operations.
Rounding is applied here and only here, to each side's amount, with the region's rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal

from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import Exemption, InsuranceKind, KindSpec, Side
from shebao.platform.regions.figures import FigureSet, ResolvedFigure

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN, "up": ROUND_UP}


@dataclass(frozen=True)
class ContributionInput:
    """Who is billed: the declared base and what the rules look at."""

    base: Decimal
    household_type: str
    employment_form: str
    industry_class: int = 1  # the client company's work-injury class (1-8) ...
    industry_grade: int = 100  # ... and its grade, percent of the class's base rate


@dataclass(frozen=True)
class Rounding:
    mode: str
    places: int
    figure_mode: ResolvedFigure | None
    figure_places: ResolvedFigure | None

    def apply(self, amount: Decimal) -> Decimal:
        return amount.quantize(Decimal(1).scaleb(-self.places), rounding=_MODES[self.mode]).quantize(ZERO)

    def describe(self) -> str:
        return f"{self.mode} to {Decimal(1).scaleb(-self.places)}"


@dataclass(frozen=True)
class Charge:
    """One side (employer or employee) of a line."""

    side: Side
    amount: Decimal
    rate: Decimal | None = None  # percent of the base used
    fixed: Decimal | None = None  # a fixed monthly amount
    figure: ResolvedFigure | None = None  # where the rate or amount comes from
    exemption: Exemption | None = None  # why nothing is charged
    class_figure: ResolvedFigure | None = None  # work injury: the class's base rate
    grade: int | None = None  # work injury: the company's grade (percent)

    def describe(self) -> str:
        """Where the amount comes from, without the amount: the same for every line of a month that
        uses this figure (a settlement stores it once, see ``settlement.basis``)."""
        if self.exemption is not None:
            return f"exempt: {self.exemption.label_en} ({self.exemption.rule})"
        if self.fixed is not None and self.figure is not None:
            return f"fixed {self.fixed} from {self.figure.cite()}"
        if self.rate is not None and self.class_figure is not None:
            return (
                f"{self.rate}% = class rate {self.class_figure.value}% × grade {self.grade}%"
                f" from {self.class_figure.cite()}"
            )
        if self.rate is not None and self.figure is not None:
            return f"{self.rate}% from {self.figure.cite()}"
        return "nothing charged (no figure)"

    def explain(self) -> str:
        return f"{self.side.value}: {self.describe()} → {self.amount}"


def explain_line(
    kind: str,
    label_zh: str,
    base_declared: Decimal,
    base_used: Decimal | None,
    clamp: str | None,
    limit: str | None,
    sides: list[str],
    rounding: str,
) -> list[str]:
    """A line's explanation, in one wording whether it is computed now or read back from a
    settlement (``limit``: the limit's value and citation, when the base was clamped)."""
    lines = [f"{kind} ({label_zh})"]
    if base_used is not None:
        if clamp == "floor":
            lines.append(f"base: declared {base_declared}, below the floor → {base_used}")
        elif clamp == "ceiling":
            lines.append(f"base: declared {base_declared}, above the ceiling → {base_used}")
        else:
            lines.append(f"base: {base_used} (within the floor and ceiling)")
        if clamp and limit:
            lines.append(f"  {clamp} {limit}")
    return [*lines, *sides, f"rounding: {rounding}"]


@dataclass(frozen=True)
class ContributionLine:
    kind: InsuranceKind
    label_zh: str
    label_en: str
    base_declared: Decimal
    base_used: Decimal | None  # None for a kind billed only by fixed amounts
    clamp: str | None  # "floor" or "ceiling" when the declared base was moved to a limit
    limit: ResolvedFigure | None  # the limit applied (or the floor and ceiling checked, the floor)
    employer: Charge
    employee: Charge
    rounding: Rounding

    @property
    def total(self) -> Decimal:
        return self.employer.amount + self.employee.amount

    @property
    def exempt(self) -> bool:
        return self.employer.exemption is not None and self.employee.exemption is not None

    def explain(self) -> list[str]:
        limit = f"{self.limit.value} from {self.limit.cite()}" if self.limit is not None else None
        return explain_line(
            self.kind.value,
            self.label_zh,
            self.base_declared,
            self.base_used,
            self.clamp,
            limit,
            [self.employer.explain(), self.employee.explain()],
            self.rounding.describe(),
        )


@dataclass(frozen=True)
class _KindCard:
    spec: KindSpec
    floor: ResolvedFigure | None
    ceiling: ResolvedFigure | None
    employer_rate: ResolvedFigure | None
    employee_rate: ResolvedFigure | None
    employer_amount: ResolvedFigure | None
    employee_amount: ResolvedFigure | None

    @property
    def uses_base(self) -> bool:
        return self.spec.kind is InsuranceKind.WORK_INJURY or bool(self.employer_rate or self.employee_rate)


class RateCard:
    """What a region bills in one month, resolved once."""

    def __init__(self, figures: FigureSet):
        self.figures = figures
        region = figures.region
        self.month = figures.month
        self.exemptions: tuple[Exemption, ...] = figures.book.exemptions
        f = figures.get
        self.rounding = Rounding(
            mode=str(f("rounding.mode").value) if f("rounding.mode") else "half_up",
            places=int(f("rounding.places").value) if f("rounding.places") else 2,
            figure_mode=f("rounding.mode"),
            figure_places=f("rounding.places"),
        )
        self.class_rates = {n: f(f"work_injury.class_rate.{n}") for n in range(1, 9)}
        self.kinds: list[_KindCard] = []
        for spec in region.kinds:
            if spec.yearly:
                continue  # billed once a year, outside the monthly bill
            k = spec.kind.value
            card = _KindCard(
                spec=spec,
                floor=f(f"{k}.base_floor") or f("base.floor"),
                ceiling=f(f"{k}.base_ceiling") or f("base.ceiling"),
                employer_rate=f(f"{k}.employer_rate"),
                employee_rate=f(f"{k}.employee_rate"),
                employer_amount=f(f"{k}.employer_amount"),
                employee_amount=f(f"{k}.employee_amount"),
            )
            self._check(card)
            self.kinds.append(card)

    def _check(self, card: _KindCard) -> None:
        kind = card.spec.kind
        where = {"region": self.figures.region.code, "month": str(self.month)}
        if kind is InsuranceKind.WORK_INJURY:
            if not any(self.class_rates.values()) and not card.employer_rate:
                raise ShebaoError.of(ErrorCode.NO_FIGURE, None, name="work_injury.class_rate.*", **where)
        elif not (card.employer_rate or card.employee_rate or card.employer_amount or card.employee_amount):
            raise ShebaoError.of(ErrorCode.NO_FIGURE, None, name=f"{kind.value}.employer_rate", **where)
        if card.uses_base:
            for name, fig in (("base.floor", card.floor), ("base.ceiling", card.ceiling)):
                if fig is None:
                    raise ShebaoError.of(ErrorCode.NO_FIGURE, None, name=name, **where)

    def lines(self, who: ContributionInput) -> list[ContributionLine]:
        applicable = [e for e in self.exemptions if e.applies(who.household_type, who.employment_form)]
        return [self._line(card, who, applicable) for card in self.kinds]

    def _line(self, card: _KindCard, who: ContributionInput, exemptions: list[Exemption]) -> ContributionLine:
        kind = card.spec.kind
        base_used = clamp = limit = None
        if card.uses_base:
            floor, ceiling = card.floor.value, card.ceiling.value  # type: ignore[union-attr]
            if who.base < floor:
                base_used, clamp, limit = floor, "floor", card.floor
            elif who.base > ceiling:
                base_used, clamp, limit = ceiling, "ceiling", card.ceiling
            else:
                base_used = who.base
            base_used = Decimal(base_used).quantize(ZERO)

        def exempted(side: Side) -> Exemption | None:
            return next((e for e in exemptions if kind in e.kinds and e.side in (side, Side.BOTH)), None)

        employer = self._charge(Side.EMPLOYER, card, base_used, who, exempted(Side.EMPLOYER))
        employee = self._charge(Side.EMPLOYEE, card, base_used, who, exempted(Side.EMPLOYEE))
        return ContributionLine(
            kind=kind,
            label_zh=card.spec.label_zh,
            label_en=card.spec.label_en,
            base_declared=who.base,
            base_used=base_used,
            clamp=clamp,
            limit=limit,
            employer=employer,
            employee=employee,
            rounding=self.rounding,
        )

    def _charge(
        self, side: Side, card: _KindCard, base: Decimal | None, who: ContributionInput, exemption: Exemption | None
    ) -> Charge:
        if exemption is not None:
            return Charge(side, ZERO, exemption=exemption)
        amount_fig = card.employer_amount if side is Side.EMPLOYER else card.employee_amount
        rate_fig = card.employer_rate if side is Side.EMPLOYER else card.employee_rate
        if amount_fig is not None and (rate_fig is None or amount_fig.since >= rate_fig.since):
            fixed = Decimal(amount_fig.value).quantize(ZERO)
            return Charge(side, fixed, fixed=fixed, figure=amount_fig)
        if card.spec.kind is InsuranceKind.WORK_INJURY and side is Side.EMPLOYER and rate_fig is None:
            class_fig = self.class_rates.get(who.industry_class)
            if class_fig is None:
                raise ShebaoError.of(
                    ErrorCode.NO_FIGURE,
                    None,
                    name=f"work_injury.class_rate.{who.industry_class}",
                    region=self.figures.region.code,
                    month=str(self.month),
                )
            rate = Decimal(class_fig.value) * who.industry_grade / HUNDRED
            amount = self.rounding.apply(base * rate / HUNDRED)  # type: ignore[operator]
            return Charge(side, amount, rate=rate.normalize(), class_figure=class_fig, grade=who.industry_grade)
        if rate_fig is not None and base is not None:
            rate = Decimal(rate_fig.value)
            return Charge(side, self.rounding.apply(base * rate / HUNDRED), rate=rate, figure=rate_fig)
        return Charge(side, ZERO)
