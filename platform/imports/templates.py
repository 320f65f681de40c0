"""The workbooks an operator downloads to fill in: a region's empty template, and the roster of a
company's people for the yearly base change (Leshan's flow: 缴费基数申报), pre-filled."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.service import get_company
from shebao.platform.core.filenames import safe_filename
from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.people.models import Enrollment, Person
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.regions.registry import registry
from shebao.platform.tenancy.session import current_actor
from shebao.platform.workbooks import roster_workbook, template_layout, template_workbook


async def template(session: AsyncSession, region_code: str, kind: str, agency_wide: bool = False) -> tuple[bytes, str]:
    """The region's empty workbook for ``kind``, and its file name."""
    current_actor(session).require(Permission.PERSONS_READ)
    region = registry().get(region_code)
    try:
        kind = DeclarationKind(kind)
    except ValueError:
        raise ShebaoError.of(ErrorCode.INVALID_VALUE, "kind", value=kind, allowed="add, stop, ...") from None
    shape = template_layout(region, kind, agency_wide=agency_wide)
    data = await asyncio.to_thread(template_workbook, region, kind, agency_wide=agency_wide)
    scope = "_机构" if agency_wide else ""
    return data, safe_filename(region.name_zh, shape.title_zh + scope, suffix=".xlsx")


async def base_change_roster(session: AsyncSession, company_id: uuid.UUID, month: Month) -> tuple[bytes, str]:
    """Everyone insured through the company in ``month``, with their current base, ready for the
    new base to be typed beside it (the change month filled in)."""
    current_actor(session).require(Permission.PERSONS_READ)
    company = await get_company(session, company_id, "companyId")
    stmt = (
        select(Person.id_number, Person.name, Enrollment.monthly_base)
        .join(Person, (Person.agency_id == Enrollment.agency_id) & (Person.id == Enrollment.person_id))
        .where(
            Enrollment.company_id == company.id,
            Enrollment.start_month <= month,
            or_(Enrollment.end_month.is_(None), Enrollment.end_month >= month),
        )
        .order_by(Person.name, Person.id_number)
    )
    people = [
        {"id_number": number, "name": name, "current_base": base} for number, name, base in await session.execute(stmt)
    ]
    region = registry().get(company.region_code)
    data = await asyncio.to_thread(
        roster_workbook, region, people, kind=DeclarationKind.BASE_CHANGE, prefill={"change_month": str(month)}
    )
    return data, safe_filename(company.name, "缴费基数申报", month, suffix=".xlsx")
