"""Figures and contribution lines over GraphQL: what is in force, and how a line was computed."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

import strawberry

from shebao.graphql.types.common import Month
from shebao.platform.regions import api
from shebao.platform.regions.contributions import Charge, ContributionLine
from shebao.platform.regions.figures import Layer, ResolvedFigure

InsuranceKindEnum = strawberry.enum(api.InsuranceKind, name="InsuranceKind")
ConfidenceEnum = strawberry.enum(api.Confidence, name="Confidence")
UnitEnum = strawberry.enum(api.Unit, name="FigureUnit")
DeclarationKindEnum = strawberry.enum(api.DeclarationKind, name="DeclarationKind")
DocumentKindEnum = strawberry.enum(api.DocumentKind, name="DocumentKind")
SettlePreconditionEnum = strawberry.enum(api.SettlePrecondition, name="SettlePrecondition")
SideEnum = strawberry.enum(api.Side, name="Side")
BaseLimitActionEnum = strawberry.enum(api.BaseLimitAction, name="BaseLimitAction")


@strawberry.enum(description="Where a figure comes from; at the same month the agency's wins, then the region's.")
class FigureLayer(enum.Enum):
    NATIONAL = "national"
    REGION = "region"
    AGENCY = "agency"


@strawberry.type(description="A dated figure in force for a month, with where it comes from.")
class Figure:
    name: str
    value: str = strawberry.field(description="Exact decimal text (or a rounding mode); rates are percent.")
    unit: UnitEnum
    since: Month
    layer: FigureLayer
    confidence: ConfidenceEnum
    source_title: str
    source_reference: str
    source_url: str
    reviewed: date | None
    note: str
    policy_figure_id: strawberry.ID | None

    @classmethod
    def of(cls, f: ResolvedFigure | None) -> Figure | None:
        if f is None:
            return None
        return cls(
            name=f.name,
            value=str(f.value),
            unit=f.unit,
            since=f.since,
            layer=FigureLayer(Layer(f.layer).label),
            confidence=f.confidence,
            source_title=f.source.title,
            source_reference=f.source.reference,
            source_url=f.source.url,
            reviewed=f.reviewed,
            note=f.note,
            policy_figure_id=strawberry.ID(str(f.policy_id)) if f.policy_id else None,
        )


@strawberry.type(description="An exemption applied to one side: why nothing is charged.")
class AppliedExemption:
    rule: str
    label_zh: str
    label_en: str


@strawberry.type(description="One side (employer or employee) of a contribution line.")
class ContributionCharge:
    side: SideEnum
    amount: Decimal
    rate: Decimal | None = strawberry.field(description="Percent of the base used.")
    fixed: Decimal | None
    figure: Figure | None
    class_rate: Figure | None = strawberry.field(description="Work injury: the industry class's base rate.")
    grade: int | None
    exemption: AppliedExemption | None

    @classmethod
    def of(cls, c: Charge) -> ContributionCharge:
        e = c.exemption
        return cls(
            side=c.side,
            amount=c.amount,
            rate=c.rate,
            fixed=c.fixed,
            figure=Figure.of(c.figure),
            class_rate=Figure.of(c.class_figure),
            grade=c.grade,
            exemption=AppliedExemption(rule=e.rule, label_zh=e.label_zh, label_en=e.label_en) if e else None,
        )


@strawberry.type(description="One insurance kind for one person and month; `explanation` says how it was computed.")
class ContributionLineType:
    kind: InsuranceKindEnum
    label_zh: str
    base_declared: Decimal
    base_used: Decimal | None
    clamp: str | None = strawberry.field(description='"floor" or "ceiling" when the base was moved to a limit.')
    limit: Figure | None
    employer: ContributionCharge
    employee: ContributionCharge
    total: Decimal
    rounding: str
    explanation: list[str]

    @classmethod
    def of(cls, line: ContributionLine) -> ContributionLineType:
        return cls(
            kind=line.kind,
            label_zh=line.label_zh,
            base_declared=line.base_declared,
            base_used=line.base_used,
            clamp=line.clamp,
            limit=Figure.of(line.limit),
            employer=ContributionCharge.of(line.employer),
            employee=ContributionCharge.of(line.employee),
            total=line.total,
            rounding=line.rounding.describe(),
            explanation=line.explain(),
        )


ContributionLineType.__strawberry_definition__.name = "ContributionLine"


@strawberry.type(description="What one person would be billed for a month (nothing is stored).")
class Calculation:
    month: Month
    lines: list[ContributionLineType]
    employer_total: Decimal
    employee_total: Decimal
    total: Decimal
