"""缴费明细: every line of the settlements in force (settled or paid) of a month range, per person,
month billed and insurance kind, at one client company or every client company of a region.

The range is the settlement's month (the month billed and paid in); a back payment's lines bill
earlier months, shown in 费款所属期 and flagged 补缴.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.companies.models import ClientCompany
from shebao.platform.exports.common import (
    YES_NO,
    ExportKind,
    ExportRequest,
    Labels,
    Prepared,
    filename,
    kind_order,
    period,
    resolve_scope,
)
from shebao.platform.people.models import Person
from shebao.platform.settlement.models import Settlement, SettlementLine, SettlementStatus
from shebao.platform.workbooks.export import ExportColumn

IN_FORCE = (SettlementStatus.SETTLED, SettlementStatus.PAID)
STATUS_ZH = {SettlementStatus.SETTLED: "未缴费", SettlementStatus.PAID: "已缴费"}
COLUMNS = (
    ExportColumn("参保单位", 30),
    ExportColumn("结算月份", 10),
    ExportColumn("费款所属期", 10),
    ExportColumn("姓名", 12),
    ExportColumn("公民身份号码", 22),
    ExportColumn("险种", 12),
    ExportColumn("申报基数", 12),
    ExportColumn("缴费基数", 12),
    ExportColumn("单位缴费", 12),
    ExportColumn("个人缴费", 12),
    ExportColumn("滞纳金", 10),
    ExportColumn("合计", 12),
    ExportColumn("补缴", 6),
    ExportColumn("缴费状态", 10),
    ExportColumn("缴费时间", 20),
)


def statement(scope, request: ExportRequest):
    first, last = request.months
    stmt = (
        select(
            ClientCompany.name.label("company"),
            Settlement.month.label("settled_month"),
            Settlement.status,
            Settlement.paid_at,
            Settlement.region_code,
            Person.name.label("person"),
            Person.id_number,
            SettlementLine.month,
            SettlementLine.kind,
            SettlementLine.base_declared,
            SettlementLine.base_used,
            SettlementLine.employer_amount,
            SettlementLine.employee_amount,
            SettlementLine.late_fee,
            SettlementLine.declaration_id,
        )
        .join(
            Settlement,
            (Settlement.agency_id == SettlementLine.agency_id) & (Settlement.id == SettlementLine.settlement_id),
        )
        .join(
            ClientCompany,
            (ClientCompany.agency_id == Settlement.agency_id) & (ClientCompany.id == Settlement.company_id),
        )
        .join(Person, (Person.agency_id == SettlementLine.agency_id) & (Person.id == SettlementLine.person_id))
        .where(Settlement.status.in_(IN_FORCE), Settlement.month >= first, Settlement.month <= last)
        .order_by(
            ClientCompany.name,
            Settlement.company_id,
            Settlement.month,
            Person.id_number,
            SettlementLine.month,
            kind_order(SettlementLine.kind),
            SettlementLine.id,
        )
    )
    return scope.where(stmt, Settlement.company_id, Settlement.region_code)


async def prepare(session: AsyncSession, request: ExportRequest) -> Prepared:
    scope = await resolve_scope(session, request)
    labels = Labels()

    def row(r) -> list:
        return [
            r.company,
            r.settled_month,
            r.month,
            r.person,
            r.id_number,
            labels.kind(r.region_code, r.kind),
            r.base_declared,
            r.base_used,
            r.employer_amount,
            r.employee_amount,
            r.late_fee,
            r.employer_amount + r.employee_amount + r.late_fee,
            YES_NO[r.declaration_id is None],
            STATUS_ZH.get(r.status, r.status.value),
            r.paid_at,
        ]

    return Prepared(
        title=ExportKind.PAYMENTS.title_zh,
        filename=filename(ExportKind.PAYMENTS.title_zh, scope.name, period(request)),
        columns=COLUMNS,
        statement=statement(scope, request),
        row=row,
        company_id=scope.company.id if scope.company else None,
    )
