"""Logging in and out, resolving bearer tokens, lockout, passwords and API tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.audit import service as audit
from shebao.platform.auth import passwords, tokens
from shebao.platform.auth.guards import require_covers
from shebao.platform.auth.models import AuthToken, User
from shebao.platform.auth.permissions import Permission, Role
from shebao.platform.config import Settings
from shebao.platform.core.clock import local, utcnow
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.tenancy.context import Actor
from shebao.platform.tenancy.filters import bind_actor
from shebao.platform.tenancy.models import Agency
from shebao.platform.tenancy.session import current_actor

SESSION, API = "session", "api"
MAX_API_TOKEN_DAYS = 366
# Writing last_used_at on every request would turn every read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    record: AuthToken
    user: User


def actor_for(user: User, token: AuthToken | None = None, request_id: str | None = None) -> Actor:
    """What ``user`` may do through ``token``: an API token narrows the user's permissions."""
    if user.role == Role.ADMIN:
        perms = frozenset(p.value for p in Permission)
    else:
        perms = user.permissions
    if token is not None and token.kind == API:
        perms = perms & frozenset(token.scopes or ())
    companies = None if user.acts_for_all_companies else user.company_ids
    return Actor(
        agency_id=user.agency_id,
        user_id=user.id,
        token_id=token.id if token else None,
        role=user.role,
        permissions=perms,
        company_ids=companies,
        request_id=request_id,
    )


async def login(
    session: AsyncSession,
    settings: Settings,
    agency_code: str,
    username: str,
    password: str,
    request_id: str | None = None,
) -> IssuedToken:
    """Check the password and open a session token. Failed attempts are counted (and committed)."""
    agency = await session.scalar(select(Agency).where(Agency.code == (agency_code or "").strip().lower()))
    if agency is None:
        passwords.verify_password(None, password)  # same cost as a real check
        raise ShebaoError.of(ErrorCode.INVALID_CREDENTIALS)
    await bind_actor(session, Actor.system(agency.id, request_id))
    # Usernames are unique regardless of case (users.create_user), so they are matched that way.
    user = await session.scalar(select(User).where(func.lower(User.username) == (username or "").strip().lower()))
    now = utcnow()
    if user is None:
        passwords.verify_password(None, password)
        raise ShebaoError.of(ErrorCode.INVALID_CREDENTIALS)
    if user.locked_until and user.locked_until > now:
        raise ShebaoError.of(ErrorCode.ACCOUNT_LOCKED, until=local(user.locked_until).strftime("%Y-%m-%d %H:%M"))
    if user.locked_until:  # the lock has run out: start counting afresh
        user.locked_until, user.failed_logins = None, 0
    if not passwords.verify_password(user.password_hash, password):
        await _count_failure(session, settings, user, now)
        raise ShebaoError.of(ErrorCode.INVALID_CREDENTIALS)
    if not user.active:
        raise ShebaoError.of(ErrorCode.ACCOUNT_DISABLED)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.failed_logins, user.last_login_at = 0, now
    await bind_actor(session, actor_for(user, None, request_id))
    issued = await _issue(session, user, SESSION, None, None, now + settings.token_ttl)
    await audit.record(session, "auth.login", "user", user.id, after={"token_id": issued.record.id})
    await session.commit()
    return issued


async def _count_failure(session: AsyncSession, settings: Settings, user: User, now: datetime) -> None:
    user.failed_logins += 1
    locked = user.failed_logins >= settings.lockout_threshold
    if locked:
        user.locked_until = now + settings.lockout_duration
    await audit.record(
        session,
        "auth.login_locked" if locked else "auth.login_failed",
        "user",
        user.id,
        after={"failed_logins": user.failed_logins, "locked_until": user.locked_until},
    )
    await session.commit()


