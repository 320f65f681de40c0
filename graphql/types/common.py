"""Scalars and Relay-style connections shared by every domain's types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from shebao.platform.core.month import Month as MonthValue
from shebao.platform.core.pagination import MAX_PAGE_SIZE, Page, PageRequest, encode_cursor

T = TypeVar("T")

# Annotations use the platform's Month value itself; the schema maps it to this scalar.
Month = MonthValue
MONTH_SCALAR = strawberry.scalar(
    name="Month",
    description="A contribution month, written YYYY-MM (缴费月份).",
    serialize=str,
    parse_value=lambda v: MonthValue.parse(v),
)
SCALAR_MAP = {MonthValue: MONTH_SCALAR}


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type(description=f"A page of results. `first` is at most {MAX_PAGE_SIZE}.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

    @strawberry.field
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


def to_connection(page: Page, convert: Callable) -> Connection:
    return Connection(
        edges=[Edge(node=convert(item), cursor=encode_cursor(item.id)) for item in page.items],
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        total_count=page.total_count,
    )


def page_request(first: int | None, after: str | None) -> PageRequest:
    return PageRequest(first=20 if first is None else first, after=after)
