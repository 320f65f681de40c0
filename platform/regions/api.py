"""The public API for region plugins: the only module a region plugin imports (with its testing kit,
:mod:`shebao.platform.regions.testing`).

A region plugin is a Python distribution that registers a module under the ``shebao.regions``
entry-point group and implements the hooks of :class:`RegionSpec`. A region is mostly data, kept in
TOML files inside the plugin, so a new year's figures are a data change::

    # pyproject.toml
    [project.entry-points."shebao.regions"]
    tianjin = "shebao_region_tianjin"

    # shebao_region_tianjin/__init__.py
    from shebao.platform.regions.api import hookimpl, load_region

    @hookimpl
    def shebao_regions():
        return [load_region(__package__, "data/tianjin.toml")]

Hooks are synchronous and pure: they return data and touch nothing else (no database, no network,
no clock). The host builds the plugin manager once per process and checks every hook name at
start-up, so a misspelled hook, an import error or a bad data file stops the start-up with the
plugin's name, the file and the problem. ``docs/regions.md`` is the maintainers' guide.

Units: rates are **percent** (``16`` means 16%), amounts are yuan, months are ``YYYY-MM``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pluggy

from shebao.platform.core.month import Month

PROJECT = "shebao"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

REGION_CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")


class InsuranceKind(StrEnum):
    """险种, in the order a notice prints them."""

    PENSION = "pension"  # 养老
    MEDICAL = "medical"  # 医疗 (maternity merged in most regions since 国办发〔2019〕10号)
    MATERNITY = "maternity"  # 生育, where a region still prints it as its own line
    UNEMPLOYMENT = "unemployment"  # 失业
    WORK_INJURY = "work_injury"  # 工伤: employer only, rate by the company's industry class and grade
    LARGE_MEDICAL = "large_medical"  # 大额医疗 / 大病, often a fixed monthly amount
    SUPPLEMENTARY_MEDICAL = "supplementary_medical"  # 补充医疗 (Leshan: yearly)


class Confidence(StrEnum):
    """How far a figure can be trusted; shown beside every figure."""

    OFFICIAL = "official"  # read from the official document (statute, bureau notice, the manual)
    MEDIUM = "medium"  # a secondary source that names the official document
    LOW = "low"  # a secondary source without an official reference
    NATIONAL_DEFAULT = "national_default"  # no regional figure found: the national rule applies
    ASSUMPTION = "assumption"  # nothing found: a stated assumption, to be replaced


class Unit(StrEnum):
    PERCENT = "percent"  # of the base
    YUAN = "yuan"  # a monthly amount in yuan
    PERCENT_PER_DAY = "percent_per_day"
    DAY = "day"  # day of the month
    MONTHS = "months"
    PLACES = "places"  # decimal places
    MODE = "mode"  # a rounding mode name


class Side(StrEnum):
    EMPLOYER = "employer"
    EMPLOYEE = "employee"
    BOTH = "both"


class DeclarationKind(StrEnum):
    """申报业务."""

    ADD = "add"  # 增员 / 新参保
    STOP = "stop"  # 减员 / 停保
    BASE_CHANGE = "base_change"  # 基数申报 / 工资申报
    BACK_PAYMENT = "back_payment"  # 补缴 / 核定基数补缴
    CORRECTION = "correction"  # 信息更正 (ordinary)
    SENSITIVE_CORRECTION = "sensitive_correction"  # 信息更正 (sensitive: name, ID number)
    ROLLBACK = "rollback"  # 回退 (Guiyang: a back payment not yet paid)


class DocumentKind(StrEnum):
    PAYMENT_NOTICE = "payment_notice"  # 单位缴费通知单
    COLLECTION_VERIFICATION = "collection_verification"  # 单位征集核定单 / 申报核定表
    UNIT_PAYMENT_CERTIFICATE = "unit_payment_certificate"  # 单位缴费证明
    PERSONAL_CERTIFICATE = "personal_certificate"  # 参保缴费证明
    PERSONAL_STATEMENT = "personal_statement"  # 个人对账单
    CHANGES_TABLE = "changes_table"  # 增减表
    NEW_ENROLLEE_FORM = "new_enrollee_form"  # 新增参保人员登记表
    LARGE_MEDICAL_ROSTER = "large_medical_roster"  # 大额医疗救助人员缴费名册


class SettlePrecondition(StrEnum):
    NOTHING_DECLARED = "nothing_declared"  # no declaration at all for the month (no-change settle)
    ALL_APPROVED = "all_approved"  # every declaration of the month approved (with-change settle)


class BaseLimitAction(StrEnum):
    REFUSE = "refuse"  # the declaration is refused
    CLAMP = "clamp"  # accepted; the computation uses the limit


# Parameter names a figure may carry. ``{kind}`` is an InsuranceKind value.
KIND_PARAMETERS: dict[str, Unit] = {
    "employer_rate": Unit.PERCENT,
    "employee_rate": Unit.PERCENT,
    "employer_amount": Unit.YUAN,
    "employee_amount": Unit.YUAN,
    "base_floor": Unit.YUAN,  # overrides base.floor for this kind
    "base_ceiling": Unit.YUAN,
}
REGION_PARAMETERS: dict[str, Unit] = {
    "base.floor": Unit.YUAN,
    "base.ceiling": Unit.YUAN,
    **{f"work_injury.class_rate.{n}": Unit.PERCENT for n in range(1, 9)},
    "rounding.places": Unit.PLACES,
    "rounding.mode": Unit.MODE,
    "late_fee.daily_rate": Unit.PERCENT_PER_DAY,
    "payment.due_day": Unit.DAY,  # contributions of month M are due on this day of month M
    "back_payment.max_months": Unit.MONTHS,
    "supplementary_medical.account_minimum": Unit.YUAN,
    **{f"cutoff.{k.value}": Unit.DAY for k in DeclarationKind},  # monthly cut-off day per kind
}
ROUNDING_MODES = ("half_up", "half_even", "down", "up")
_KINDS = frozenset(k.value for k in InsuranceKind)


def parameter_unit(name: str) -> Unit | None:
    """The unit of a parameter name, or None when the name is unknown."""
    if name in REGION_PARAMETERS:
        return REGION_PARAMETERS[name]
    kind, _, attr = name.partition(".")
    if kind in _KINDS and attr in KIND_PARAMETERS:
        return KIND_PARAMETERS[attr]
    return None


def parameter_names(kinds: Iterable[InsuranceKind | str] = tuple(InsuranceKind)) -> list[str]:
    """Every parameter name for regions billing ``kinds``."""
    kinds = {str(k) for k in kinds}
    names = [n for n in REGION_PARAMETERS if n.split(".", 1)[0] not in _KINDS or n.split(".", 1)[0] in kinds]
    return names + [f"{k.value}.{attr}" for k in InsuranceKind if k.value in kinds for attr in KIND_PARAMETERS]


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


# Fields a declaration or a template column may carry.
TEMPLATE_FIELDS = {
    "company": "参保单位",  # agency-wide templates: the client company (credit code or unit number)
    "id_number": "公民身份号码",
    "name": "姓名",
    "household_type": "户口性质",
    "employment_form": "用工形式",
    "phone": "联系电话",
    "start_month": "参保年月",
    "monthly_base": "申报工资",
    "stop_month": "减员年月",
    "stop_reason": "变更原因",
    "change_month": "变更年月",
    "from_month": "开始月份",
    "to_month": "终止月份",
    "target_kind": "回退业务类型",  # a rollback: which kind of declaration it takes back
}


class RegionSpec:
    """The hooks a region plugin may implement."""

    @hookspec
    def shebao_regions(self) -> list[Region]:
        """The regions this plugin serves (usually ``[load_region(__package__, "data/x.toml")]``)."""
        raise NotImplementedError

    @hookspec
    def shebao_check_declaration(self, region: Region, facts: DeclarationFacts) -> list[Violation]:
        """A region's rules that data cannot say: return what the declaration breaks (or nothing).

        Called for every declaration in every region: return ``[]`` for regions you do not serve.
        """
        raise NotImplementedError


from shebao.platform.regions.datafile import RegionDataError, load_region  # noqa: E402 (needs the types above)

__all__ = [
    "REGION_CODE",
    "ROUNDING_MODES",
    "TEMPLATE_FIELDS",
    "Attachment",
    "BaseLimitAction",
    "BatchTemplate",
    "CodedList",
    "CodedValue",
    "Confidence",
    "DeclarationFacts",
    "DeclarationKind",
    "DocumentForm",
    "DocumentKind",
    "Exemption",
    "FieldRules",
    "Figure",
    "InsuranceKind",
    "KindSpec",
    "Month",
    "Notice",
    "OtherEnrollment",
    "Region",
    "RegionDataError",
    "RegionSpec",
    "SettlePrecondition",
    "SettlementMode",
    "SettlementRules",
    "Side",
    "Source",
    "TemplateColumn",
    "Unit",
    "Violation",
    "hookimpl",
    "hookspec",
    "load_region",
    "parameter_names",
    "parameter_unit",
]
