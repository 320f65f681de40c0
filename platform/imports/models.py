"""A staged batch-workbook import: the uploaded file, its checked preview, and what confirming it made.

upload → ``checking`` (a job reads and checks every row) → ``ready`` (the preview: counts and every
problem by row) or ``rejected`` (the file itself is refused) → ``confirmed`` (all the drafts made in
one transaction) or ``discarded``. The same bytes for the same company, region and kind are one import
(a partial unique index): uploading a file again answers the earlier import, and a confirmed file is
never declared twice.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shebao.platform.db.base import Base, TenantOwned, Timestamps, str_enum
from shebao.platform.regions.api import DeclarationKind


class ImportStatus(enum.StrEnum):
    CHECKING = "checking"  # the rows are being read and checked
    READY = "ready"  # the preview is there: confirm or discard
    REJECTED = "rejected"  # the file is refused whole (corrupt, wrong columns, too large...)
    CONFIRMING = "confirming"  # the drafts are being made
    CONFIRMED = "confirmed"
    DISCARDED = "discarded"


AGENCY_SCOPE = "agency"  # ``scope_key`` of an agency-wide file (its rows name their companies)


class WorkbookImport(TenantOwned, Timestamps, Base):
    __tablename__ = "workbook_imports"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "company_id"], ["client_companies.agency_id", "client_companies.id"]),
        ForeignKeyConstraint(["agency_id", "created_by"], ["users.agency_id", "users.id"]),
        ForeignKeyConstraint(["agency_id", "confirmed_by"], ["users.agency_id", "users.id"]),
        Index("ix_workbook_imports_created", "agency_id", "created_at"),
        # One live import per file: re-uploading the same bytes answers it instead of declaring twice.
        Index(
            "uq_workbook_imports_file",
            "agency_id",
            "scope_key",
            "region_code",
            "kind",
            "sha256",
            unique=True,
            sqlite_where=text("status <> 'discarded'"),
            postgresql_where=text("status <> 'discarded'"),
        ),
    )
    __company_scope__ = "company_id"

    company_id: Mapped[uuid.UUID | None]  # None: an agency-wide file
    scope_key: Mapped[str] = mapped_column(String(40))  # the company's id, or "agency"
    region_code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[DeclarationKind] = mapped_column(str_enum(DeclarationKind, 24))
    status: Mapped[ImportStatus] = mapped_column(str_enum(ImportStatus, 16), default=ImportStatus.CHECKING)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    job_id: Mapped[uuid.UUID | None]  # the latest check or confirm job
    # The preview: {rows_read, rows_valid, rows_failed, head_count, total_wage}
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    problems: Mapped[list[Any] | None] = mapped_column(JSON)  # file-level: [{code, field, params}]
    row_problems: Mapped[list[Any] | None] = mapped_column(JSON)  # [{row, column, key, letter, code, field, params}]
    notices: Mapped[list[Any] | None] = mapped_column(JSON)  # region notices, with row counts
    report_key: Mapped[str | None] = mapped_column(String(300))  # the error-report workbook
    declarations: Mapped[int] = mapped_column(default=0)  # drafts made on confirmation
    created_by: Mapped[uuid.UUID | None]
    checked_at: Mapped[datetime | None]
    confirmed_by: Mapped[uuid.UUID | None]
    confirmed_at: Mapped[datetime | None]
