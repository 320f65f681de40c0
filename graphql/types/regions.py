"""Regions over GraphQL: rules, coded lists, forms, settlement semantics, figures in force, a calculator."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.types import Info

from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Month
from shebao.graphql.types.figures import (
    BaseLimitActionEnum,
    Calculation,
    ContributionLineType,
    DeclarationKindEnum,
    DocumentKindEnum,
    Figure,
    InsuranceKindEnum,
    SettlePreconditionEnum,
    SideEnum,
)
from shebao.platform.regions import api
from shebao.platform.regions import service as regions
from shebao.platform.regions.registry import LoadedRegion
from shebao.platform.regions.rules import CORE_REQUIRED


@strawberry.type
class RegionInsuranceKind:
    kind: InsuranceKindEnum
    label_zh: str
    label_en: str
    yearly: bool = strawberry.field(description="Billed once a year, outside the monthly bill.")


@strawberry.type
class CodedValue:
    code: str
    label_zh: str
    label_en: str
    form_code: str = strawberry.field(description="The region's own code on its forms, when it has one.")


@strawberry.type(description="A coded list (下拉菜单): the only values a form field accepts.")
class CodedList:
    name: str
    label_zh: str
    label_en: str
    values: list[CodedValue]


@strawberry.type
class RequiredFields:
    declaration: DeclarationKindEnum
    fields: list[str] = strawberry.field(description="Declaration fields (snake_case, as in templates).")


@strawberry.type
class AttachmentRule:
    declaration: DeclarationKindEnum
    document: str
    label_zh: str
    label_en: str
    employment_forms: list[str] = strawberry.field(description="Empty: every declaration of that kind.")


@strawberry.type
class NoticeRule:
    declaration: DeclarationKindEnum
    text_zh: str
    text_en: str
    employment_forms: list[str]
    household_types: list[str]


@strawberry.type
class Exemption:
    rule: str
    label_zh: str
    label_en: str
    kinds: list[InsuranceKindEnum]
    side: SideEnum
    employment_forms: list[str]
    household_types: list[str]


@strawberry.type(description="What a declaration must carry in this region and the rules checked on it.")
class FieldRules:
    required: list[RequiredFields]
    attachments: list[AttachmentRule]
    notices: list[NoticeRule]
    insured_elsewhere_refused: bool
    arrears_block_stop: bool
    add_before_back_payment: bool
    base_below_floor: BaseLimitActionEnum
    base_above_ceiling: BaseLimitActionEnum


@strawberry.type
class TemplateColumn:
    key: str
    label_zh: str
    required: bool
    coded_list: str | None
    example: str


@strawberry.type(description="The region's batch workbook (报盘) for one declaration kind.")
class BatchTemplate:
    declaration: DeclarationKindEnum
    title_zh: str
    title_en: str
    columns: list[TemplateColumn]


@strawberry.type(description="A document the region issues, with its official title.")
class DocumentForm:
    kind: DocumentKindEnum
    title_zh: str
    title_en: str
    month_range: bool
    seal: bool
    note_zh: str


@strawberry.type
class SettlementMode:
    code: str
    label_zh: str
    label_en: str
    precondition: SettlePreconditionEnum
    carries_previous_month: bool
    rollback_while_unpaid: bool
    per_kind: bool


@strawberry.type
class SettlementRules:
    modes: list[SettlementMode]
    review_required: list[DeclarationKindEnum]
    rollback_kinds: list[DeclarationKindEnum]


@strawberry.type
class Source:
    key: str
    title: str
    reference: str
    url: str


@strawberry.type(description="A region served by a plugin: its rules, forms and settlement semantics.")
class Region:
    code: str
    name_zh: str
    name_en: str
    plugin: str
    plugin_version: str
    unit_number_pattern: str | None
    unit_number_hint_zh: str
    unit_number_hint_en: str
    inherits_national: bool
    insurance_kinds: list[RegionInsuranceKind]
    coded_lists: list[CodedList]
    field_rules: FieldRules
    exemptions: list[Exemption] = strawberry.field(description="Including the national ones the region inherits.")
    templates: list[BatchTemplate]
    documents: list[DocumentForm]
    settlement: SettlementRules
    sources: list[Source]

    @strawberry.field(description="Every figure in force in `month`, for this agency (its policy library applies).")
    async def figures(self, info: Info, month: Month) -> list[Figure]:
        found = await info.context.call(regions.figures_for, self.code, month)
        return [Figure.of(f) for f in found]

    @strawberry.field(description="What one person would be billed in `month` (rates, clamps, exemptions).")
    async def calculate(
        self,
        info: Info,
        month: Month,
        base: Decimal,
        household_type: str,
        employment_form: str,
        industry_class: int = 1,
        industry_grade: int = 100,
    ) -> Calculation:
        calc = await info.context.call(
            regions.calculate,
            self.code,
            month,
            base=base,
            household_type=household_type,
            employment_form=employment_form,
            industry_class=industry_class,
            industry_grade=industry_grade,
        )
        return Calculation(
            month=calc.month,
            lines=[ContributionLineType.of(line) for line in calc.lines],
            employer_total=calc.employer_total,
            employee_total=calc.employee_total,
            total=calc.employer_total + calc.employee_total,
        )

    @classmethod
    def of(cls, loaded: LoadedRegion) -> Region:
        r = loaded.region
        f = r.fields
        from shebao.platform.regions.registry import registry

        book = registry().book(r.code)
        required = [
            RequiredFields(declaration=k, fields=[*CORE_REQUIRED.get(k, ()), *f.required.get(k, ())])
            for k in api.DeclarationKind
        ]
        return cls(
            code=r.code,
            name_zh=r.name_zh,
            name_en=r.name_en,
            plugin=loaded.plugin,
            plugin_version=loaded.version,
            unit_number_pattern=r.unit_number_pattern,
            unit_number_hint_zh=r.unit_number_hint_zh,
            unit_number_hint_en=r.unit_number_hint_en,
            inherits_national=r.inherit_national,
            insurance_kinds=[
                RegionInsuranceKind(kind=k.kind, label_zh=k.label_zh, label_en=k.label_en, yearly=k.yearly)
                for k in r.kinds
            ],
            coded_lists=[
                CodedList(
                    name=c.name,
                    label_zh=c.label_zh,
                    label_en=c.label_en,
                    values=[
                        CodedValue(code=v.code, label_zh=v.label_zh, label_en=v.label_en, form_code=v.form_code)
                        for v in c.values
                    ],
                )
                for c in f.coded_lists.values()
            ],
            field_rules=FieldRules(
                required=required,
                attachments=[
                    AttachmentRule(
                        declaration=a.declaration,
                        document=a.document,
                        label_zh=a.label_zh,
                        label_en=a.label_en,
                        employment_forms=sorted(a.employment_forms),
                    )
                    for a in f.attachments
                ],
                notices=[
                    NoticeRule(
                        declaration=n.declaration,
                        text_zh=n.text_zh,
                        text_en=n.text_en,
                        employment_forms=sorted(n.employment_forms),
                        household_types=sorted(n.household_types),
                    )
                    for n in f.notices
                ],
                insured_elsewhere_refused=f.insured_elsewhere_refused,
                arrears_block_stop=f.arrears_block_stop,
                add_before_back_payment=f.add_before_back_payment,
                base_below_floor=f.base_below_floor,
                base_above_ceiling=f.base_above_ceiling,
            ),
            exemptions=[
                Exemption(
                    rule=e.rule,
                    label_zh=e.label_zh,
                    label_en=e.label_en,
                    kinds=sorted(e.kinds),
                    side=e.side,
                    employment_forms=sorted(e.employment_forms),
                    household_types=sorted(e.household_types),
                )
                for e in book.exemptions
            ],
            templates=[
                BatchTemplate(
                    declaration=t.declaration,
                    title_zh=t.title_zh,
                    title_en=t.title_en,
                    columns=[
                        TemplateColumn(
                            key=c.key, label_zh=c.label_zh, required=c.required, coded_list=c.coded, example=c.example
                        )
                        for c in t.columns
                    ],
                )
                for t in r.templates
            ],
            documents=[
                DocumentForm(
                    kind=d.kind,
                    title_zh=d.title_zh,
                    title_en=d.title_en,
                    month_range=d.month_range,
                    seal=d.seal,
                    note_zh=d.note_zh,
                )
                for d in r.documents
            ],
            settlement=SettlementRules(
                modes=[
                    SettlementMode(
                        code=m.code,
                        label_zh=m.label_zh,
                        label_en=m.label_en,
                        precondition=m.precondition,
                        carries_previous_month=m.carries_previous_month,
                        rollback_while_unpaid=m.rollback_while_unpaid,
                        per_kind=m.per_kind,
                    )
                    for m in r.settlement.modes
                ],
                review_required=sorted(r.settlement.review_required),
                rollback_kinds=sorted(r.settlement.rollback_kinds),
            ),
            sources=[
                Source(key=s.key, title=s.title, reference=s.reference, url=s.url)
                for s in [*r.sources.values(), *(registry().national.sources.values() if r.inherit_national else ())]
            ],
        )


@strawberry.type
class RegionQuery:
    @strawberry.field(extensions=requires(), description="Every region the installed plugins serve.")
    def regions(self) -> list[Region]:
        return [Region.of(r) for r in regions.list_regions()]

    @strawberry.field(extensions=requires(), description="One region by code; null when no plugin serves it.")
    def region(self, code: str) -> Region | None:
        found = next((r for r in regions.list_regions() if r.region.code == code), None)
        return Region.of(found) if found else None
