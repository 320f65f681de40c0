"""The tenant itself. ``agencies`` is the one table that is not tenant-owned."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shebao.platform.core.clock import utcnow
from shebao.platform.core.ids import new_id
from shebao.platform.db.base import Base


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # The short code operators type at login (like the unit code of the government portals).
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
