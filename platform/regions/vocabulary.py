"""The words of the region plugin API: insurance kinds, confidence, units, declaration and document
kinds, the parameter names a figure may carry. Plugins import them from :mod:`.api`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

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
