"""结算明细: one settlement's lines, each with the explanation rebuilt from the settlement's frozen
basis (which figure, from which source, since when), as the settlement screen shows it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.models import ClientCompany
from shebao.platform.exports.common import YES_NO, ExportKind, ExportRequest, Labels, Prepared, filename, kind_order
from shebao.platform.people.models import Person
from shebao.platform.settlement.basis import explain
from shebao.platform.settlement.models import ALL_KINDS, SettlementLine
from shebao.platform.settlement.service import get_settlement
from shebao.platform.tenancy.session import current_actor
from shebao.platform.workbooks.export import ExportColumn

CLAMP_ZH = {"floor": "按下限", "ceiling": "按上限"}
COLUMNS = (
    ExportColumn("姓名", 12),
    ExportColumn("公民身份号码", 22),
    ExportColumn("费款所属期", 10),
    ExportColumn("险种", 12),
    ExportColumn("申报基数", 12),
    ExportColumn("缴费基数", 12),
    ExportColumn("基数调整", 10),
    ExportColumn("单位费率(%)", 12),
    ExportColumn("单位缴费", 12),
    ExportColumn("个人费率(%)", 12),
    ExportColumn("个人缴费", 12),
    ExportColumn("滞纳金", 10),
    ExportColumn("滞纳天数", 10),
    ExportColumn("补缴", 6),
    ExportColumn("计算说明", 80),
)


async def prepare(session: AsyncSession, request: ExportRequest) -> Prepared:
    current_actor(session).require(Permission.PERSONS_READ)
    assert request.settlement_id is not None
    settlement = await get_settlement(session, request.settlement_id, "settlementId")
    company = await session.scalar(select(ClientCompany).where(ClientCompany.id == settlement.company_id))
    basis, region_code, labels = settlement.basis, settlement.region_code, Labels()
    stmt = (
        select(SettlementLine, Person.name, Person.id_number)
        .join(Person, (Person.agency_id == SettlementLine.agency_id) & (Person.id == SettlementLine.person_id))
        .where(SettlementLine.settlement_id == settlement.id)
        .order_by(Person.id_number, SettlementLine.month, kind_order(SettlementLine.kind), SettlementLine.id)
    )

    def row(r) -> list:
        line = r[0]
        return [
            r.name,
            r.id_number,
            line.month,
            labels.kind(region_code, line.kind),
            line.base_declared,
            line.base_used,
            CLAMP_ZH.get(line.clamp or "", line.clamp),
            line.employer_rate,
            line.employer_amount,
            line.employee_rate,
            line.employee_amount,
            line.late_fee,
            line.late_days,
            YES_NO[line.declaration_id is None],
            "\n".join(explain(line, basis)),
        ]

    scope = "" if settlement.kind_scope == ALL_KINDS else labels.kind(region_code, settlement.kind_scope)
    name = company.name if company is not None else str(settlement.company_id)
    return Prepared(
        title=f"{ExportKind.SETTLEMENT_LINES.title_zh} {settlement.month}",
        filename=filename(ExportKind.SETTLEMENT_LINES.title_zh, name, settlement.month, scope),
        columns=COLUMNS,
        statement=stmt,
        row=row,
        company_id=settlement.company_id,
    )
