"""Valid identity numbers and company data for tests, computed with python-stdnum."""

from __future__ import annotations

import itertools
import random

from stdnum.cn import ric

from shebao.platform.demo import synthetic_credit_code

_seq = itertools.count(1)


def resident_id(birth: str = "19900101", area: str = "110105", female: bool | None = None) -> str:
    """A valid 18-digit resident ID number (unique per call within a run)."""
    while True:
        n = next(_seq) % 1000
        if female is not None and (n % 2 == 0) != female:  # the 17th digit is even for women
            continue
        body = f"{area}{birth}{n:03d}"
        return body + ric.calc_check_digit(body + "0")


def credit_code(seed: int | None = None) -> str:
    return synthetic_credit_code(random.Random(seed if seed is not None else next(_seq) * 7919))


def company_values(region_code: str = "tianjin", **overrides) -> dict:
    values = {
        "name": f"测试单位{next(_seq)}有限公司",
        "credit_code": credit_code(),
        "region_code": region_code,
        "legal_rep_name": "张三",
        "legal_rep_id_number": resident_id(),
        "contact_name": "李四",
        "contact_mobile": "13800138000",
        "bank_name": "中国工商银行天津分行",
        "bank_account": "6222020200112233",
        "bank_account_name": "测试单位",
        "industry_class": 2,
        "industry_grade": 100,
    }
    values.update(overrides)
    return values
