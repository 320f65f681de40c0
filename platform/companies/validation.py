"""Field checks for a client company; each failure names the field and the rule."""

from __future__ import annotations

import re
from typing import Any

from shebao.platform.core.identity import check_credit_code, check_mobile, check_resident_id
from shebao.platform.errors import ErrorCode, Problems
from shebao.platform.regions.registry import registry

# 人社部发〔2015〕71号: class 1 floats 100/120/150%, classes 2-8 50/80/100/120/150%.
INDUSTRY_GRADES = {1: (100, 120, 150), **{c: (50, 80, 100, 120, 150) for c in range(2, 9)}}

# Changing these needs review (敏感信息变更); the rest applies at once.
SENSITIVE_FIELDS = (
    "name",
    "credit_code",
    "legal_rep_name",
    "legal_rep_id_number",
    "bank_name",
    "bank_account",
    "bank_account_name",
)
ORDINARY_FIELDS = (
    "unit_number",
    "contact_name",
    "contact_id_number",
    "contact_mobile",
    "industry_class",
    "industry_grade",
    "address",
    "phone",
)
REQUIRED_FIELDS = ("name", "credit_code", "region_code", "legal_rep_name")
MAX_LENGTHS = {
    "name": 200,
    "legal_rep_name": 100,
    "contact_name": 100,
    "bank_name": 200,
    "bank_account": 40,
    "bank_account_name": 200,
    "address": 300,
    "phone": 40,
    "unit_number": 40,
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def clean(values: dict[str, Any]) -> dict[str, Any]:
    """Trim text; an empty string means "no value"."""
    out = {}
    for key, value in values.items():
        if isinstance(value, str):
            value = value.strip() or None
        out[key] = value
    return out


def check_company_fields(values: dict[str, Any], region_code: str, problems: Problems) -> None:
    """Check the fields present in ``values`` (all of them on create, the changed ones on update)."""
    for key, limit in MAX_LENGTHS.items():
        value = values.get(key)
        if isinstance(value, str) and len(value) > limit:
            problems.add(ErrorCode.TOO_LONG, camel(key), max=limit)
    if values.get("credit_code"):
        problems.check(check_credit_code, values["credit_code"], field="creditCode")
    for key in ("legal_rep_id_number", "contact_id_number"):
        if values.get(key):
            problems.check(check_resident_id, values[key], camel(key), field=camel(key))
    if values.get("contact_mobile"):
        problems.check(check_mobile, values["contact_mobile"], "contactMobile", field="contactMobile")
    if values.get("bank_account") and not re.fullmatch(r"\d{6,40}", values["bank_account"]):
        problems.add(ErrorCode.INVALID_VALUE, "bankAccount", value=values["bank_account"], allowed="6-40 digits")
    if "industry_class" in values or "industry_grade" in values:
        cls, grade = values.get("industry_class"), values.get("industry_grade")
        if cls not in INDUSTRY_GRADES or grade not in INDUSTRY_GRADES[cls]:
            allowed = "/".join(map(str, INDUSTRY_GRADES.get(cls, INDUSTRY_GRADES[2])))
            problems.add(ErrorCode.INVALID_INDUSTRY_CLASS, "industryClass", allowed=allowed)
    # An unknown region is reported once: the caller may have checked it already.
    if values.get("unit_number") and not any(p.code == ErrorCode.UNKNOWN_REGION for p in problems.items):
        region = problems.check(registry().get, region_code, field="regionCode")
        if region is not None:
            pattern = region.unit_number_pattern or r"^[0-9A-Za-z]{1,40}$"
            if not re.fullmatch(pattern, values["unit_number"]):
                hint_zh = region.unit_number_hint_zh or "1-40 位字母或数字"
                problems.add(
                    ErrorCode.INVALID_UNIT_NUMBER,
                    "unitNumber",
                    region=region.name_zh,
                    hint=hint_zh,
                    hint_en=region.unit_number_hint_en or "1-40 letters or digits",
                )
