"""The data a region plugin returns: a Region with its figures, field rules, forms and settlement
semantics, and what a declaration rule sees and answers. Plugins import them from :mod:`.api`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from shebao.platform.core.month import Month
from shebao.platform.regions.vocabulary import (
    BaseLimitAction,
    Confidence,
    DeclarationKind,
    DocumentKind,
    InsuranceKind,
    SettlePrecondition,
    Side,
    Unit,
    parameter_unit,
)


@dataclass(frozen=True)
class Source:
    """Where figures come from. Figures cite a source by its key."""

    key: str
    title: str
    url: str = ""
    reference: str = ""  # the official document number, e.g. 津人社局发〔2021〕24号


@dataclass(frozen=True)
class Figure:
    """A dated parameter: ``name`` has ``value`` from month ``since`` until the next figure."""

    name: str
    since: Month
    value: Decimal | str
    source: str  # a Source key
    confidence: Confidence
    reviewed: date  # when someone last checked it against the source
    note: str = ""

    @property
    def unit(self) -> Unit | None:
        return parameter_unit(self.name)


@dataclass(frozen=True)
class KindSpec:
    """An insurance kind the region bills, with the label its forms print."""

    kind: InsuranceKind
    label_zh: str
    label_en: str
    yearly: bool = False  # billed once a year (Leshan's supplementary medical), not in the monthly bill


@dataclass(frozen=True)
class Exemption:
    """Who does not pay which kinds, on which side: 'part-time pays work injury only'."""

    rule: str
    label_zh: str
    label_en: str
    kinds: frozenset[InsuranceKind]
    side: Side
    source: str
    employment_forms: frozenset[str] = frozenset()  # empty: any
    household_types: frozenset[str] = frozenset()  # empty: any

    def applies(self, household_type: str, employment_form: str) -> bool:
        return (not self.employment_forms or employment_form in self.employment_forms) and (
            not self.household_types or household_type in self.household_types
        )


@dataclass(frozen=True)
class CodedValue:
    code: str  # Shebao's value (``local_urban``); for stop reasons, the region's own key
    label_zh: str  # the label on the region's forms
    label_en: str
    form_code: str = ""  # the code the region's templates and portal use, when it has one


@dataclass(frozen=True)
class CodedList:
    name: str  # household_types, employment_forms, stop_reasons, ...
    label_zh: str
    label_en: str
    values: tuple[CodedValue, ...]

    def get(self, code: str) -> CodedValue | None:
        return next((v for v in self.values if v.code == code), None)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(v.code for v in self.values)


@dataclass(frozen=True)
class Attachment:
    """A document a declaration must carry (合同, 身份证扫描件), perhaps only for some employment forms."""

    declaration: DeclarationKind
    document: str
    label_zh: str
    label_en: str
    employment_forms: frozenset[str] = frozenset()  # empty: any
    household_types: frozenset[str] = frozenset()  # empty: any


@dataclass(frozen=True)
class Notice:
    """Advice shown to the operator on a declaration (not a refusal): 'bring the contract to the counter'."""

    declaration: DeclarationKind
    text_zh: str
    text_en: str
    employment_forms: frozenset[str] = frozenset()
    household_types: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FieldRules:
    """What a declaration must carry in this region, and the rules the host checks."""

    coded_lists: Mapping[str, CodedList] = field(default_factory=dict)
    required: Mapping[DeclarationKind, tuple[str, ...]] = field(default_factory=dict)  # fields beyond the core ones
    attachments: tuple[Attachment, ...] = ()
    notices: tuple[Notice, ...] = ()
    insured_elsewhere_refused: bool = True  # 在其他单位参保的人员不能新增
    arrears_block_stop: bool = False  # 存在欠缴不能减员 (Tianjin)
    add_before_back_payment: bool = False  # 首次参保先增员再补缴 (Tianjin)
    base_below_floor: BaseLimitAction = BaseLimitAction.REFUSE
    base_above_ceiling: BaseLimitAction = BaseLimitAction.CLAMP


@dataclass(frozen=True)
class TemplateColumn:
    key: str  # a declaration field, see TEMPLATE_FIELDS
    label_zh: str
    required: bool = False
    coded: str | None = None  # the coded list whose values the column accepts (a drop-down)
    example: str = ""


@dataclass(frozen=True)
class BatchTemplate:
    """The region's batch workbook (报盘) for one declaration kind."""

    declaration: DeclarationKind
    title_zh: str
    title_en: str
    columns: tuple[TemplateColumn, ...]


