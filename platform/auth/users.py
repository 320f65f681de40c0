"""Managing an agency's operators: create, grant permissions and companies, lock, reset."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth import passwords
from shebao.platform.auth.guards import check_username, require_covers
from shebao.platform.auth.models import User, UserCompanyScope, UserPermission
from shebao.platform.auth.permissions import Permission, Role
from shebao.platform.auth.service import revoke_all_sessions, set_password
from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.pagination import Page, PageRequest, paginate
from shebao.platform.errors import ErrorCode, Problems, ShebaoError
from shebao.platform.tenancy.context import Actor
from shebao.platform.tenancy.session import current_actor

UNSET = object()


@dataclass
class UserInput:
    username: str
    display_name: str
    password: str
    role: Role = Role.OPERATOR
    permissions: list[str] | None = None
    company_ids: list[uuid.UUID] | None = None
    all_companies: bool = False


def _snapshot(user: User) -> dict:
    data = audit.snapshot(user)
    data["permissions"] = sorted(user.permissions)
    data["company_ids"] = sorted(str(c) for c in user.company_ids)
    return data


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "id", entity="用户 / user")
    return user


async def list_users(session: AsyncSession, page: PageRequest, active: bool | None = None) -> Page[User]:
    current_actor(session).require(Permission.USERS_MANAGE)
    stmt = select(User)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return await paginate(session, stmt, User.id, page)


async def _check_grants(
    session: AsyncSession, actor: Actor, problems: Problems, role: Role, permissions, company_ids, all_companies
) -> list[uuid.UUID]:
    """Nobody grants what they do not hold: admin role, a permission, or a company outside their scope."""
    if role == Role.ADMIN and not actor.is_admin:
        problems.add(ErrorCode.PERMISSION_DENIED, "role", permission="admin")
    known = {p.value for p in Permission}
    for i, perm in enumerate(permissions or []):
        if perm not in known:
            problems.add(ErrorCode.INVALID_VALUE, f"permissions.{i}", value=perm, allowed=", ".join(sorted(known)))
        elif not actor.can(perm):
            problems.add(ErrorCode.PERMISSION_DENIED, f"permissions.{i}", permission=perm)
    if all_companies and actor.company_ids is not None:
        problems.add(ErrorCode.PERMISSION_DENIED, "allCompanies", permission="all companies")
    ids = list(dict.fromkeys(company_ids or []))
    if ids:
        found = set((await session.scalars(select(ClientCompany.id).where(ClientCompany.id.in_(ids)))).all())
        for i, cid in enumerate(ids):
            if cid not in found:  # another agency's, or outside the actor's scope: both unknown here
                problems.add(ErrorCode.NOT_FOUND, f"companyIds.{i}", entity="参保单位 / client company")
    return ids


async def create_user(session: AsyncSession, data: UserInput) -> User:
    actor = current_actor(session)
    actor.require(Permission.USERS_MANAGE)
    problems = Problems()
    username = problems.check(check_username, data.username)
    if username and await session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        problems.add(ErrorCode.DUPLICATE, "username", value=username)
    display_name = (data.display_name or "").strip()
    if not display_name:
        problems.add(ErrorCode.REQUIRED, "displayName")
    elif len(display_name) > 100:
        problems.add(ErrorCode.TOO_LONG, "displayName", max=100)
    problems.check(passwords.check_policy, data.password, field="password")
    ids = await _check_grants(
        session, actor, problems, data.role, data.permissions, data.company_ids, data.all_companies
    )
    problems.raise_if_any()
    user = User(
        agency_id=actor.agency_id,
        username=username,
        display_name=display_name,
        role=data.role,
        all_companies=data.all_companies,
        password_hash=passwords.hash_password(data.password),
        permission_rows=[
            UserPermission(agency_id=actor.agency_id, permission=p) for p in sorted(set(data.permissions or []))
        ],
        scope_rows=[UserCompanyScope(agency_id=actor.agency_id, company_id=c) for c in ids],
    )
    session.add(user)
    await session.flush()
    await audit.record(session, "user.create", "user", user.id, after=_snapshot(user))
    return user


async def update_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    display_name=UNSET,
    role=UNSET,
    permissions=UNSET,
    company_ids=UNSET,
    all_companies=UNSET,
    active=UNSET,
) -> User:
    actor = current_actor(session)
    actor.require(Permission.USERS_MANAGE)
    user = await get_user(session, user_id)
    # Managing a user (deactivating, re-scoping) needs at least what that user holds.
    require_covers(actor, user)
    before = _snapshot(user)
    problems = Problems()
    new_role = user.role if role is UNSET else role
    ids = await _check_grants(
        session,
        actor,
        problems,
        new_role,
        [] if permissions is UNSET else permissions,
        [] if company_ids is UNSET else company_ids,
        False if all_companies is UNSET else all_companies,
    )
    if display_name is not UNSET:
        display_name = (display_name or "").strip()
        if not display_name:
            problems.add(ErrorCode.REQUIRED, "displayName")
    demoting = user.role == Role.ADMIN and (new_role != Role.ADMIN or active is False)
    if demoting and await _active_admins(session) <= 1:
        problems.add(ErrorCode.LAST_ADMIN, "role" if new_role != Role.ADMIN else "active")
    problems.raise_if_any()
    if display_name is not UNSET:
        user.display_name = display_name
    user.role = new_role
    if all_companies is not UNSET:
        user.all_companies = all_companies
    if active is not UNSET:
        user.active = active
    # Keep the rows that stay: the unit of work inserts new rows before it deletes orphans, so
    # replacing a kept (agency, user, permission) row by a new one would break its unique key.
    if permissions is not UNSET:
        wanted = set(permissions)
        kept = [r for r in user.permission_rows if r.permission in wanted]
        held = {r.permission for r in kept}
        user.permission_rows = kept + [
            UserPermission(agency_id=actor.agency_id, permission=p) for p in sorted(wanted - held)
        ]
    if company_ids is not UNSET:
        kept_scope = [r for r in user.scope_rows if r.company_id in set(ids)]
        held_ids = {r.company_id for r in kept_scope}
        user.scope_rows = kept_scope + [
            UserCompanyScope(agency_id=actor.agency_id, company_id=c) for c in ids if c not in held_ids
        ]
    if active is False:
        await revoke_all_sessions(session, user)
    await session.flush()
    after = _snapshot(user)
    if after == before:
        raise ShebaoError.of(ErrorCode.NO_CHANGES)
    await audit.record(session, "user.update", "user", user.id, before=before, after=after)
    return user


async def _active_admins(session: AsyncSession) -> int:
    return await session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active.is_(True))
    )


async def unlock_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    current_actor(session).require(Permission.USERS_MANAGE)
    user = await get_user(session, user_id)
    before = _snapshot(user)
    user.failed_logins, user.locked_until = 0, None
    await audit.record(session, "user.unlock", "user", user.id, before=before, after=_snapshot(user))
    return user


async def reset_password(
    session: AsyncSession, user_id: uuid.UUID, new_password: str | None = None
) -> tuple[User, str]:
    """Set a user's password (a generated one unless given); their sessions are logged out."""
    actor = current_actor(session)
    actor.require(Permission.USERS_MANAGE)
    user = await get_user(session, user_id)
    # Whoever sets a password can log in as the user: nobody takes over more than they hold.
    require_covers(actor, user)
    password = new_password or passwords.generate_password()
    passwords.check_policy(password, "newPassword")
    await set_password(session, user, password, keep_token=None)
    await audit.record(session, "user.reset_password", "user", user.id)
    return user, password