async def _issue(
    session: AsyncSession,
    user: User,
    kind: str,
    name: str | None,
    scopes: list[str] | None,
    expires_at: datetime | None,
) -> IssuedToken:
    token = tokens.new_token(user.agency_id)
    record = AuthToken(
        agency_id=user.agency_id,
        user_id=user.id,
        kind=kind,
        name=name,
        scopes=scopes,
        token_hash=tokens.token_hash(token),
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(record)
    await session.flush()
    return IssuedToken(token, record, user)


async def authenticate(session: AsyncSession, token: str, request_id: str | None = None) -> Actor:
    """The actor behind a bearer token, bound to ``session``; TOKEN_INVALID / TOKEN_EXPIRED otherwise."""
    agency_id = tokens.token_agency(token)
    await bind_actor(session, Actor.system(agency_id, request_id))
    record = await session.scalar(select(AuthToken).where(AuthToken.token_hash == tokens.token_hash(token)))
    now = utcnow()
    if record is None or record.revoked_at is not None:
        await bind_actor(session, None)
        raise ShebaoError.of(ErrorCode.TOKEN_INVALID)
    if record.expires_at is not None and record.expires_at <= now:
        await bind_actor(session, None)
        raise ShebaoError.of(ErrorCode.TOKEN_EXPIRED)
    user = await session.scalar(select(User).where(User.id == record.user_id))
    if user is None or not user.active:
        await bind_actor(session, None)
        raise ShebaoError.of(ErrorCode.TOKEN_INVALID)
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
        await session.execute(
            update(AuthToken)
            .where(AuthToken.id == record.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    actor = actor_for(user, record, request_id)
    await bind_actor(session, actor)
    return actor


async def logout(session: AsyncSession) -> None:
    actor = current_actor(session)
    record = await session.scalar(select(AuthToken).where(AuthToken.id == actor.token_id))
    if record is None or record.revoked_at is not None:
        raise ShebaoError.of(ErrorCode.TOKEN_INVALID)
    record.revoked_at = utcnow()
    await audit.record(session, "auth.logout", "token", record.id)


async def create_api_token(
    session: AsyncSession, name: str, scopes: list[str], expires_in_days: int | None
) -> IssuedToken:
    """A named token for an integration, carrying some of its creator's permissions."""
    actor = current_actor(session)
    name = (name or "").strip()
    if not name:
        raise ShebaoError.of(ErrorCode.REQUIRED, "name")
    if len(name) > 100:
        raise ShebaoError.of(ErrorCode.TOO_LONG, "name", max=100)
    known = {p.value for p in Permission}
    for i, scope in enumerate(scopes):
        if scope not in known:
            raise ShebaoError.of(ErrorCode.INVALID_VALUE, f"scopes.{i}", value=scope, allowed=", ".join(sorted(known)))
        actor.require(scope)  # nobody hands out what they do not hold
    if not scopes:
        raise ShebaoError.of(ErrorCode.REQUIRED, "scopes")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_API_TOKEN_DAYS:
        raise ShebaoError.of(
            ErrorCode.INVALID_VALUE, "expiresInDays", value=expires_in_days, allowed=f"1-{MAX_API_TOKEN_DAYS}"
        )
    user = await session.scalar(select(User).where(User.id == actor.user_id))
    if user is None:
        raise ShebaoError.of(ErrorCode.NOT_AUTHENTICATED)
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    issued = await _issue(session, user, API, name, sorted(set(scopes)), expires)
    await audit.record(session, "api_token.create", "token", issued.record.id, after=audit.snapshot(issued.record))
    return issued


async def _require_manages(session: AsyncSession, actor: Actor, user_id: uuid.UUID) -> None:
    """``actor`` may manage the account of ``user_id`` (see guards.require_covers).

    An unknown user (another agency's id) passes: it owns no rows this session can see."""
    user = await session.scalar(select(User).where(User.id == user_id))
    if user is not None:
        require_covers(actor, user)


async def list_api_tokens(session: AsyncSession, user_id: uuid.UUID | None = None) -> list[AuthToken]:
    actor = current_actor(session)
    target = user_id or actor.user_id
    if target != actor.user_id:
        actor.require(Permission.USERS_MANAGE)
        await _require_manages(session, actor, target)
    stmt = select(AuthToken).where(AuthToken.kind == API, AuthToken.user_id == target).order_by(AuthToken.id)
    return list((await session.scalars(stmt)).all())


async def revoke_api_token(session: AsyncSession, token_id: uuid.UUID) -> AuthToken:
    actor = current_actor(session)
    record = await session.scalar(select(AuthToken).where(AuthToken.id == token_id, AuthToken.kind == API))
    if record is None or (record.user_id != actor.user_id and not actor.can(Permission.USERS_MANAGE)):
        raise ShebaoError.of(ErrorCode.NOT_FOUND, "id", entity="API token")
    if record.user_id != actor.user_id:
        await _require_manages(session, actor, record.user_id)
    if record.revoked_at is None:
        before = audit.snapshot(record)
        record.revoked_at = utcnow()
        await audit.record(session, "api_token.revoke", "token", record.id, before=before, after=audit.snapshot(record))
    return record


async def change_password(session: AsyncSession, current: str, new: str) -> User:
    """Change one's own password; every other session of the user is logged out."""
    actor = current_actor(session)
    user = await session.scalar(select(User).where(User.id == actor.user_id))
    if user is None:
        raise ShebaoError.of(ErrorCode.NOT_AUTHENTICATED)
    if not passwords.verify_password(user.password_hash, current):
        raise ShebaoError.of(ErrorCode.WRONG_PASSWORD, "currentPassword")
    passwords.check_policy(new, "newPassword")
    await set_password(session, user, new, keep_token=actor.token_id)
    await audit.record(session, "user.change_password", "user", user.id)
    return user


async def revoke_all_sessions(session: AsyncSession, user: User) -> None:
    await session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def set_password(session: AsyncSession, user: User, password: str, keep_token: uuid.UUID | None) -> None:
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = utcnow()
    user.failed_logins, user.locked_until = 0, None
    await session.execute(
        update(AuthToken)
        .where(
            AuthToken.user_id == user.id,
            AuthToken.kind == SESSION,
            AuthToken.revoked_at.is_(None),
            AuthToken.id != (keep_token or uuid.UUID(int=0)),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def purge_stale_tokens(session: AsyncSession, keep: timedelta = timedelta(days=30)) -> int:
    """Delete the actor's agency's tokens that expired or were revoked more than ``keep`` ago."""
    cutoff = utcnow() - keep
    result = await session.execute(
        delete(AuthToken)
        .where((AuthToken.expires_at < cutoff) | (AuthToken.revoked_at < cutoff))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


@dataclass(frozen=True)
class Whoami:
    user: User
    agency: Agency
    token: AuthToken | None


async def whoami(session: AsyncSession) -> Whoami:
    """The caller's user, agency and token."""
    actor = current_actor(session)
    user = await session.scalar(select(User).where(User.id == actor.user_id))
    if user is None:
        raise ShebaoError.of(ErrorCode.NOT_AUTHENTICATED)
    agency = await session.scalar(select(Agency).where(Agency.id == actor.agency_id))
    token = await session.scalar(select(AuthToken).where(AuthToken.id == actor.token_id)) if actor.token_id else None
    return Whoami(user, agency, token)
