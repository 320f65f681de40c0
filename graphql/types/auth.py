"""Login, tokens, the current user, and user management over GraphQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.types import Info

from shebao.graphql.errors import UserError, run_mutation
from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Connection, page_request, to_connection
from shebao.graphql.types.companies import Company, maybe, parse_id
from shebao.platform.auth import service as auth
from shebao.platform.auth import users
from shebao.platform.auth.models import AuthToken, User
from shebao.platform.auth.permissions import Permission, Role

RoleEnum = strawberry.enum(Role, name="Role")
PermissionEnum = strawberry.enum(Permission, name="Permission")


@strawberry.type(name="Agency", description="The HR outsourcing agency (the tenant).")
class AgencyType:
    id: strawberry.ID
    code: str
    name: str


@strawberry.type(name="User", description="An operator of the agency.")
class UserType:
    id: strawberry.ID
    username: str
    display_name: str
    role: RoleEnum
    active: bool
    all_companies: bool = strawberry.field(description="Acts for every client company of the agency.")
    granted_permissions: list[str] = strawberry.field(description="Permissions granted (admins hold all).")
    company_ids: list[strawberry.ID]
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime

    @strawberry.field(description="The client companies this user may act for, unless allCompanies.")
    async def companies(self, info: Info) -> list[Company]:
        rows = await info.context.loaders.company.load_many([uuid.UUID(i) for i in self.company_ids])
        return [Company.from_model(r) for r in rows if r is not None]

    @classmethod
    def from_model(cls, m: User) -> UserType:
        return cls(
            id=strawberry.ID(str(m.id)),
            username=m.username,
            display_name=m.display_name,
            role=m.role,
            active=m.active,
            all_companies=m.acts_for_all_companies,
            granted_permissions=sorted(m.permissions),
            company_ids=[strawberry.ID(str(c)) for c in sorted(m.company_ids)],
            failed_logins=m.failed_logins,
            locked_until=m.locked_until,
            last_login_at=m.last_login_at,
            created_at=m.created_at,
        )


@strawberry.type(description="The caller: who they are and what this token lets them do.")
class Me:
    user: UserType
    agency: AgencyType
    permissions: list[str] = strawberry.field(description="Effective permissions (narrowed by an API token's scope).")
    token_kind: str


@strawberry.type(description="A named API token for an integration. The token itself is shown once, at creation.")
class ApiToken:
    id: strawberry.ID
    name: str | None
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_model(cls, m: AuthToken) -> ApiToken:
        return cls(
            id=strawberry.ID(str(m.id)),
            name=m.name,
            scopes=list(m.scopes or []),
            created_at=m.created_at,
            expires_at=m.expires_at,
            revoked_at=m.revoked_at,
            last_used_at=m.last_used_at,
        )


@strawberry.input
class LoginInput:
    agency_code: str
    username: str
    password: str


@strawberry.type
class LoginPayload:
    token: str | None = strawberry.field(default=None, description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime | None = None
    user: UserType | None = None
    errors: list[UserError]


@strawberry.type
class OkPayload:
    ok: bool
    errors: list[UserError]


@strawberry.input
class CreateApiTokenInput:
    name: str
    scopes: list[PermissionEnum]
    expires_in_days: int | None = 90


@strawberry.type
class CreateApiTokenPayload:
    token: str | None = strawberry.field(default=None, description="Shown once; only its hash is kept.")
    api_token: ApiToken | None = None
    errors: list[UserError]


@strawberry.type
class ApiTokenPayload:
    api_token: ApiToken | None = None
    errors: list[UserError]


@strawberry.input
class CreateUserInput:
    username: str
    display_name: str
    password: str
    role: RoleEnum = Role.OPERATOR
    permissions: list[PermissionEnum] = strawberry.field(default_factory=list)
    company_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    all_companies: bool = False


@strawberry.input(description="Fields left out stay as they are; lists given replace the current ones.")
class UpdateUserInput:
    id: strawberry.ID
    display_name: str | None = strawberry.UNSET
    role: RoleEnum | None = strawberry.UNSET
    permissions: list[PermissionEnum] | None = strawberry.UNSET
    company_ids: list[strawberry.ID] | None = strawberry.UNSET
    all_companies: bool | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.type
class UserPayload:
    user: UserType | None = None
    errors: list[UserError]


@strawberry.type
class ResetPasswordPayload:
    user: UserType | None = None
    password: str | None = strawberry.field(default=None, description="The new password, shown once.")
    errors: list[UserError]


def _values(items) -> list[str]:
    return [getattr(i, "value", i) for i in items]


@strawberry.type
class AuthQuery:
    @strawberry.field(extensions=requires())
    async def me(self, info: Info) -> Me:
        ctx = info.context
        who = await ctx.call(auth.whoami)
        return Me(
            user=UserType.from_model(who.user),
            agency=AgencyType(id=strawberry.ID(str(who.agency.id)), code=who.agency.code, name=who.agency.name),
            permissions=sorted(ctx.actor.permissions),
            token_kind=who.token.kind if who.token else "session",
        )

    @strawberry.field(extensions=requires(Permission.USERS_MANAGE))
    async def users(
        self, info: Info, first: int | None = None, after: str | None = None, active: bool | None = None
    ) -> Connection[UserType]:
        page = await info.context.call(users.list_users, page_request(first, after), active)
        return to_connection(page, UserType.from_model)

    @strawberry.field(extensions=requires(Permission.USERS_MANAGE))
    async def user(self, info: Info, id: strawberry.ID) -> UserType | None:
        row = await maybe(info, lambda s: users.get_user(s, parse_id(id)))
        return UserType.from_model(row) if row else None

    @strawberry.field(extensions=requires(), description="Your API tokens (or a user's, with users:manage).")
    async def api_tokens(self, info: Info, user_id: strawberry.ID | None = None) -> list[ApiToken]:
        rows = await info.context.call(auth.list_api_tokens, parse_id(user_id, "userId") if user_id else None)
        return [ApiToken.from_model(r) for r in rows]


@strawberry.type
class AuthMutation:
    @strawberry.mutation(description="Log in with the agency code, username and password.")
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        ctx = info.context
        issued, errors = await run_mutation(
            info,
            lambda s: auth.login(s, ctx.settings, input.agency_code, input.username, input.password, ctx.request_id),
        )
        if issued is None:
            return LoginPayload(errors=errors)
        return LoginPayload(
            token=issued.token, expires_at=issued.record.expires_at, user=UserType.from_model(issued.user), errors=[]
        )

    @strawberry.mutation(extensions=requires(), description="Revoke the token this request was made with.")
    async def logout(self, info: Info) -> OkPayload:
        _, errors = await run_mutation(info, auth.logout)
        return OkPayload(ok=not errors, errors=errors)

    @strawberry.mutation(extensions=requires(), description="Change your password; your other sessions end.")
    async def change_password(self, info: Info, current_password: str, new_password: str) -> OkPayload:
        _, errors = await run_mutation(info, auth.change_password, current_password, new_password)
        return OkPayload(ok=not errors, errors=errors)

    @strawberry.mutation(extensions=requires())
    async def create_api_token(self, info: Info, input: CreateApiTokenInput) -> CreateApiTokenPayload:
        issued, errors = await run_mutation(
            info, auth.create_api_token, input.name, _values(input.scopes), input.expires_in_days
        )
        if issued is None:
            return CreateApiTokenPayload(errors=errors)
        return CreateApiTokenPayload(token=issued.token, api_token=ApiToken.from_model(issued.record), errors=[])

    @strawberry.mutation(extensions=requires())
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> ApiTokenPayload:
        row, errors = await run_mutation(info, lambda s: auth.revoke_api_token(s, parse_id(id)))
        return ApiTokenPayload(api_token=ApiToken.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=requires(Permission.USERS_MANAGE))
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload:
        async def create(session):
            data = users.UserInput(
                username=input.username,
                display_name=input.display_name,
                password=input.password,
                role=Role(input.role),
                permissions=_values(input.permissions),
                company_ids=[parse_id(c, f"companyIds.{i}") for i, c in enumerate(input.company_ids)],
                all_companies=input.all_companies,
            )
            return await users.create_user(session, data)

        row, errors = await run_mutation(info, create)
        return UserPayload(user=UserType.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=requires(Permission.USERS_MANAGE))
    async def update_user(self, info: Info, input: UpdateUserInput) -> UserPayload:
        changes = {}
        for key in ("display_name", "role", "all_companies", "active"):
            value = getattr(input, key)
            if value is not strawberry.UNSET and value is not None:
                changes[key] = Role(value) if key == "role" else value
        if input.permissions is not strawberry.UNSET and input.permissions is not None:
            changes["permissions"] = _values(input.permissions)

        async def update(session):
            if input.company_ids is not strawberry.UNSET and input.company_ids is not None:
                changes["company_ids"] = [parse_id(c, f"companyIds.{i}") for i, c in enumerate(input.company_ids)]
            return await users.update_user(session, parse_id(input.id), **changes)

        row, errors = await run_mutation(info, update)
        return UserPayload(user=UserType.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=requires(Permission.USERS_MANAGE), description="Lift a login lockout.")
    async def unlock_user(self, info: Info, id: strawberry.ID) -> UserPayload:
        row, errors = await run_mutation(info, lambda s: users.unlock_user(s, parse_id(id)))
        return UserPayload(user=UserType.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        extensions=requires(Permission.USERS_MANAGE),
        description="Set a user's password (generated unless given); their sessions end.",
    )
    async def reset_user_password(
        self, info: Info, id: strawberry.ID, new_password: str | None = None
    ) -> ResetPasswordPayload:
        result, errors = await run_mutation(info, lambda s: users.reset_password(s, parse_id(id), new_password))
        if result is None:
            return ResetPasswordPayload(errors=errors)
        return ResetPasswordPayload(user=UserType.from_model(result[0]), password=result[1], errors=[])
