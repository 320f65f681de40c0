"""Creating agencies (tenants) with their first administrator."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth.guards import check_username
from shebao.platform.auth.models import User
from shebao.platform.auth.passwords import check_policy, hash_password
from shebao.platform.auth.permissions import Role
from shebao.platform.errors import ErrorCode, Problems, ShebaoError
from shebao.platform.tenancy.context import Actor
from shebao.platform.tenancy.filters import bind_actor
from shebao.platform.tenancy.models import Agency

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")


@dataclass(frozen=True)
class NewAgency:
    agency: Agency
    admin: User


async def create_agency(
    session: AsyncSession,
    code: str,
    name: str,
    admin_username: str,
    admin_password: str,
    admin_display_name: str = "管理员",
) -> NewAgency:
    """A new tenant and its administrator. The password is the caller's: there is no default."""
    problems = Problems()
    code = (code or "").strip().lower()
    if not _CODE.match(code):
        problems.add(ErrorCode.INVALID_SLUG, "code")
    elif await session.scalar(select(Agency.id).where(Agency.code == code)):
        problems.add(ErrorCode.DUPLICATE, "code", value=code)
    if not (name or "").strip():
        problems.add(ErrorCode.REQUIRED, "name")
    admin_username = problems.check(check_username, admin_username, "adminUsername")
    problems.check(check_policy, admin_password, "adminPassword")
    problems.raise_if_any()
    agency = Agency(code=code, name=name.strip())
    session.add(agency)
    await session.flush()
    await bind_actor(session, Actor.system(agency.id))
    admin = User(
        agency_id=agency.id,
        username=admin_username,
        display_name=admin_display_name,
        role=Role.ADMIN,
        all_companies=True,
        password_hash=hash_password(admin_password),
        permission_rows=[],
        scope_rows=[],
    )
    session.add(admin)
    await session.flush()
    await audit.record(session, "agency.create", "agency", agency.id, after={"code": code, "name": agency.name})
    await audit.record(session, "user.create", "user", admin.id, after=audit.snapshot(admin))
    return NewAgency(agency, admin)


async def get_agency(session: AsyncSession, code: str) -> Agency:
    agency = await session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "code", entity="机构 / agency")
    return agency


async def list_agency_ids(session: AsyncSession) -> list:
    """Every agency's id, for jobs that visit each tenant in turn."""
    return list((await session.scalars(select(Agency.id).order_by(Agency.id))).all())
