"""申报记录: the declarations made (created) in a month range at one client company or every client
company of a region, with their status, who made and reviewed them and when, and why a rejected
one was rejected. Months are Asia/Shanghai calendar months."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shebao.platform.auth.models import User
from shebao.platform.companies.models import ClientCompany
from shebao.platform.declarations.models import Declaration, DeclarationStatus
from shebao.platform.exports.common import (
    ExportKind,
    ExportRequest,
    Labels,
    Prepared,
    filename,
    month_start_utc,
    period,
    resolve_scope,
)
from shebao.platform.people.models import Person
from shebao.platform.regions.api import TEMPLATE_FIELDS, DeclarationKind
from shebao.platform.regions.rules import CODED_FIELDS
from shebao.platform.workbooks.export import ExportColumn

KIND_ZH = {
    DeclarationKind.ADD: "增员",
    DeclarationKind.STOP: "减员",
    DeclarationKind.BASE_CHANGE: "基数申报",
    DeclarationKind.BACK_PAYMENT: "补缴",
    DeclarationKind.CORRECTION: "信息更正",
    DeclarationKind.SENSITIVE_CORRECTION: "敏感信息更正",
    DeclarationKind.ROLLBACK: "回退",
}
# Shown in columns of their own; the other declared values go to 其他申报内容.
OWN_COLUMNS = frozenset(
    {"id_number", "name", "monthly_base", "start_month", "stop_month", "change_month", "from_month", "to_month"}
)
COLUMNS = (
    ExportColumn("参保单位", 30),
    ExportColumn("业务类型", 12),
    ExportColumn("状态", 10),
    ExportColumn("姓名", 12),
    ExportColumn("公民身份号码", 22),
    ExportColumn("生效年月", 10),
    ExportColumn("终止年月", 10),
    ExportColumn("申报工资", 12),
    ExportColumn("其他申报内容", 36),
    ExportColumn("创建时间", 20),
    ExportColumn("经办人", 12),
    ExportColumn("提交时间", 20),
    ExportColumn("审核通过时间", 20),
    ExportColumn("审核不通过时间", 20),
    ExportColumn("审核人", 12),
    ExportColumn("不通过原因", 30),
)


def statement(scope, request: ExportRequest):
    first, last = request.months
    creator, reviewer = aliased(User), aliased(User)
    stmt = (
        select(
            Declaration,
            ClientCompany.name.label("company"),
            Person.name.label("person"),
            creator.display_name.label("creator"),
            reviewer.display_name.label("reviewer"),
        )
        .join(
            ClientCompany,
            (ClientCompany.agency_id == Declaration.agency_id) & (ClientCompany.id == Declaration.company_id),
        )
        .outerjoin(Person, (Person.agency_id == Declaration.agency_id) & (Person.id == Declaration.person_id))
        .outerjoin(creator, (creator.agency_id == Declaration.agency_id) & (creator.id == Declaration.created_by))
        .outerjoin(reviewer, (reviewer.agency_id == Declaration.agency_id) & (reviewer.id == Declaration.reviewed_by))
        .where(Declaration.created_at >= month_start_utc(first), Declaration.created_at < month_start_utc(last.add(1)))
        .order_by(Declaration.created_at, Declaration.id)
    )
    return scope.where(stmt, Declaration.company_id, Declaration.region_code)


def other_values(labels: Labels, region_code: str, values: dict[str, Any]) -> str:
    """``户口性质：本地城镇；用工形式：合同制`` for the values without a column of their own."""
    parts = []
    for key, value in values.items():
        if key in OWN_COLUMNS or value in (None, ""):
            continue
        shown = labels.coded(region_code, CODED_FIELDS[key], str(value)) if key in CODED_FIELDS else str(value)
        parts.append(f"{TEMPLATE_FIELDS.get(key, key)}：{shown}")
    return "；".join(parts)


async def prepare(session: AsyncSession, request: ExportRequest) -> Prepared:
    scope = await resolve_scope(session, request)
    labels = Labels()

    def row(r) -> list:
        d: Declaration = r[0]
        values = d.values or {}
        approved = d.status in (DeclarationStatus.APPROVED, DeclarationStatus.ROLLED_BACK)
        rejected = d.status is DeclarationStatus.REJECTED
        return [
            r.company,
            KIND_ZH.get(d.kind, d.kind.value),
            d.status.label_zh,
            values.get("name") or r.person,
            d.id_number,
            d.month,
            d.to_month,
            d.monthly_base,
            other_values(labels, d.region_code, values),
            d.created_at,
            r.creator,
            d.submitted_at,
            d.reviewed_at if approved else None,
            d.reviewed_at if rejected else None,
            r.reviewer,
            d.reject_reason,
        ]

    return Prepared(
        title=ExportKind.DECLARATIONS.title_zh,
        filename=filename(ExportKind.DECLARATIONS.title_zh, scope.name, period(request)),
        columns=COLUMNS,
        statement=statement(scope, request),
        row=row,
        company_id=scope.company.id if scope.company else None,
    )
