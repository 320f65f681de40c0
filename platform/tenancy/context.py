"""Who is acting: the agency (tenant), the user or token, what they may do and for which companies.

An :class:`Actor` is bound to a database session (``session.info["actor"]``) and the tenant filter
reads it from there, so nothing below the adapters passes an agency id around by hand.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from shebao.platform.auth.permissions import Permission, Role
from shebao.platform.errors import ErrorCode, ShebaoError


@dataclass(frozen=True)
class Actor:
    agency_id: uuid.UUID
    user_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    role: Role = Role.OPERATOR
    permissions: frozenset[str] = field(default_factory=frozenset)
    # None: every client company of the agency; otherwise only these.
    company_ids: frozenset[uuid.UUID] | None = None
    request_id: str | None = None

    @classmethod
    def system(cls, agency_id: uuid.UUID, request_id: str | None = None) -> Actor:
        """The agency acting through a CLI command or a job: all permissions, all companies."""
        return cls(
            agency_id=agency_id,
            role=Role.ADMIN,
            permissions=frozenset(p.value for p in Permission),
            request_id=request_id,
        )

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def can(self, permission: Permission | str) -> bool:
        return str(permission) in self.permissions

    def require(self, permission: Permission | str) -> None:
        if not self.can(permission):
            raise ShebaoError.of(ErrorCode.PERMISSION_DENIED, permission=str(permission))

    def require_agency_wide(self, field: str | None = None) -> None:
        """Work over every client company (a whole region) is for operators with no company scope."""
        if self.company_ids is not None:
            raise ShebaoError.of(ErrorCode.AGENCY_WIDE_ONLY, field)

    def in_scope(self, company_id: uuid.UUID) -> bool:
        return self.company_ids is None or company_id in self.company_ids
