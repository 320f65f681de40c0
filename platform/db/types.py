"""Column types that keep their meaning on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from shebao.platform.core.month import Month

CENT = Decimal("0.01")


class Money(TypeDecorator[Decimal]):
    """Exact amounts in yuan to the fen: NUMERIC on PostgreSQL; on SQLite, text (its NUMERIC is a float).

    Values are written with exactly two decimals; rounding is a region rule applied before this
    point, so a value with more decimals is refused rather than silently rounded.
    """

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(24))
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        if value != value.quantize(CENT):
            raise ValueError(f"{value} has more than two decimals: round it with the region's rule first")
        value = value.quantize(CENT)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value).quantize(CENT)


class MonthType(TypeDecorator[Month]):
    """A contribution month stored as ``YYYY-MM`` text, which sorts in calendar order."""

    impl = String(7)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return str(value if isinstance(value, Month) else Month.parse(value))

    def process_result_value(self, value, dialect):
        return None if value is None else Month.parse(value)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes; SQLite would otherwise hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
