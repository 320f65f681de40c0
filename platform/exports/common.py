"""What every export shares: the request (ids and values only, as the job records it), its checks,
the company-or-region scope, and the labels a sheet shows instead of codes."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, case
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.models import ClientCompany
from shebao.platform.companies.service import get_company
from shebao.platform.core.clock import SHANGHAI
from shebao.platform.core.filenames import safe_filename
from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, Problems, ShebaoError
from shebao.platform.regions.api import InsuranceKind, Region
from shebao.platform.regions.registry import registry
from shebao.platform.tenancy.session import current_actor
from shebao.platform.workbooks.export import ExportColumn

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GENDER_ZH = {"male": "男", "female": "女"}
YES_NO = ("是", "否")


class ExportKind(enum.StrEnum):
    ROSTER = "roster"  # 花名册: the people enrolled at a month
    PAYMENTS = "payments"  # 缴费明细: settled lines over a month range
    SETTLEMENT_LINES = "settlement_lines"  # 结算明细: one settlement's lines, explained
    DECLARATIONS = "declarations"  # 申报记录: declarations made over a month range

    @property
    def title_zh(self) -> str:
        return TITLES[self][0]

    @property
    def title_en(self) -> str:
        return TITLES[self][1]


TITLES = {
    ExportKind.ROSTER: ("花名册", "roster"),
    ExportKind.PAYMENTS: ("缴费明细", "payment details"),
    ExportKind.SETTLEMENT_LINES: ("结算明细", "settlement lines"),
    ExportKind.DECLARATIONS: ("申报记录", "declaration history"),
}
# The arguments each kind takes (API field names in brackets); any other given is refused.
FIELDS = {
    "company_id": "companyId",
    "region_code": "regionCode",
    "month_from": "monthFrom",
    "month_to": "monthTo",
    "settlement_id": "settlementId",
}
SCOPED = ("company_id", "region_code")
TAKES: dict[ExportKind, tuple[str, ...]] = {
    ExportKind.ROSTER: (*SCOPED, "month_from"),  # monthFrom is the roster's month
    ExportKind.PAYMENTS: (*SCOPED, "month_from", "month_to"),
    ExportKind.SETTLEMENT_LINES: ("settlement_id",),
    ExportKind.DECLARATIONS: (*SCOPED, "month_from", "month_to"),
}


@dataclass(frozen=True)
class ExportRequest:
    kind: ExportKind
    company_id: uuid.UUID | None = None
    region_code: str | None = None
    month_from: Month | None = None
    month_to: Month | None = None
    settlement_id: uuid.UUID | None = None

    @property
    def months(self) -> tuple[Month, Month]:
        """The month range (a single month when ``month_to`` is not given)."""
        assert self.month_from is not None
        return self.month_from, self.month_to or self.month_from

    def params(self) -> dict[str, Any]:
        """As the job records it: JSON, ids and values only."""
        out: dict[str, Any] = {"export": self.kind.value}
        for attr in FIELDS:
            value = getattr(self, attr)
            out[attr] = None if value is None else str(value)
        return out

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> ExportRequest:
        def month(key: str) -> Month | None:
            return Month.parse(p[key]) if p.get(key) else None

        def ident(key: str) -> uuid.UUID | None:
            return uuid.UUID(p[key]) if p.get(key) else None

        return cls(
            ExportKind(p["export"]),
            ident("company_id"),
            p.get("region_code"),
            month("month_from"),
            month("month_to"),
            ident("settlement_id"),
        )


def check_arguments(request: ExportRequest) -> None:
    """Each kind's arguments, all problems at once: missing, unused, or out of order."""
    kind, takes, problems = request.kind, TAKES[request.kind], Problems()
    for attr, field in FIELDS.items():
        if getattr(request, attr) is not None and attr not in takes:
            problems.add(ErrorCode.EXPORT_ARGUMENT_UNUSED, field, export=kind.title_zh, export_en=kind.title_en)
    if "company_id" in takes:
        if request.company_id is None and request.region_code is None:
            problems.add(ErrorCode.EXPORT_SCOPE_REQUIRED, "companyId")
        elif request.company_id is not None and request.region_code is not None:
            problems.add(ErrorCode.EXPORT_SCOPE_REQUIRED, "regionCode")
    if "month_from" in takes and request.month_from is None:
        problems.add(ErrorCode.REQUIRED, "monthFrom")
    if "month_to" in takes and request.month_from and request.month_to and request.month_to < request.month_from:
        problems.add(ErrorCode.MONTH_ORDER, "monthTo")
    if "settlement_id" in takes and request.settlement_id is None:
        problems.add(ErrorCode.REQUIRED, "settlementId")
    problems.raise_if_any()


@dataclass(frozen=True)
class Scope:
    """One client company (in the operator's scope) or every client company of a region."""

    company: ClientCompany | None
    region: Region

    @property
    def name(self) -> str:
        return self.company.name if self.company is not None else self.region.name_zh

    def where(self, stmt: Select, company_column, region_column) -> Select:
        if self.company is not None:
            return stmt.where(company_column == self.company.id)
        return stmt.where(region_column == self.region.code)


async def resolve_scope(session: AsyncSession, request: ExportRequest) -> Scope:
    """The company, found as the operator sees it (another agency's, or out of scope: NOT_FOUND),
    or the region, for operators without a company scope only (as region documents)."""
    actor = current_actor(session)
    actor.require(Permission.PERSONS_READ)
    if request.company_id is not None:
        company = await get_company(session, request.company_id, "companyId")
        return Scope(company, registry().get(company.region_code))
    actor.require_agency_wide("regionCode")
    return Scope(None, registry().get(request.region_code or ""))


@dataclass
class Prepared:
    """An export ready to stream: the sheet, the statement, and how one row becomes its cells."""

    title: str
    filename: str
    columns: Sequence[ExportColumn]
    statement: Select
    row: Callable[[Any], Sequence[Any]]
    company_id: uuid.UUID | None  # the job's company, for the operators' company scope


def kind_order(column):
    """Insurance kinds in the order a notice prints them (not alphabetically)."""
    return case({k.value: i for i, k in enumerate(InsuranceKind)}, value=column, else_=len(InsuranceKind))


class Labels:
    """Region labels for codes, looked up once per region and code."""

    def __init__(self) -> None:
        self._cache: dict[tuple, str] = {}

    def coded(self, region_code: str, list_name: str, code: str | None) -> str:
        if code is None:
            return ""
        key = (region_code, list_name, code)
        if key not in self._cache:
            coded = _region(region_code)
            found = coded.coded_list(list_name) if coded else None
            value = found.get(code) if found else None
            self._cache[key] = value.label_zh if value is not None else code
        return self._cache[key]

    def kind(self, region_code: str, kind: str) -> str:
        key = (region_code, "kind", kind)
        if key not in self._cache:
            region = _region(region_code)
            spec = region.kind(kind) if region else None
            self._cache[key] = spec.label_zh if spec is not None else kind
        return self._cache[key]


def _region(code: str) -> Region | None:
    try:
        return registry().get(code)
    except ShebaoError:  # a region uninstalled since: show the codes
        return None


def month_start_utc(month: Month) -> datetime:
    """The first instant of ``month`` in Shanghai, in UTC (how timestamps are stored)."""
    return datetime(month.year, month.month, 1, tzinfo=SHANGHAI).astimezone(UTC)


def filename(*parts: object) -> str:
    """``花名册_某某有限公司_2026-11.xlsx``."""
    return safe_filename(*parts, suffix=".xlsx")


def period(request: ExportRequest) -> str:
    first, last = request.months
    return str(first) if first == last else f"{first}_{last}"
