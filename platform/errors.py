"""Errors a caller can act on: a stable code, the field it concerns, and a message.

Services raise :class:`ShebaoError` with one or more :class:`Problem`s. Adapters (GraphQL, CLI)
turn them into typed errors; the message is rendered in Simplified Chinese by default and in
English when the client asks. Codes never change meaning once shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from shebao.platform.error_codes import ErrorCode
from shebao.platform.error_messages import MESSAGES

__all__ = ["MESSAGES", "ErrorCode", "Problem", "Problems", "ShebaoError"]


LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: what (code), where (field path) and the figures involved."""

    code: ErrorCode
    field: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)

    @classmethod
    def stored(cls, data: dict[str, Any]) -> Problem:
        """A problem as jobs and imports keep it in JSON: ``{code, field, params}``."""
        return cls(ErrorCode(data["code"]), data.get("field"), data.get("params") or {})

    def message(self, lang: str = "zh") -> str:
        zh, en = MESSAGES[self.code]
        template = en if lang == "en" else zh
        try:
            return template.format(**self.params)
        except (KeyError, IndexError):
            return template


class ShebaoError(Exception):
    """A refused request. Raising it means nothing was (or will be) written."""

    def __init__(self, problems: list[Problem]):
        assert problems, "a ShebaoError needs at least one problem"
        self.problems = problems
        super().__init__("; ".join(f"{p.code}@{p.field}: {p.message('en')}" for p in problems))

    @classmethod
    def of(cls, code: ErrorCode, field: str | None = None, **params: Any) -> ShebaoError:
        return cls([Problem(code, field, params)])

    @property
    def code(self) -> ErrorCode:
        return self.problems[0].code


class Problems:
    """Collects problems while checking a whole input, so the caller sees all of them at once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, code: ErrorCode, field: str | None = None, **params: Any) -> None:
        self.items.append(Problem(code, field, params))

    def extend(self, error: ShebaoError, prefix: str | None = None) -> None:
        for p in error.problems:
            name = f"{prefix}.{p.field}" if prefix and p.field else (p.field or prefix)
            self.items.append(Problem(p.code, name, p.params))

    def check(self, func, *args, field: str | None = None):
        """Run a validator; record its problems instead of raising. Returns its value or None."""
        try:
            return func(*args)
        except ShebaoError as err:
            for p in err.problems:
                self.items.append(Problem(p.code, p.field or field, p.params))
            return None

    def raise_if_any(self) -> None:
        if self.items:
            raise ShebaoError(list(self.items))

    def __bool__(self) -> bool:
        return bool(self.items)
