"""Logging in, tokens, lockout, passwords, API tokens and user management, on both backends."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import replace
from datetime import timedelta

import anyio
import pytest
from sqlalchemy import func, select, update

from shebao.platform.audit.models import AuditEntry
from shebao.platform.auth import service as auth
from shebao.platform.auth import tokens, users
from shebao.platform.auth.models import AuthToken, User, UserCompanyScope, UserPermission
from shebao.platform.auth.passwords import check_policy, generate_password
from shebao.platform.auth.permissions import Permission, Role
from shebao.platform.companies import service as companies
from shebao.platform.config import Settings
from shebao.platform.core.clock import utcnow
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.tenancy.context import Actor
from shebao.platform.tenancy.models import Agency
from shebao.platform.tenancy.service import create_agency
from tests.factories import company_values

pytestmark = pytest.mark.anyio

SETTINGS = Settings()
TOKEN_SHAPE = re.compile(r"^shb_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
READ = Permission.COMPANIES_READ.value
WRITE = Permission.COMPANIES_WRITE.value
MANAGE = Permission.USERS_MANAGE.value
PERSONS_READ = Permission.PERSONS_READ.value


# -- helpers -------------------------------------------------------------------------------------


def error_of(excinfo) -> ShebaoError:
    return excinfo.value


async def login(sessionmaker, agency, username=None, password=None, settings=SETTINGS) -> auth.IssuedToken:
    async with sessionmaker() as s:
        return await auth.login(
            s, settings, agency.code, username or agency.admin_username, password or agency.admin_password
        )


async def login_error(sessionmaker, agency_code, username, password, settings=SETTINGS) -> ShebaoError:
    async with sessionmaker() as s:
        with pytest.raises(ShebaoError) as err:
            await auth.login(s, settings, agency_code, username, password)
    return err.value


async def authenticate(sessionmaker, token) -> Actor:
    async with sessionmaker() as s:
        return await auth.authenticate(s, token)


async def auth_error(sessionmaker, token) -> ErrorCode:
    async with sessionmaker() as s:
        with pytest.raises(ShebaoError) as err:
            await auth.authenticate(s, token)
    return err.value.code


async def admin_actor(session_as, agency) -> Actor:
    """The agency administrator as an actor with a user id (as after authenticate)."""
    async with session_as(agency.system) as s:
        user = await s.scalar(select(User).where(User.id == agency.admin_id))
        return auth.actor_for(user)


async def load_user(session_as, agency, user_id) -> User:
    async with session_as(agency.system) as s:
        return await s.scalar(select(User).where(User.id == user_id))


async def count(session_as, agency, model, *where) -> int:
    async with session_as(agency.system) as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def audit_rows(session_as, agency, action=None, entity_id=None) -> list[AuditEntry]:
    async with session_as(agency.system) as s:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        if entity_id:
            stmt = stmt.where(AuditEntry.entity_id == entity_id)
        return list((await s.scalars(stmt)).all())


async def tokens_of(session_as, agency, user_id) -> list[AuthToken]:
    async with session_as(agency.system) as s:
        stmt = select(AuthToken).where(AuthToken.user_id == user_id).order_by(AuthToken.id)
        return list((await s.scalars(stmt)).all())


async def make_company(session_as, agency):
    async with session_as(agency.system) as s:
        company = await companies.create_company(s, company_values())
        await s.commit()
    return company


async def make_user(
    session_as,
    agency,
    username="clerk",
    permissions=(),
    company_ids=(),
    role=Role.OPERATOR,
    all_companies=False,
    actor=None,
) -> tuple[uuid.UUID, str]:
    password = generate_password()
    async with session_as(actor or agency.system) as s:
        user = await users.create_user(
            s,
            users.UserInput(
                username=username,
                display_name=f"用户 {username}",
                password=password,
                role=role,
                permissions=list(permissions),
                company_ids=list(company_ids),
                all_companies=all_companies,
            ),
        )
        await s.commit()
    return user.id, password


# -- login ---------------------------------------------------------------------------------------


async def test_login_returns_a_bearer_token(make_agency, sessionmaker, session_as):
    a = await make_agency()
    before = utcnow()
    issued = await login(sessionmaker, a)
    m = TOKEN_SHAPE.match(issued.token)
    assert m, issued.token
    assert uuid.UUID(hex=m.group(1)) == a.id
    assert issued.user.id == a.admin_id
    assert issued.record.kind == "session"
    assert before + SETTINGS.token_ttl <= issued.record.expires_at <= utcnow() + SETTINGS.token_ttl
    # the token row, the user's last login and the audit entry are committed
    (record,) = await tokens_of(session_as, a, a.admin_id)
    assert record.id == issued.record.id and record.revoked_at is None
    user = await load_user(session_as, a, a.admin_id)
    assert user.last_login_at is not None and user.last_login_at >= before
    assert user.failed_logins == 0
    (entry,) = await audit_rows(session_as, a, "auth.login")
    assert entry.actor_user_id == a.admin_id and entry.after == {"token_id": str(record.id)}


async def test_agency_code_is_case_and_space_insensitive(make_agency, sessionmaker):
    a = await make_agency()
    async with sessionmaker() as s:
        issued = await auth.login(s, SETTINGS, f"  {a.code.upper()} ", "admin", a.admin_password)
    assert issued.user.id == a.admin_id


async def test_wrong_password_is_refused_and_counted(make_agency, sessionmaker, session_as):
    a = await make_agency()
    err = await login_error(sessionmaker, a.code, "admin", a.admin_password + "x")
    assert err.code == ErrorCode.INVALID_CREDENTIALS
    user = await load_user(session_as, a, a.admin_id)
    assert user.failed_logins == 1 and user.locked_until is None
    assert await count(session_as, a, AuthToken) == 0
    (entry,) = await audit_rows(session_as, a, "auth.login_failed")
    assert entry.entity_id == a.admin_id and entry.after["failed_logins"] == 1


async def test_unknown_agency_or_user_is_refused_the_same_way(make_agency, sessionmaker, session_as):
    a = await make_agency()
    for code, username in (("no-such-agency", "admin"), (a.code, "nobody"), ("", ""), (a.code, "")):
        err = await login_error(sessionmaker, code, username, a.admin_password)
        assert err.code == ErrorCode.INVALID_CREDENTIALS
        # the same message whichever part was wrong: nothing tells which
        assert err.problems[0].message("en") == "Wrong agency, username or password"
    assert await count(session_as, a, AuthToken) == 0


async def test_another_agencys_user_cannot_log_in_through_this_agency(make_agency, sessionmaker, session_as):
    a, b = await make_agency(), await make_agency()
    err = await login_error(sessionmaker, b.code, "admin", a.admin_password)
    assert err.code == ErrorCode.INVALID_CREDENTIALS
    assert await count(session_as, b, AuthToken) == 0


async def test_lockout_after_five_failures_and_its_end(make_agency, sessionmaker, session_as):
    a = await make_agency()
    duration = timedelta(seconds=2)
    settings = replace(Settings(), lockout_duration=duration)
    for attempt in range(1, 6):
        before_last = utcnow()
        err = await login_error(sessionmaker, a.code, "admin", f"wrong{attempt}pw", settings)
        assert err.code == ErrorCode.INVALID_CREDENTIALS
    user = await load_user(session_as, a, a.admin_id)
    assert user.failed_logins == 5
    assert before_last + duration <= user.locked_until <= utcnow() + duration
    assert [e.action for e in await audit_rows(session_as, a, entity_id=a.admin_id)][-5:] == [
        "auth.login_failed",
        "auth.login_failed",
        "auth.login_failed",
        "auth.login_failed",
        "auth.login_locked",
    ]
    # the sixth attempt is refused even with the right password, and opens no session
    err = await login_error(sessionmaker, a.code, "admin", a.admin_password, settings)
    assert err.code == ErrorCode.ACCOUNT_LOCKED
    assert "until" in err.problems[0].params
    assert await count(session_as, a, AuthToken) == 0
    # once lockout_duration has passed, the right password works again
    await anyio.sleep(max((user.locked_until - utcnow()).total_seconds(), 0) + 0.1)
    issued = await login(sessionmaker, a, settings=settings)
    assert issued.user.id == a.admin_id
    user = await load_user(session_as, a, a.admin_id)
    assert user.failed_logins == 0 and user.locked_until is None


async def test_after_a_lock_runs_out_counting_starts_afresh(make_agency, sessionmaker, session_as):
    a = await make_agency()
    async with session_as(a.system) as s:  # a lock that ran out a minute ago
        await s.execute(
            update(User)
            .where(User.id == a.admin_id)
            .values(failed_logins=5, locked_until=utcnow() - timedelta(minutes=1))
            .execution_options(synchronize_session=False)
        )
        await s.commit()
    err = await login_error(sessionmaker, a.code, "admin", "wrong1pw")
    assert err.code == ErrorCode.INVALID_CREDENTIALS  # not locked again at once
    user = await load_user(session_as, a, a.admin_id)
    assert user.failed_logins == 1 and user.locked_until is None


async def test_a_successful_login_resets_the_counter(make_agency, sessionmaker, session_as):
    a = await make_agency()
    for _ in range(4):
        await login_error(sessionmaker, a.code, "admin", "wrong1pw")
    assert (await load_user(session_as, a, a.admin_id)).failed_logins == 4
    await login(sessionmaker, a)
    assert (await load_user(session_as, a, a.admin_id)).failed_logins == 0
    for _ in range(4):  # four more do not lock: the count restarted
        await login_error(sessionmaker, a.code, "admin", "wrong1pw")
    await login(sessionmaker, a)
    user = await load_user(session_as, a, a.admin_id)
    assert user.failed_logins == 0 and user.locked_until is None


async def test_admin_unlock_lifts_the_lock(make_agency, sessionmaker, session_as):
    a = await make_agency()
    clerk_id, clerk_pw = await make_user(session_as, a, "clerk", [READ])
    for _ in range(5):
        await login_error(sessionmaker, a.code, "clerk", "wrong1pw")
    assert (await login_error(sessionmaker, a.code, "clerk", clerk_pw)).code == ErrorCode.ACCOUNT_LOCKED
    # a user without users:manage cannot unlock
    helper_id, _ = await make_user(session_as, a, "helper", [READ])
    helper = auth.actor_for(await load_user(session_as, a, helper_id))
    async with session_as(helper) as s:
        with pytest.raises(ShebaoError) as err:
            await users.unlock_user(s, clerk_id)
        assert err.value.code == ErrorCode.PERMISSION_DENIED
    assert (await load_user(session_as, a, clerk_id)).locked_until is not None
    async with session_as(await admin_actor(session_as, a)) as s:
        await users.unlock_user(s, clerk_id)
        await s.commit()
    user = await load_user(session_as, a, clerk_id)
    assert user.failed_logins == 0 and user.locked_until is None
    (entry,) = await audit_rows(session_as, a, "user.unlock")
    assert entry.actor_user_id == a.admin_id
    assert entry.before["locked_until"] is not None and entry.before["failed_logins"] == 5
    assert entry.after["locked_until"] is None and entry.after["failed_logins"] == 0
    issued = await login(sessionmaker, a, "clerk", clerk_pw)
    assert issued.user.id == clerk_id


async def test_a_disabled_user_cannot_log_in(make_agency, sessionmaker, session_as):
    a = await make_agency()
    clerk_id, clerk_pw = await make_user(session_as, a, "clerk", [READ])
    async with session_as(await admin_actor(session_as, a)) as s:
        await users.update_user(s, clerk_id, active=False)
        await s.commit()
    assert (await login_error(sessionmaker, a.code, "clerk", clerk_pw)).code == ErrorCode.ACCOUNT_DISABLED
    assert await count(session_as, a, AuthToken, AuthToken.user_id == clerk_id) == 0


# -- tokens --------------------------------------------------------------------------------------


async def test_authenticate_gives_the_users_actor(make_agency, sessionmaker, session_as):
    a = await make_agency()
    company = await make_company(session_as, a)
    clerk_id, clerk_pw = await make_user(session_as, a, "clerk", [READ, PERSONS_READ], [company.id])
    issued = await login(sessionmaker, a, "clerk", clerk_pw)
    actor = await authenticate(sessionmaker, issued.token)
    assert actor.agency_id == a.id
    assert actor.user_id == clerk_id
    assert actor.token_id == issued.record.id
    assert actor.role == Role.OPERATOR
    assert actor.permissions == {READ, PERSONS_READ}
    assert actor.company_ids == {company.id}
    (record,) = await tokens_of(session_as, a, clerk_id)
    assert record.last_used_at is not None
    # the admin's actor holds every permission and every company
    admin = await authenticate(sessionmaker, (await login(sessionmaker, a)).token)
    assert admin.user_id == a.admin_id and admin.is_admin
    assert admin.permissions == {p.value for p in Permission}
    assert admin.company_ids is None


async def test_authenticate_binds_the_actor_to_the_session(make_agency, sessionmaker):
    a, b = await make_agency(), await make_agency()
    issued = await login(sessionmaker, a)
    async with sessionmaker() as s:
        await auth.authenticate(s, issued.token)
        assert await s.scalar(select(func.count()).select_from(User)) == 1
        assert await s.scalar(select(User.agency_id)) == a.id
    assert b.id != a.id


async def test_expired_token(make_agency, sessionmaker, session_as):
    a = await make_agency()
    issued = await login(sessionmaker, a)
    async with session_as(a.system) as s:
        await s.execute(
            update(AuthToken)
            .where(AuthToken.id == issued.record.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
            .execution_options(synchronize_session=False)
        )
        await s.commit()
    assert await auth_error(sessionmaker, issued.token) == ErrorCode.TOKEN_EXPIRED


async def test_logout_revokes_the_token(make_agency, sessionmaker, session_as):
    a = await make_agency()
    issued = await login(sessionmaker, a)
    other = await login(sessionmaker, a)
    async with sessionmaker() as s:
        await auth.authenticate(s, issued.token)
        await auth.logout(s)
        await s.commit()
    assert await auth_error(sessionmaker, issued.token) == ErrorCode.TOKEN_INVALID
    records = {t.id: t for t in await tokens_of(session_as, a, a.admin_id)}
    assert records[issued.record.id].revoked_at is not None
    assert records[other.record.id].revoked_at is None  # only this session ends
    assert (await authenticate(sessionmaker, other.token)).user_id == a.admin_id
    (entry,) = await audit_rows(session_as, a, "auth.logout")
    assert entry.entity_id == issued.record.id and entry.actor_user_id == a.admin_id


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "shb_zz_..",
        "shb__",
        "Bearer shb_" + "0" * 32 + "_" + "a" * 43,
        "shb_" + "G" * 32 + "_" + "a" * 43,
        "shb_" + "0" * 32 + "_" + "a" * 42,
    ],
)
async def test_malformed_tokens_are_invalid(sessionmaker, token):
    assert await auth_error(sessionmaker, token) == ErrorCode.TOKEN_INVALID


async def test_well_formed_token_with_a_random_secret_is_invalid(make_agency, sessionmaker, session_as):
    a = await make_agency()
    await login(sessionmaker, a)
    forged = f"shb_{a.id.hex}_{secrets.token_urlsafe(32)}"
    assert TOKEN_SHAPE.match(forged)
    assert await auth_error(sessionmaker, forged) == ErrorCode.TOKEN_INVALID
    # and for an agency that does not exist at all
    assert await auth_error(sessionmaker, f"shb_{uuid.uuid4().hex}_{secrets.token_urlsafe(32)}") == (
        ErrorCode.TOKEN_INVALID
    )


async def test_token_with_another_agencys_id_is_invalid(make_agency, sessionmaker, session_as):
    a, b = await make_agency(), await make_agency()
    issued = await login(sessionmaker, a)
    swapped = issued.token.replace(a.id.hex, b.id.hex, 1)
    assert swapped != issued.token and TOKEN_SHAPE.match(swapped)
    assert await auth_error(sessionmaker, swapped) == ErrorCode.TOKEN_INVALID
    # the lookup runs as the token's agency: bound to B, A's token row is not there at all
    async with session_as(b.system) as s:
        found = await s.scalar(select(AuthToken).where(AuthToken.token_hash == tokens.token_hash(issued.token)))
        assert found is None
    assert (await authenticate(sessionmaker, issued.token)).agency_id == a.id


async def test_only_the_sha256_of_a_token_is_stored(make_agency, sessionmaker, session_as):
    a = await make_agency()
    issued = await login(sessionmaker, a)
    actor = await authenticate(sessionmaker, issued.token)
    async with session_as(actor) as s:
        api = await auth.create_api_token(s, "对接", [READ], 30)
        await s.commit()
    # shb_<agency>_<secret>: the secret itself may contain "_"
    secrets_ = [issued.token, issued.token.split("_", 2)[2], api.token, api.token.split("_", 2)[2]]
    records = await tokens_of(session_as, a, a.admin_id)
    expected = {hashlib.sha256(t.encode()).hexdigest() for t in (issued.token, api.token)}
    assert {r.token_hash for r in records} == expected
    entries = await audit_rows(session_as, a)
    dumped = repr([[getattr(r, c) for c in AuthToken.__table__.c.keys()] for r in records])
    dumped += repr([(e.before, e.after) for e in entries])
    for secret in secrets_:
        assert secret not in dumped


# -- passwords -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("abc1234", "min_length:8"),
        ("", "min_length:8"),
        ("abcdefgh", "letters_and_digits"),
        ("12345678", "letters_and_digits"),
        ("a1" * 64 + "x", "max_length:128"),
    ],
)
def test_password_policy(password, rule):
    with pytest.raises(ShebaoError) as err:
        check_policy(password)
    assert err.value.code == ErrorCode.PASSWORD_POLICY
    assert err.value.problems[0].params["rule"] == rule
    assert err.value.problems[0].field == "password"


@pytest.mark.parametrize("password", ["abcd1234", "1234567A", "密码abc12345", "a1" * 64])
def test_password_policy_accepts(password):
    check_policy(password)


def test_generated_passwords_satisfy_the_policy():
    for _ in range(50):
        check_policy(generate_password())


async def test_passwords_are_stored_as_argon2id(make_agency, session_as):
    a = await make_agency()
    clerk_id, clerk_pw = await make_user(session_as, a, "clerk", [READ])
    for user_id, password in ((a.admin_id, a.admin_password), (clerk_id, clerk_pw)):
        user = await load_user(session_as, a, user_id)
        assert user.password_hash.startswith("$argon2id$")
        assert password not in user.password_hash


async def test_an_agency_cannot_be_created_with_a_weak_password(sessionmaker):
    code = f"weak-{uuid.uuid4().hex[:8]}"
    for weak in ("admin", "", "password", "88888888"):
        async with sessionmaker() as s:
            with pytest.raises(ShebaoError) as err:
                await create_agency(s, code, "弱密码机构", "admin", weak)
        assert err.value.code == ErrorCode.PASSWORD_POLICY
        assert err.value.problems[0].field == "adminPassword"
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Agency).where(Agency.code == code)) == 0


async def test_create_agency_reports_every_problem(sessionmaker):
    async with sessionmaker() as s:
        with pytest.raises(ShebaoError) as err:
            await create_agency(s, "Bad Code!", " ", "x", "short")
    assert {(p.code, p.field) for p in err.value.problems} == {
        (ErrorCode.INVALID_SLUG, "code"),
        (ErrorCode.REQUIRED, "name"),
        (ErrorCode.INVALID_USERNAME, "adminUsername"),
        (ErrorCode.PASSWORD_POLICY, "adminPassword"),
    }


async def test_duplicate_agency_code(make_agency, sessionmaker):
    a = await make_agency()
    async with sessionmaker() as s:
        with pytest.raises(ShebaoError) as err:
            await create_agency(s, a.code, "重复", "admin", generate_password())
    assert err.value.code == ErrorCode.DUPLICATE
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Agency).where(Agency.code == a.code)) == 1


async def test_change_password_with_the_wrong_current_one(make_agency, sessionmaker, session_as):
    a = await make_agency()
    issued = await login(sessionmaker, a)
    hash_before = (await load_user(session_as, a, a.admin_id)).password_hash
    async with sessionmaker() as s:
        await auth.authenticate(s, issued.token)
        with pytest.raises(ShebaoError) as err:
            await auth.change_password(s, "not-it-1", "brandnew123")
        assert err.value.code == ErrorCode.WRONG_PASSWORD
        assert err.value.problems[0].field == "currentPassword"
        with pytest.raises(ShebaoError) as err:
            await auth.change_password(s, a.admin_password, "weak")
        assert err.value.code == ErrorCode.PASSWORD_POLICY
        assert err.value.problems[0].field == "newPassword"
    assert (await load_user(session_as, a, a.admin_id)).password_hash == hash_before
    assert await audit_rows(session_as, a, "user.change_password") == []


async def test_change_password_keeps_this_session_and_ends_the_others(make_agency, sessionmaker, session_as):
    a = await make_agency()
    current = await login(sessionmaker, a)
    other = await login(sessionmaker, a)
    async with sessionmaker() as s:
        await auth.authenticate(s, current.token)
        await auth.change_password(s, a.admin_password, "brandnew123")
        await s.commit()
    assert (await authenticate(sessionmaker, current.token)).user_id == a.admin_id
    assert await auth_error(sessionmaker, other.token) == ErrorCode.TOKEN_INVALID
    assert (await login_error(sessionmaker, a.code, "admin", a.admin_password)).code == ErrorCode.INVALID_CREDENTIALS
    assert (await login(sessionmaker, a, password="brandnew123")).user.id == a.admin_id
    user = await load_user(session_as, a, a.admin_id)
    assert user.password_changed_at is not None
    (entry,) = await audit_rows(session_as, a, "user.change_password")
    assert entry.actor_user_id == a.admin_id and entry.actor_token_id == current.record.id


async def test_admin_reset_password(make_agency, sessionmaker, session_as):
    a = await make_agency()
    clerk_id, clerk_pw = await make_user(session_as, a, "clerk", [READ])
    session_token = await login(sessionmaker, a, "clerk", clerk_pw)
    async with session_as(await admin_actor(session_as, a)) as s:
        user, generated = await users.reset_password(s, clerk_id)
        await s.commit()
    assert user.id == clerk_id
    check_policy(generated)
    assert generated != clerk_pw
    assert await auth_error(sessionmaker, session_token.token) == ErrorCode.TOKEN_INVALID
    err = await login_error(sessionmaker, a.code, "clerk", clerk_pw)
    assert err.code == ErrorCode.INVALID_CREDENTIALS
    assert (await login(sessionmaker, a, "clerk", generated)).user.id == clerk_id
    (entry,) = await audit_rows(session_as, a, "user.reset_password")
    assert entry.entity_id == clerk_id and entry.actor_user_id == a.admin_id
    assert generated not in repr((entry.before, entry.after))


async def test_reset_password_refusals(make_agency, session_as):
    a = await make_agency()
    manager_id, _ = await make_user(session_as, a, "manager", [MANAGE, READ])
    manager = auth.actor_for(await load_user(session_as, a, manager_id))
    hash_before = (await load_user(session_as, a, a.admin_id)).password_hash
    async with session_as(manager) as s:  # an operator cannot reset an administrator's password
        with pytest.raises(ShebaoError) as err:
            await users.reset_password(s, a.admin_id)
        assert err.value.code == ErrorCode.PERMISSION_DENIED
    async with session_as(await admin_actor(session_as, a)) as s:  # a chosen password obeys the policy
        with pytest.raises(ShebaoError) as err:
            await users.reset_password(s, manager_id, "short")
        assert err.value.code == ErrorCode.PASSWORD_POLICY
    assert (await load_user(session_as, a, a.admin_id)).password_hash == hash_before
    assert await audit_rows(session_as, a, "user.reset_password") == []


# -- API tokens ----------------------------------------------------------------------------------


async def test_api_token_carries_only_its_scopes(make_agency, sessionmaker, session_as):
    a = await make_agency()
    clerk_id, clerk_pw = await make_user(session_as, a, "clerk", [READ, WRITE, PERSONS_READ], all_companies=True)
    clerk = await authenticate(sessionmaker, (await login(sessionmaker, a, "clerk", clerk_pw)).token)
    async with session_as(clerk) as s:
        issued = await auth.create_api_token(s, "工资系统", [WRITE, READ, READ], 30)
        await s.commit()
    assert TOKEN_SHAPE.match(issued.token)
    assert issued.record.kind == "api" and issued.record.scopes == [READ, WRITE]
    assert issued.record.expires_at is not None
    actor = await authenticate(sessionmaker, issued.token)
    assert actor.user_id == clerk_id and actor.token_id == issued.record.id
    assert actor.permissions == {READ, WRITE}
    assert not actor.can(PERSONS_READ)
    (entry,) = await audit_rows(session_as, a, "api_token.create")
    assert entry.after["scopes"] == [READ, WRITE] and "token_hash" not in entry.after
    # the token never carries more than its user now holds
    async with session_as(await admin_actor(session_as, a)) as s:
        await users.update_user(s, clerk_id, permissions=[READ])
        await s.commit()
    assert (await authenticate(sessionmaker, issued.token)).permissions == {READ}


async def test_api_token_refusals(make_agency, sessionmaker, session_as):
    a = await make_agency()
    _, clerk_pw = await make_user(session_as, a, "clerk", [READ], all_companies=True)
    clerk = await authenticate(sessionmaker, (await login(sessionmaker, a, "clerk", clerk_pw)).token)
    cases = [
        (("x", [WRITE], 30), ErrorCode.PERMISSION_DENIED, None),
        (("x", [READ, "companies:everything"], 30), ErrorCode.INVALID_VALUE, "scopes.1"),
        (("x", [], 30), ErrorCode.REQUIRED, "scopes"),
        ((" ", [READ], 30), ErrorCode.REQUIRED, "name"),
        (("x" * 101, [READ], 30), ErrorCode.TOO_LONG, "name"),
        (("x", [READ], 0), ErrorCode.INVALID_VALUE, "expiresInDays"),
        (("x", [READ], 367), ErrorCode.INVALID_VALUE, "expiresInDays"),
    ]
    for args, code, field in cases:
        async with session_as(clerk) as s:
            with pytest.raises(ShebaoError) as err:
                await auth.create_api_token(s, *args)
        assert err.value.code == code, args
        if field:
            assert err.value.problems[0].field == field
    assert await count(session_as, a, AuthToken, AuthToken.kind == "api") == 0
    assert await audit_rows(session_as, a, "api_token.create") == []


async def test_api_token_from_an_api_token_cannot_exceed_its_scopes(make_agency, sessionmaker, session_as):
    a = await make_agency()
    admin = await authenticate(sessionmaker, (await login(sessionmaker, a)).token)
    async with session_as(admin) as s:
        narrow = await auth.create_api_token(s, "只读", [READ], None)
        await s.commit()
    assert narrow.record.expires_at is None
    narrow_actor = await authenticate(sessionmaker, narrow.token)
    async with session_as(narrow_actor) as s:
        with pytest.raises(ShebaoError) as err:
            await auth.create_api_token(s, "扩权", [READ, MANAGE], None)
        assert err.value.code == ErrorCode.PERMISSION_DENIED
    assert await count(session_as, a, AuthToken, AuthToken.kind == "api") == 1


async def test_revoked_api_token_is_invalid(make_agency, sessionmaker, session_as):
    a = await make_agency()
    admin = await authenticate(sessionmaker, (await login(sessionmaker, a)).token)
    async with session_as(admin) as s:
        issued = await auth.create_api_token(s, "对接", [READ], 7)
        await s.commit()
    assert (await authenticate(sessionmaker, issued.token)).permissions == {READ}
    async with session_as(admin) as s:
        listed = await auth.list_api_tokens(s)
        assert [t.id for t in listed] == [issued.record.id]
        await auth.revoke_api_token(s, issued.record.id)
        await s.commit()
    assert await auth_error(sessionmaker, issued.token) == ErrorCode.TOKEN_INVALID
    (entry,) = await audit_rows(session_as, a, "api_token.revoke")
    assert entry.before["revoked_at"] is None and entry.after["revoked_at"] is not None
    assert "token_hash" not in entry.before and "token_hash" not in entry.after


async def test_another_user_cannot_revoke_my_api_token(make_agency, sessionmaker, session_as):
    a = await make_agency()
    admin = await authenticate(sessionmaker, (await login(sessionmaker, a)).token)
    async with session_as(admin) as s:
        issued = await auth.create_api_token(s, "对接", [READ], 7)
        await s.commit()
    clerk_id, _ = await make_user(session_as, a, "clerk", [READ])
    clerk = auth.actor_for(await load_user(session_as, a, clerk_id))
    async with session_as(clerk) as s:
        with pytest.raises(ShebaoError) as err:
            await auth.revoke_api_token(s, issued.record.id)
        assert err.value.code == ErrorCode.NOT_FOUND
        await s.commit()
    assert (await authenticate(sessionmaker, issued.token)).token_id == issued.record.id


# -- users ---------------------------------------------------------------------------------------


async def test_admin_creates_a_user_with_permissions_and_companies(make_agency, session_as):
    a = await make_agency()
    x, y = await make_company(session_as, a), await make_company(session_as, a)
    admin = await admin_actor(session_as, a)
    clerk_id, _ = await make_user(session_as, a, "clerk", [READ, PERSONS_READ, READ], [x.id, y.id, x.id], actor=admin)
    user = await load_user(session_as, a, clerk_id)
    assert user.role == Role.OPERATOR and user.active and not user.all_companies
    assert user.permissions == {READ, PERSONS_READ}
    assert user.company_ids == {x.id, y.id}
    assert await count(session_as, a, UserPermission, UserPermission.user_id == clerk_id) == 2
    assert await count(session_as, a, UserCompanyScope, UserCompanyScope.user_id == clerk_id) == 2
    (entry,) = await audit_rows(session_as, a, "user.create", clerk_id)
    assert entry.actor_user_id == a.admin_id
    assert entry.after["username"] == "clerk"
    assert entry.after["permissions"] == sorted([READ, PERSONS_READ])
    assert entry.after["company_ids"] == sorted([str(x.id), str(y.id)])
    assert "password_hash" not in entry.after


async def test_create_user_needs_users_manage(make_agency, session_as):
    a = await make_agency()
    clerk_id, _ = await make_user(session_as, a, "clerk", [READ, WRITE])
    clerk = auth.actor_for(await load_user(session_as, a, clerk_id))
    async with session_as(clerk) as s:
        with pytest.raises(ShebaoError) as err:
            await users.create_user(s, users.UserInput("other", "其他", generate_password()))
    assert err.value.code == ErrorCode.PERMISSION_DENIED
    assert await count(session_as, a, User) == 2


async def test_a_manager_cannot_grant_what_they_do_not_hold(make_agency, session_as):
    a = await make_agency()
    x, y = await make_company(session_as, a), await make_company(session_as, a)
    manager_id, _ = await make_user(session_as, a, "manager", [MANAGE, READ], [x.id])
    manager = auth.actor_for(await load_user(session_as, a, manager_id))
    assert manager.company_ids == {x.id}
    refused = [
        (dict(permissions=[READ, WRITE]), ErrorCode.PERMISSION_DENIED, "permissions.1"),
        (dict(permissions=["nonsense"]), ErrorCode.INVALID_VALUE, "permissions.0"),
        (dict(role=Role.ADMIN), ErrorCode.PERMISSION_DENIED, "role"),
        (dict(all_companies=True), ErrorCode.PERMISSION_DENIED, "allCompanies"),
        (dict(company_ids=[x.id, y.id]), ErrorCode.NOT_FOUND, "companyIds.1"),
        (dict(company_ids=[uuid.uuid4()]), ErrorCode.NOT_FOUND, "companyIds.0"),
    ]
    users_before = await count(session_as, a, User)
    for kwargs, code, field in refused:
        async with session_as(manager) as s:
            with pytest.raises(ShebaoError) as err:
                await users.create_user(s, users.UserInput("newbie", "新人", generate_password(), **kwargs))
        assert (err.value.code, err.value.problems[0].field) == (code, field), kwargs
    assert await count(session_as, a, User) == users_before
    assert await audit_rows(session_as, a, "user.create", None) and not [
        e for e in await audit_rows(session_as, a, "user.create") if e.actor_user_id == manager_id
    ]
    # what the manager holds, they may hand on
    newbie_id, _ = await make_user(session_as, a, "newbie", [READ], [x.id], actor=manager)
    newbie = await load_user(session_as, a, newbie_id)
    assert newbie.permissions == {READ} and newbie.company_ids == {x.id}


async def test_a_manager_cannot_touch_an_admin_or_raise_a_user(make_agency, session_as):
    a = await make_agency()
    manager_id, _ = await make_user(session_as, a, "manager", [MANAGE, READ], all_companies=True)
    clerk_id, _ = await make_user(session_as, a, "clerk", [READ])
    manager = auth.actor_for(await load_user(session_as, a, manager_id))
    for target, kwargs in (
        (a.admin_id, dict(display_name="改名")),
        (clerk_id, dict(role=Role.ADMIN)),
        (clerk_id, dict(permissions=[READ, WRITE])),
    ):
        async with session_as(manager) as s:
            with pytest.raises(ShebaoError) as err:
                await users.update_user(s, target, **kwargs)
        assert err.value.code == ErrorCode.PERMISSION_DENIED
    admin = await load_user(session_as, a, a.admin_id)
    clerk = await load_user(session_as, a, clerk_id)
    assert admin.display_name == "管理员" and admin.version == 1
    assert clerk.role == Role.OPERATOR and clerk.permissions == {READ} and clerk.version == 1


async def test_the_last_admin_cannot_be_demoted_or_deactivated(make_agency, session_as):
    a = await make_agency()
    admin = await admin_actor(session_as, a)
    for kwargs, field in ((dict(role=Role.OPERATOR), "role"), (dict(active=False), "active")):
        async with session_as(admin) as s:
            with pytest.raises(ShebaoError) as err:
                await users.update_user(s, a.admin_id, **kwargs)
        assert (err.value.code, err.value.problems[0].field) == (ErrorCode.LAST_ADMIN, field)
    user = await load_user(session_as, a, a.admin_id)
    assert user.role == Role.ADMIN and user.active
    assert await audit_rows(session_as, a, "user.update") == []
    # with a second administrator, the first may step down
    second_id, _ = await make_user(session_as, a, "second", role=Role.ADMIN, actor=admin)
    async with session_as(admin) as s:
        await users.update_user(s, a.admin_id, role=Role.OPERATOR, permissions=[READ])
        await s.commit()
    demoted = await load_user(session_as, a, a.admin_id)
    assert demoted.role == Role.OPERATOR and demoted.permissions == {READ}
    (entry,) = await audit_rows(session_as, a, "user.update", a.admin_id)
    assert entry.before["role"] == "admin" and entry.after["role"] == "operator"
    assert entry.after["permissions"] == [READ]
    # and now the second is the last one
    second = auth.actor_for(await load_user(session_as, a, second_id))
    async with session_as(second) as s:
        with pytest.raises(ShebaoError) as err:
            await users.update_user(s, second_id, active=False)
    assert err.value.code == ErrorCode.LAST_ADMIN


async def test_deactivating_a_user_revokes_their_tokens(make_agency, sessionmaker, session_as):
    a = await make_agency()
    clerk_id, clerk_pw = await make_user(session_as, a, "clerk", [READ], all_companies=True)
    session_token = await login(sessionmaker, a, "clerk", clerk_pw)
    async with sessionmaker() as s:
        await auth.authenticate(s, session_token.token)
        api = await auth.create_api_token(s, "对接", [READ], None)
        await s.commit()
    async with session_as(await admin_actor(session_as, a)) as s:
        await users.update_user(s, clerk_id, active=False)
        await s.commit()
    records = await tokens_of(session_as, a, clerk_id)
    assert {r.id for r in records} == {session_token.record.id, api.record.id}
    assert all(r.revoked_at is not None for r in records)
    assert await auth_error(sessionmaker, session_token.token) == ErrorCode.TOKEN_INVALID
    assert await auth_error(sessionmaker, api.token) == ErrorCode.TOKEN_INVALID
    (entry,) = await audit_rows(session_as, a, "user.update", clerk_id)
    assert entry.before["active"] is True and entry.after["active"] is False


async def test_duplicate_username_ignores_case(make_agency, session_as):
    a = await make_agency()
    await make_user(session_as, a, "Clerk", [READ])
    for name in ("clerk", "CLERK", " Clerk "):
        async with session_as(a.system) as s:
            with pytest.raises(ShebaoError) as err:
                await users.create_user(s, users.UserInput(name, "重名", generate_password()))
        assert (err.value.code, err.value.problems[0].field) == (ErrorCode.DUPLICATE, "username")
    assert await count(session_as, a, User, func.lower(User.username) == "clerk") == 1


async def test_the_same_username_in_another_agency_is_fine(make_agency, session_as):
    a, b = await make_agency(), await make_agency()
    await make_user(session_as, a, "clerk", [READ])
    await make_user(session_as, b, "clerk", [READ])
    assert await count(session_as, a, User, User.username == "clerk") == 1
    assert await count(session_as, b, User, User.username == "clerk") == 1


async def test_create_user_reports_every_problem_and_writes_nothing(make_agency, session_as):
    a = await make_agency()
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as err:
            await users.create_user(s, users.UserInput("a b", " ", "weak", permissions=["nope"]))
    assert {(p.code, p.field) for p in err.value.problems} == {
        (ErrorCode.INVALID_USERNAME, "username"),
        (ErrorCode.REQUIRED, "displayName"),
        (ErrorCode.PASSWORD_POLICY, "password"),
        (ErrorCode.INVALID_VALUE, "permissions.0"),
    }
    assert await count(session_as, a, User) == 1


async def test_no_secret_ever_reaches_the_audit_log(make_agency, sessionmaker, session_as):
    a = await make_agency()
    clerk_id, clerk_pw = await make_user(session_as, a, "clerk", [READ], all_companies=True)
    issued = await login(sessionmaker, a, "clerk", clerk_pw)
    await login_error(sessionmaker, a.code, "clerk", "wrong1pw")
    async with sessionmaker() as s:
        await auth.authenticate(s, issued.token)
        api = await auth.create_api_token(s, "对接", [READ], None)
        await auth.change_password(s, clerk_pw, "changed123")
        await s.commit()
    async with session_as(await admin_actor(session_as, a)) as s:
        _, generated = await users.reset_password(s, clerk_id)
        await users.update_user(s, clerk_id, display_name="新名字")
        await s.commit()
    entries = await audit_rows(session_as, a)
    actions = [e.action for e in entries]
    for action in (
        "agency.create",
        "user.create",
        "auth.login",
        "auth.login_failed",
        "api_token.create",
        "user.change_password",
        "user.reset_password",
        "user.update",
    ):
        assert action in actions
    hashes = [u.password_hash for u in [await load_user(session_as, a, clerk_id)]]
    hashes += [r.token_hash for r in await tokens_of(session_as, a, clerk_id)]
    secrets_ = [clerk_pw, "changed123", generated, issued.token, api.token, a.admin_password, *hashes]
    for e in entries:
        for part in (e.before, e.after):
            if part is None:
                continue
            assert "password_hash" not in part and "token_hash" not in part, e.action
            for secret in secrets_:
                assert secret not in repr(part), e.action


async def test_update_user_replaces_permissions_and_companies(make_agency, session_as):
    """Kept grants stay, dropped ones go, new ones come: one update, whatever overlaps."""
    a = await make_agency()
    x, y, z = [await make_company(session_as, a) for _ in range(3)]
    clerk_id, _ = await make_user(session_as, a, "clerk", [READ, PERSONS_READ], [x.id, y.id])
    admin = await admin_actor(session_as, a)
    async with session_as(admin) as s:
        await users.update_user(s, clerk_id, permissions=[READ, WRITE], company_ids=[y.id, z.id])
        await s.commit()
    clerk = await load_user(session_as, a, clerk_id)
    assert clerk.permissions == {READ, WRITE}
    assert clerk.company_ids == {y.id, z.id}
    assert await count(session_as, a, UserPermission, UserPermission.user_id == clerk_id) == 2
    assert await count(session_as, a, UserCompanyScope, UserCompanyScope.user_id == clerk_id) == 2
    (entry,) = await audit_rows(session_as, a, "user.update", clerk_id)
    assert entry.before["permissions"] == sorted([READ, PERSONS_READ])
    assert entry.after["permissions"] == sorted([READ, WRITE])
    assert entry.before["company_ids"] == sorted([str(x.id), str(y.id)])
    assert entry.after["company_ids"] == sorted([str(y.id), str(z.id)])
    # the same values again: nothing to change, nothing logged
    async with session_as(admin) as s:
        with pytest.raises(ShebaoError) as err:
            await users.update_user(s, clerk_id, permissions=[WRITE, READ], company_ids=[z.id, y.id])
        assert err.value.code == ErrorCode.NO_CHANGES
    assert len(await audit_rows(session_as, a, "user.update", clerk_id)) == 1


async def test_a_manager_cannot_take_over_a_more_privileged_account(make_agency, sessionmaker, session_as):
    """Resetting a password is logging in as the user: only for users the manager fully covers."""
    a = await make_agency()
    x, y = await make_company(session_as, a), await make_company(session_as, a)
    manager_id, _ = await make_user(session_as, a, "manager", [MANAGE, READ], [x.id])
    manager = auth.actor_for(await load_user(session_as, a, manager_id))
    reviewer_id, _ = await make_user(session_as, a, "reviewer", [READ, Permission.COMPANIES_REVIEW.value], [x.id])
    elsewhere_id, _ = await make_user(session_as, a, "elsewhere", [READ], [y.id])
    everywhere_id, _ = await make_user(session_as, a, "everywhere", [READ], all_companies=True)
    for target, needed in (
        (reviewer_id, Permission.COMPANIES_REVIEW.value),
        (elsewhere_id, "all companies"),
        (everywhere_id, "all companies"),
        (a.admin_id, "admin"),
    ):
        hash_before = (await load_user(session_as, a, target)).password_hash
        async with session_as(manager) as s:
            with pytest.raises(ShebaoError) as err:
                await users.reset_password(s, target)
        assert err.value.code == ErrorCode.PERMISSION_DENIED
        assert err.value.problems[0].params["permission"] == needed
        assert (await load_user(session_as, a, target)).password_hash == hash_before
    assert await audit_rows(session_as, a, "user.reset_password") == []
    # a user the manager covers: fine
    junior_id, _ = await make_user(session_as, a, "junior", [READ], [x.id])
    async with session_as(manager) as s:
        _, generated = await users.reset_password(s, junior_id)
        await s.commit()
    assert (await login(sessionmaker, a, "junior", generated)).user.id == junior_id


async def test_login_matches_the_username_regardless_of_case(make_agency, sessionmaker):
    from shebao.platform.config import Settings

    agency = await make_agency()
    async with sessionmaker() as s:
        issued = await auth.login(s, Settings(), agency.code.upper(), "ADMIN", agency.admin_password)
    assert issued.user.id == agency.admin_id


async def test_a_limited_manager_cannot_manage_a_user_holding_more(make_agency, session_as):
    agency = await make_agency()
    async with session_as(agency.system) as s:
        reviewer = await users.create_user(
            s,
            users.UserInput(
                username="reviewer",
                display_name="审核员",
                password="Review12345",
                permissions=["companies:review", "companies:read"],
                all_companies=True,
            ),
        )
        manager = await users.create_user(
            s,
            users.UserInput(
                username="manager",
                display_name="人事",
                password="Manage12345",
                permissions=["users:manage", "companies:read"],
                all_companies=True,
            ),
        )
        await s.commit()
    manager_actor = auth.actor_for(manager)
    async with session_as(manager_actor) as s:
        for change in ({"active": False}, {"display_name": "x"}):
            with pytest.raises(ShebaoError) as err:
                await users.update_user(s, reviewer.id, **change)
            assert err.value.code == ErrorCode.PERMISSION_DENIED
        await s.rollback()
    async with session_as(agency.system) as s:
        again = await users.get_user(s, reviewer.id)
        assert again.active and again.display_name == "审核员"


async def test_a_limited_manager_cannot_read_or_revoke_the_tokens_of_a_user_holding_more(make_agency, session_as):
    agency = await make_agency()
    async with session_as(agency.system) as s:
        reviewer = await users.create_user(
            s,
            users.UserInput(
                username="reviewer",
                display_name="审核员",
                password="Review12345",
                permissions=["companies:review", "companies:read"],
                all_companies=True,
            ),
        )
        manager = await users.create_user(
            s,
            users.UserInput(
                username="manager",
                display_name="人事",
                password="Manage12345",
                permissions=["users:manage", "companies:read"],
                all_companies=True,
            ),
        )
        await s.commit()
    async with session_as(auth.actor_for(reviewer)) as s:
        token = await auth.create_api_token(s, "erp", ["companies:review"], 30)
        await s.commit()
    async with session_as(auth.actor_for(manager)) as s:
        for attempt in (auth.list_api_tokens(s, reviewer.id), auth.revoke_api_token(s, token.record.id)):
            with pytest.raises(ShebaoError) as err:
                await attempt
            assert err.value.code == ErrorCode.PERMISSION_DENIED
        await s.rollback()
    async with session_as(agency.system) as s:  # the administrator may, and the token was untouched
        listed = await auth.list_api_tokens(s, reviewer.id)
        assert [t.id for t in listed] == [token.record.id] and listed[0].revoked_at is None