@dataclass(frozen=True)
class DocumentForm:
    """A document the region issues, with its official title."""

    kind: DocumentKind
    title_zh: str
    title_en: str
    month_range: bool = False  # printed for a range of months (开始年月 - 终止年月)
    seal: bool = False  # has a place for the unit's seal (盖章)
    note_zh: str = ""


@dataclass(frozen=True)
class SettlementMode:
    """One way the region settles a month, and what it takes."""

    code: str  # no_change, with_change, assessment, collection_plan, tax_declaration, ...
    label_zh: str
    label_en: str
    precondition: SettlePrecondition
    carries_previous_month: bool = False  # bills last month's roster and bases (无变动结算)
    rollback_while_unpaid: bool = False  # 核定回退
    per_kind: bool = False  # one plan per insurance kind (征集计划)


@dataclass(frozen=True)
class SettlementRules:
    modes: tuple[SettlementMode, ...] = ()
    review_required: frozenset[DeclarationKind] = frozenset()  # the other kinds are approved on submit
    rollback_kinds: frozenset[DeclarationKind] = frozenset()  # declarations that can be rolled back while unpaid

    def mode(self, code: str) -> SettlementMode | None:
        return next((m for m in self.modes if m.code == code), None)


@dataclass(frozen=True)
class Region:
    """One region a plugin serves: a province-wide scheme or one city's rate table.

    ``code`` is ``plugin`` or ``plugin.city`` (for instance ``fujian.xiamen``): lowercase ASCII.
    ``unit_number_pattern`` is a regular expression the social-insurance unit number
    (单位社保编号) must match in full; ``None`` accepts any 1-40 letters and digits.
    Build it with :func:`load_region` from a data file rather than by hand.
    """

    code: str
    name_zh: str
    name_en: str
    unit_number_pattern: str | None = None
    unit_number_hint_zh: str = ""
    unit_number_hint_en: str = ""
    kinds: tuple[KindSpec, ...] = ()
    figures: tuple[Figure, ...] = ()
    sources: Mapping[str, Source] = field(default_factory=dict)
    exemptions: tuple[Exemption, ...] = ()
    fields: FieldRules = field(default_factory=FieldRules)
    templates: tuple[BatchTemplate, ...] = ()
    documents: tuple[DocumentForm, ...] = ()
    settlement: SettlementRules = field(default_factory=SettlementRules)
    data_file: str = ""  # the file it was loaded from, for messages
    inherit_national: bool = True  # fall back to the national figures and exemptions

    def kind(self, kind: InsuranceKind | str) -> KindSpec | None:
        return next((k for k in self.kinds if k.kind == kind), None)

    def document(self, kind: DocumentKind | str) -> DocumentForm | None:
        return next((d for d in self.documents if d.kind == kind), None)

    def template(self, declaration: DeclarationKind | str) -> BatchTemplate | None:
        return next((t for t in self.templates if t.declaration == declaration), None)

    def coded_list(self, name: str) -> CodedList | None:
        return self.fields.coded_lists.get(name)


@dataclass(frozen=True)
class OtherEnrollment:
    """An active enrollment of the same person at another client company."""

    company_name: str
    region_code: str
    since: Month


@dataclass(frozen=True)
class DeclarationFacts:
    """Everything a rule may look at, gathered by the host: rules stay pure.

    ``values`` holds the declaration's fields (see TEMPLATE_FIELDS), already typed: months as
    Month, amounts as Decimal.
    """

    declaration: DeclarationKind
    region_code: str
    values: Mapping[str, Any]
    today: date
    other_enrollments: tuple[OtherEnrollment, ...] = ()
    ever_enrolled_here: bool = False  # the person has (or had) an enrollment at this company
    arrears: Decimal = Decimal("0")  # unpaid contributions of the person at this company
    attachments: frozenset[str] = frozenset()  # documents attached, by name
    paid: bool = False  # for a rollback: whether the declaration being rolled back is paid


@dataclass(frozen=True)
class Violation:
    """A region's own rule, broken. ``rule`` is stable (``leshan.part_time_counter``); messages say why.

    ``field`` names the input field in the API's camelCase (``idNumber``, ``monthlyBase``), or None.
    """

    rule: str
    field: str | None
    message_zh: str
    message_en: str
