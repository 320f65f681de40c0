"""Operators, what they may do and for whom, and their tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shebao.platform.auth.permissions import Role
from shebao.platform.db.base import Base, TenantOwned, Timestamps, str_enum


class User(TenantOwned, Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("agency_id", "username"),)

    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(str_enum(Role, 16))
    # A user with all_companies acts for every client company of the agency; otherwise only for
    # the companies in user_company_scope.
    all_companies: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    permission_rows: Mapped[list[UserPermission]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", overlaps="user"
    )
    scope_rows: Mapped[list[UserCompanyScope]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", overlaps="user"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(r.permission for r in self.permission_rows)

    @property
    def acts_for_all_companies(self) -> bool:
        """An administrator, or an operator granted every company of the agency."""
        return self.role == Role.ADMIN or self.all_companies

    @property
    def company_ids(self) -> frozenset[uuid.UUID]:
        return frozenset(r.company_id for r in self.scope_rows)


class UserPermission(TenantOwned, Base):
    __tablename__ = "user_permissions"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "user_id"], ["users.agency_id", "users.id"], ondelete="CASCADE"),
        UniqueConstraint("agency_id", "user_id", "permission"),
    )

    user_id: Mapped[uuid.UUID]
    permission: Mapped[str] = mapped_column(String(40))


class UserCompanyScope(TenantOwned, Base):
    """One client company an operator may act for."""

    __tablename__ = "user_company_scope"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "user_id"], ["users.agency_id", "users.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["agency_id", "company_id"],
            ["client_companies.agency_id", "client_companies.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("agency_id", "user_id", "company_id"),
    )

    user_id: Mapped[uuid.UUID]
    company_id: Mapped[uuid.UUID]


class AuthToken(TenantOwned, Base):
    """A bearer token: a login session or a named API token. Only its SHA-256 is stored."""

    __tablename__ = "auth_tokens"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "user_id"], ["users.agency_id", "users.id"], ondelete="CASCADE"),
        UniqueConstraint("token_hash"),
    )

    user_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))  # "session" | "api"
    name: Mapped[str | None] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64))
    # For API tokens: the permissions it carries (a subset of its user's); None for sessions.
    scopes: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
