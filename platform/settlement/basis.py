"""What a settlement's lines were computed from, frozen once per settlement, and each line's
explanation rebuilt from it.

The basis holds, per month billed: each kind's label, floor and ceiling and each side's rate or
fixed amount, with their citations (source, layer, since when), the rounding rule and the late-fee
rule; and the exemptions that applied. A line stores only its own numbers and which exemption
applied, so its explanation reads the same as the one :meth:`ContributionLine.explain` gives when
it is computed, long after the figures have changed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.month import Month
from shebao.platform.regions.api import KindSpec, Region
from shebao.platform.regions.contributions import ContributionLine, RateCard, explain_line
from shebao.platform.regions.figures import FigureSet, ResolvedFigure

SIDES = ("employer", "employee")


def _cite(figure: ResolvedFigure | None) -> str | None:
    return None if figure is None else f"{figure.value} from {figure.cite()}"


class BasisRecorder:
    """Collects the basis while lines are computed; cheap per line (a set lookup once complete)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {"months": {}, "exemptions": {}}
        self.region_kinds: tuple[KindSpec, ...] = ()
        self._cards: set[Month] = set()
        self._complete: set[tuple] = set()

    def start(self, region: Region, company: ClientCompany) -> None:
        self.region_kinds = tuple(k for k in region.kinds if not k.yearly)
        self.data["region"] = region.code
        self.data["work_injury"] = {"class": company.industry_class, "grade": company.industry_grade}

    def record_card(self, card: RateCard) -> None:
        if card.month in self._cards:
            return
        self._cards.add(card.month)
        rounding = card.rounding.describe()
        if card.rounding.figure_mode is not None:
            rounding += f" ({card.rounding.figure_mode.cite()})"
        self.data["months"][str(card.month)] = {
            "rounding": rounding,
            "kinds": {
                k.spec.kind.value: {
                    "label_zh": k.spec.label_zh,
                    "label_en": k.spec.label_en,
                    "floor": _cite(k.floor),
                    "ceiling": _cite(k.ceiling),
                }
                for k in card.kinds
            },
        }

    def record_late_fee(self, month: Month, figures: FigureSet, due: date) -> None:
        entry = self.data["months"][str(month)]
        if "late_fee" not in entry:
            rate = figures.get("late_fee.daily_rate")
            rule = f"{rate.value}%/day from {rate.cite()}" if rate is not None else "no late fee"
            entry["late_fee"] = f"{rule}, due {due.isoformat()}"

    def record_line(self, month: Month, line: ContributionLine) -> None:
        exemptions = self.data["exemptions"]
        for charge in (line.employer, line.employee):
            if charge.exemption is not None and charge.exemption.rule not in exemptions:
                exemptions[charge.exemption.rule] = charge.describe()
        key = (month, line.kind)
        if key in self._complete:
            return
        kind = self.data["months"][str(month)]["kinds"][line.kind.value]
        for side, charge in zip(SIDES, (line.employer, line.employee), strict=True):
            if charge.exemption is None and side not in kind:
                kind[side] = charge.describe()
        if all(side in kind for side in SIDES):
            self._complete.add(key)


def exemption_of(line: ContributionLine, side: str) -> str | None:
    charge = line.employer if side == "employer" else line.employee
    return charge.exemption.rule if charge.exemption is not None else None


def explain(line: Any, basis: dict[str, Any]) -> list[str]:
    """A stored line's explanation (``line``: a SettlementLine) from its settlement's basis."""
    month = basis.get("months", {}).get(str(line.month), {})
    kind = month.get("kinds", {}).get(line.kind, {})
    sides = []
    for side, exempt, amount in (
        ("employer", line.employer_exempt, line.employer_amount),
        ("employee", line.employee_exempt, line.employee_amount),
    ):
        described = basis.get("exemptions", {}).get(exempt) if exempt else kind.get(side)
        sides.append(f"{side}: {described or 'nothing charged (no figure)'} → {amount}")
    out = explain_line(
        line.kind,
        kind.get("label_zh", ""),
        line.base_declared,
        line.base_used,
        line.clamp,
        kind.get(line.clamp) if line.clamp else None,
        sides,
        month.get("rounding", ""),
    )
    if line.late_days:
        out.append(f"late fee: {line.late_days} days, {month.get('late_fee', '')} → {line.late_fee}")
    return out
