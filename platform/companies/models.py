"""Client companies (参保单位) and the review of their sensitive changes (敏感信息变更)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shebao.platform.db.base import Base, TenantOwned, Timestamps, str_enum


class ClientCompany(TenantOwned, Timestamps, Base):
    __tablename__ = "client_companies"
    __table_args__ = (UniqueConstraint("agency_id", "region_code", "credit_code"),)
    __company_scope__ = "self"

    name: Mapped[str] = mapped_column(String(200))  # 单位全称
    credit_code: Mapped[str] = mapped_column(String(18))  # 统一社会信用代码
    unit_number: Mapped[str | None] = mapped_column(String(40))  # 单位社保编号 (region format)
    region_code: Mapped[str] = mapped_column(String(40))
    legal_rep_name: Mapped[str] = mapped_column(String(100))  # 法定代表人
    legal_rep_id_number: Mapped[str | None] = mapped_column(String(18))
    contact_name: Mapped[str | None] = mapped_column(String(100))  # 专管员
    contact_id_number: Mapped[str | None] = mapped_column(String(18))
    contact_mobile: Mapped[str | None] = mapped_column(String(11))
    bank_name: Mapped[str | None] = mapped_column(String(200))  # 开户行
    bank_account: Mapped[str | None] = mapped_column(String(40))  # 账号
    bank_account_name: Mapped[str | None] = mapped_column(String(200))  # 户名
    industry_class: Mapped[int] = mapped_column(default=1)  # 工伤行业类别 1-8
    industry_grade: Mapped[int] = mapped_column(default=100)  # 浮动档次, percent of the base rate
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ChangeStatus(enum.StrEnum):
    PENDING = "pending"  # 审核中
    APPROVED = "approved"  # 审核通过
    REJECTED = "rejected"  # 审核不通过


class CompanyChangeRequest(TenantOwned, Timestamps, Base):
    """A sensitive change waiting for review: the new values and the values they replace."""

    __tablename__ = "company_change_requests"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "company_id"], ["client_companies.agency_id", "client_companies.id"]),
        ForeignKeyConstraint(["agency_id", "requested_by"], ["users.agency_id", "users.id"]),
        ForeignKeyConstraint(["agency_id", "reviewed_by"], ["users.agency_id", "users.id"]),
    )
    __company_scope__ = "company_id"

    company_id: Mapped[uuid.UUID]
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    previous: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[ChangeStatus] = mapped_column(str_enum(ChangeStatus, 16), default=ChangeStatus.PENDING)
    requested_by: Mapped[uuid.UUID]
    reviewed_by: Mapped[uuid.UUID | None]
    reviewed_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
