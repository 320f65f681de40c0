"""Declarations (申报业务) and the base history they write.

A declaration is one change for one person at one client company, in the company's region; it
moves draft (待提交) → submitted (审核中) → approved (审核通过) or rejected (审核不通过), and its
approval applies the change. The values are kept as declared, as JSON text, for the audit and for
documents; ``month`` is the month the change takes effect (start, stop, change or first month).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shebao.platform.core.month import Month
from shebao.platform.db.base import Base, TenantOwned, Timestamps, str_enum
from shebao.platform.db.types import Money, MonthType
from shebao.platform.regions.api import DeclarationKind


class DeclarationStatus(enum.StrEnum):
    DRAFT = "draft"  # 待提交
    SUBMITTED = "submitted"  # 审核中
    APPROVED = "approved"  # 审核通过
    REJECTED = "rejected"  # 审核不通过 (immutable: declare again)
    ROLLED_BACK = "rolled_back"  # 已回退 (Guiyang: an unpaid back payment taken back)

    @property
    def label_zh(self) -> str:
        return {"draft": "待提交", "submitted": "审核中", "approved": "审核通过", "rejected": "审核不通过"}.get(
            self.value, "已回退"
        )


class Declaration(TenantOwned, Timestamps, Base):
    __tablename__ = "declarations"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "company_id"], ["client_companies.agency_id", "client_companies.id"]),
        ForeignKeyConstraint(["agency_id", "person_id"], ["persons.agency_id", "persons.id"]),
        ForeignKeyConstraint(["agency_id", "enrollment_id"], ["enrollments.agency_id", "enrollments.id"]),
        ForeignKeyConstraint(["agency_id", "target_id"], ["declarations.agency_id", "declarations.id"]),
        ForeignKeyConstraint(["agency_id", "created_by"], ["users.agency_id", "users.id"]),
        ForeignKeyConstraint(["agency_id", "reviewed_by"], ["users.agency_id", "users.id"]),
        Index("ix_declarations_company", "agency_id", "company_id", "month", "status"),
        Index("ix_declarations_person", "agency_id", "id_number"),
        Index("ix_declarations_status", "agency_id", "status"),
        Index(
            "uq_declarations_idempotency_key",
            "agency_id",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )
    __company_scope__ = "company_id"

    company_id: Mapped[uuid.UUID]
    region_code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[DeclarationKind] = mapped_column(str_enum(DeclarationKind, 24))
    status: Mapped[DeclarationStatus] = mapped_column(str_enum(DeclarationStatus, 16), default=DeclarationStatus.DRAFT)
    id_number: Mapped[str | None] = mapped_column(String(18))
    person_id: Mapped[uuid.UUID | None]  # known at once for an existing person; an add sets it on approval
    enrollment_id: Mapped[uuid.UUID | None]  # the enrollment it changed (or created)
    target_id: Mapped[uuid.UUID | None]  # a rollback: the declaration it takes back
    month: Mapped[Month | None] = mapped_column(MonthType())
    to_month: Mapped[Month | None] = mapped_column(MonthType())  # a back payment's last month
    monthly_base: Mapped[Decimal | None] = mapped_column(Money())
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    notices: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[uuid.UUID | None]
    submitted_at: Mapped[datetime | None]
    reviewed_by: Mapped[uuid.UUID | None]
    reviewed_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class EnrollmentBase(TenantOwned, Base):
    """The monthly base of an enrollment from a month on (the add's, then each base change)."""

    __tablename__ = "enrollment_bases"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "enrollment_id"], ["enrollments.agency_id", "enrollments.id"]),
        ForeignKeyConstraint(["agency_id", "declaration_id"], ["declarations.agency_id", "declarations.id"]),
        ForeignKeyConstraint(["agency_id", "company_id"], ["client_companies.agency_id", "client_companies.id"]),
        UniqueConstraint("agency_id", "enrollment_id", "since"),
    )
    __company_scope__ = "company_id"

    enrollment_id: Mapped[uuid.UUID]
    company_id: Mapped[uuid.UUID]
    since: Mapped[Month] = mapped_column(MonthType())
    base: Mapped[Decimal] = mapped_column(Money())
    declaration_id: Mapped[uuid.UUID | None]


class DeclarationAttachment(TenantOwned, Timestamps, Base):
    """A file a declaration carries (劳动合同, 身份证扫描件), judged by its content, kept in the storage."""

    __tablename__ = "declaration_attachments"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "declaration_id"], ["declarations.agency_id", "declarations.id"]),
        ForeignKeyConstraint(["agency_id", "company_id"], ["client_companies.agency_id", "client_companies.id"]),
        ForeignKeyConstraint(["agency_id", "uploaded_by"], ["users.agency_id", "users.id"]),
        UniqueConstraint("agency_id", "declaration_id", "document", "sha256"),
    )
    __company_scope__ = "company_id"

    declaration_id: Mapped[uuid.UUID]
    company_id: Mapped[uuid.UUID]
    document: Mapped[str] = mapped_column(String(64))  # the region's name for it (labour_contract)
    filename: Mapped[str | None] = mapped_column(String(255))  # as uploaded; never trusted for the type
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    uploaded_by: Mapped[uuid.UUID | None]
