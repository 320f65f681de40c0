"""The demo agency seeded by ``shebao demo``: a login, client companies in every region, people.

The admin password is generated at every seeding and printed once; there is no default password.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import ric, uscc

from shebao.platform.audit import service as audit
from shebao.platform.auth.models import User
from shebao.platform.auth.passwords import generate_password
from shebao.platform.auth.permissions import Role
from shebao.platform.auth.service import set_password
from shebao.platform.companies.service import create_company
from shebao.platform.core.month import Month
from shebao.platform.people.models import EmploymentForm, HouseholdType
from shebao.platform.people.service import enroll, register_person
from shebao.platform.policy.service import NewFigure, record_figure
from shebao.platform.regions.api import Confidence
from shebao.platform.regions.registry import registry
from shebao.platform.tenancy.context import Actor
from shebao.platform.tenancy.filters import bind_actor
from shebao.platform.tenancy.models import Agency
from shebao.platform.tenancy.service import create_agency

DEMO_CODE = "demo"
NAMES = ["王芳", "李伟", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强", "周杰", "吴霞", "徐涛", "孙艳"]
AREAS = {"fujian": "350102", "tianjin": "120101", "yunnan": "530102", "guiyang": "520102", "leshan": "511102"}


@dataclass(frozen=True)
class DemoLogin:
    agency_code: str
    username: str
    password: str
    created: bool


def synthetic_credit_code(rng: random.Random) -> str:
    """A valid unified social credit code (GB 32100 check character) for demo and test data."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91" + "".join(rng.choice("0123456789") for _ in range(6)) + "".join(rng.choice(alphabet) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def _resident_id(rng: random.Random, area: str) -> str:
    # stdnum knows when each area code was in use; draw again until the birth date fits the area.
    while True:
        body = (
            f"{area}{rng.randint(1966, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        )
        number = body + ric.calc_check_digit(body + "0")
        if ric.is_valid(number):
            return number


async def seed_demo(session: AsyncSession) -> DemoLogin:
    """Create the demo agency (or give its admin a fresh password if it exists)."""
    password = generate_password()
    agency = await session.scalar(select(Agency).where(Agency.code == DEMO_CODE))
    if agency is not None:
        await bind_actor(session, Actor.system(agency.id))
        admin = await session.scalar(select(User).where(User.role == Role.ADMIN).order_by(User.id))
        await set_password(session, admin, password, keep_token=None)
        await audit.record(session, "user.reset_password", "user", admin.id, after={"by": "shebao demo"})
        await session.commit()
        return DemoLogin(DEMO_CODE, admin.username, password, created=False)
    new = await create_agency(session, DEMO_CODE, "演示人力资源服务有限公司", "admin", password)
    await bind_actor(session, Actor.system(new.agency.id))
    await _seed_companies(session)
    await _seed_policy(session)
    await session.commit()
    return DemoLogin(DEMO_CODE, "admin", password, created=True)


async def _seed_companies(session: AsyncSession) -> None:
    """In every region: one client company, and people of every household type and employment form
    the region lists, with bases around its floor and ceiling so clamps and exemptions show."""
    rng = random.Random(20261123)  # noqa: S311 (not a secret: the same demo data every time)
    start = Month(2026, 1)
    n = 0
    for loaded in registry().all():
        region = loaded.region
        unit_number = "".join(rng.choice("0123456789") for _ in range(13))
        company = await create_company(
            session,
            {
                "name": f"{region.name_zh}示范科技有限公司",
                "credit_code": synthetic_credit_code(rng),
                "region_code": region.code,
                "unit_number": unit_number,
                "legal_rep_name": "张建国",
                "contact_name": "李小红",
                "contact_mobile": "139" + "".join(rng.choice("0123456789") for _ in range(8)),
                "bank_name": f"中国建设银行{region.name_zh}分行",
                "bank_account": "62170000" + str(rng.randint(10**9, 10**10)),
                "bank_account_name": f"{region.name_zh}示范科技有限公司",
                "industry_class": rng.randint(2, 8),
                "industry_grade": 100,
                "address": f"{region.name_zh}市示范路 {rng.randint(1, 300)} 号",
            },
        )
        households = _codes(region, "household_types", [h.value for h in HouseholdType])
        forms = _codes(region, "employment_forms", [f.value for f in EmploymentForm])
        bases = _demo_bases(region.code, start, rng)
        for i in range(max(len(households), len(forms)) + 1):
            person = await register_person(
                session, _resident_id(rng, AREAS.get(loaded.plugin, "110105")), NAMES[n % len(NAMES)] + str(n), None
            )
            n += 1
            await enroll(
                session,
                person_id=person.id,
                company_id=company.id,
                start_month=start,
                household_type=households[i % len(households)],
                employment_form=forms[i % len(forms)],
                monthly_base=bases[i % len(bases)],
            )


async def _seed_policy(session: AsyncSession) -> None:
    """One entry in the policy library, to show an agency's figure beside the plugin's."""
    if "tianjin" not in registry().codes:
        return
    await record_figure(
        session,
        NewFigure(
            region_code="tianjin",
            name="large_medical.employee_amount",
            since=Month(2026, 1),
            value="10",
            source="演示数据：示例金额，非官方数字 (demo value, not official)",
            confidence=Confidence.ASSUMPTION,
            note="Tianjin's employee large-medical amount was not found; an agency records the bureau's figure here.",
        ),
    )


def _codes(region, list_name: str, fallback: list[str]) -> list[str]:
    coded = region.coded_list(list_name)
    return list(coded.codes) if coded is not None else fallback


def _demo_bases(code: str, month: Month, rng: random.Random) -> list[Decimal]:
    """At the floor, in between, and above the ceiling (billed at the ceiling)."""
    figures = registry().book(code).at(month)
    floor, ceiling = figures.number("base.floor"), figures.number("base.ceiling")
    if floor is None or ceiling is None:
        return [Decimal(rng.randrange(5000, 20000, 100))]
    middle = Decimal(rng.randrange(int(floor) + 100, int(ceiling), 100))
    return [Decimal(floor).quantize(Decimal("0.01")), middle, Decimal(int(ceiling) + 5000), middle + 1000]
