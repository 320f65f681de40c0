"""The declarative base and the tenant-ownership convention.

Every tenant-owned table carries ``agency_id`` as the first column of its primary key, and every
foreign key to another tenant-owned table includes it, so a row can never point at another
agency's row and the schema can be distributed by ``agency_id`` (Citus).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Enum, ForeignKey, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shebao.platform.core.clock import utcnow
from shebao.platform.core.ids import new_id
from shebao.platform.db.types import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        uuid.UUID: Uuid(),
        datetime: UtcDateTime(),
    }


def str_enum(cls: type[enum.Enum], length: int = 32) -> Enum:
    """Store an enum by its value as plain text (no native PG enum: adding a value stays a data change)."""
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class TenantOwned:
    """Mixin for tables owned by one agency: ``agency_id`` leads the primary key.

    The tenant filter (:mod:`shebao.platform.tenancy.filters`) adds ``agency_id = current`` to every
    ORM statement touching a subclass, and row-level security does the same on PostgreSQL.
    """

    __tenant_owned__: ClassVar[bool] = True
    # How the company scope of an operator applies: "self" for the company table, the name of a
    # company_id column for rows that belong to one company, a callable for anything subtler,
    # None when the row is agency-wide.
    __company_scope__: ClassVar[Any] = None

    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def tenant_models() -> list[type]:
    """Every mapped class that is tenant-owned."""
    return [m.class_ for m in Base.registry.mappers if getattr(m.class_, "__tenant_owned__", False)]
