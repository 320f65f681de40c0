"""The agency's policy library: its own dated figures for a region, over the plugin's."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shebao.platform.core.month import Month
from shebao.platform.db.base import Base, TenantOwned, Timestamps, str_enum
from shebao.platform.db.types import MonthType
from shebao.platform.regions.api import Confidence


class PolicyFigure(TenantOwned, Timestamps, Base):
    """A figure the agency recorded (a rate, a limit, a fixed amount...) with its source.

    Withdrawn figures stay, for the audit trail and for explaining settlements computed with
    them; only active ones are used. One active figure per region, name and month.
    """

    __tablename__ = "policy_figures"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "recorded_by"], ["users.agency_id", "users.id"]),
        ForeignKeyConstraint(["agency_id", "withdrawn_by"], ["users.agency_id", "users.id"]),
        Index(
            "uq_policy_figures_active",
            "agency_id",
            "region_code",
            "name",
            "since",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )

    region_code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(64))
    since: Mapped[Month] = mapped_column(MonthType())
    value: Mapped[str] = mapped_column(String(40))  # exact decimal text; the unit follows from the name
    source: Mapped[str] = mapped_column(String(500))  # e.g. 津人社局发〔2026〕12号
    source_url: Mapped[str | None] = mapped_column(String(500))
    confidence: Mapped[Confidence] = mapped_column(str_enum(Confidence, 24), default=Confidence.OFFICIAL)
    note: Mapped[str | None] = mapped_column(String(1000))
    recorded_by: Mapped[uuid.UUID | None]
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[uuid.UUID | None]
    withdraw_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None
