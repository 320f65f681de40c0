"""Permissions declared on fields: ``strawberry.field(extensions=requires(Permission.X))``."""

from __future__ import annotations

from typing import Any

from strawberry.exceptions import StrawberryGraphQLError
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from shebao.platform.auth.permissions import Permission
from shebao.platform.errors import ErrorCode, Problem


class Requires(BasePermission):
    """Authenticated, and (if given) holding ``permission``."""

    def __init__(self, permission: Permission | None = None):
        self.permission = permission

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        if actor is not None and (self.permission is None or actor.can(self.permission)):
            return True
        # Raised here rather than in on_unauthorized(), which is not given the request's language.
        ctx = info.context
        if ctx.actor is None:
            problem = Problem(ErrorCode.NOT_AUTHENTICATED)
        else:
            problem = Problem(ErrorCode.PERMISSION_DENIED, params={"permission": str(self.permission)})
        raise StrawberryGraphQLError(
            problem.message(ctx.lang), extensions={"code": problem.code.value, **problem.params}
        )


def requires(permission: Permission | None = None) -> list[PermissionExtension]:
    return [PermissionExtension(permissions=[Requires(permission)], use_directives=False)]


AUTHENTICATED = None
