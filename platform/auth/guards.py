"""Rules about who may act on another user's account, shared by every such operation."""

from __future__ import annotations

import re

from shebao.platform.auth.models import User
from shebao.platform.auth.permissions import Role
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.tenancy.context import Actor

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")


def check_username(value: str | None, field: str = "username") -> str:
    value = (value or "").strip()
    if not _USERNAME.match(value):
        raise ShebaoError.of(ErrorCode.INVALID_USERNAME, field)
    return value


def require_covers(actor: Actor, user: User) -> None:
    """Refuse unless ``actor`` holds every permission and company ``user`` holds.

    Whoever manages an account (resets its password, changes or deactivates it, reads or revokes
    its tokens) could act as it or stop it: nobody does that to an account holding more than they do.
    """
    if actor.is_admin or actor.user_id == user.id:
        return
    if user.role == Role.ADMIN:
        raise ShebaoError.of(ErrorCode.PERMISSION_DENIED, "id", permission="admin")
    missing = sorted(user.permissions - actor.permissions)
    if missing:
        raise ShebaoError.of(ErrorCode.PERMISSION_DENIED, "id", permission=missing[0])
    if actor.company_ids is not None and (user.acts_for_all_companies or not user.company_ids <= actor.company_ids):
        raise ShebaoError.of(ErrorCode.PERMISSION_DENIED, "id", permission="all companies")
