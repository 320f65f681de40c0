"""The audit log: who did what, when, to which record, with the values before and after."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, or_
from sqlalchemy.orm import Mapped, mapped_column

from shebao.platform.core.clock import utcnow
from shebao.platform.db.base import Base, TenantOwned


def _audit_scope(cls, company_ids):
    # A scoped operator reads the agency-wide entries and those of their own companies only.
    return or_(cls.company_id.is_(None), cls.company_id.in_(company_ids))


class AuditEntry(TenantOwned, Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "agency_id", "entity_type", "entity_id"),)
    __company_scope__ = _audit_scope

    at: Mapped[datetime] = mapped_column(default=utcnow)
    # No foreign key on purpose: the log outlives what it speaks of.
    actor_user_id: Mapped[uuid.UUID | None]
    actor_token_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID | None]
    company_id: Mapped[uuid.UUID | None]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
