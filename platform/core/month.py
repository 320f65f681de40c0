"""A contribution month (缴费月份) is a value, not a date: ``2026-11``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shebao.platform.errors import ErrorCode, ShebaoError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True, slots=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12) or not (1900 <= self.year <= 2999):
            raise ShebaoError.of(ErrorCode.INVALID_MONTH, value=f"{self.year}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str, field: str | None = None) -> Month:
        m = _MONTH.match(text.strip()) if isinstance(text, str) else None
        if not m:
            raise ShebaoError.of(ErrorCode.INVALID_MONTH, field, value=text)
        try:
            return cls(int(m.group(1)), int(m.group(2)))
        except ShebaoError:
            raise ShebaoError.of(ErrorCode.INVALID_MONTH, field, value=text) from None

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def add(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def __sub__(self, other: Month) -> int:
        return (self.year - other.year) * 12 + (self.month - other.month)
