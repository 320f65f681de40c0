"""Gather what a document shows from the database: :func:`gather` is the one entry point.

Settlements in force (settled or paid) are read by company and month range, their lines by
settlement id, so one settlement per month and one per insurance kind and month (a per-kind
collection plan, ``kind_scope``) both work. Amounts are summed here, as Decimal (SQLite would sum
the text amounts as floats). Every read is a SELECT, so the tenant and company-scope criteria apply:
another agency's company or person is simply not found.

Month ranges: a document the region prints for a range takes at most 12 months (unit documents) or
36 months (a person's certificate or statement); one it prints for a single month takes one month,
except the personal statement, which then covers the year up to that month (年度对账单).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.models import ClientCompany
from shebao.platform.companies.service import get_company
from shebao.platform.core.clock import SHANGHAI, utcnow
from shebao.platform.core.month import Month
from shebao.platform.declarations.models import Declaration, DeclarationStatus
from shebao.platform.documents import data as d
from shebao.platform.documents.forms import document_kind, offered_form
from shebao.platform.documents.numerals import rmb
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.people.models import Enrollment, Person
from shebao.platform.people.service import PERSON, get_person
from shebao.platform.regions.api import DeclarationKind, DocumentKind, InsuranceKind, Region
from shebao.platform.regions.registry import registry
from shebao.platform.settlement.models import Settlement, SettlementLine, SettlementStatus
from shebao.platform.tenancy.session import current_actor

MAX_MONTHS_UNIT = 12
MAX_MONTHS_PERSON = 36
PERSON_DOCUMENTS = frozenset({DocumentKind.PERSONAL_CERTIFICATE, DocumentKind.PERSONAL_STATEMENT})
IN_FORCE = (SettlementStatus.SETTLED, SettlementStatus.PAID)
STATUS_ZH = {SettlementStatus.SETTLED: "未缴费", SettlementStatus.PAID: "已缴费"}
GENDER_ZH = {"male": "男", "female": "女"}
ZERO = d.ZERO
_line_settlement = (Settlement.agency_id == SettlementLine.agency_id) & (Settlement.id == SettlementLine.settlement_id)
_line_person = (Person.agency_id == SettlementLine.agency_id) & (Person.id == SettlementLine.person_id)


def _today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


def _month(value: Month | str, field: str) -> Month:
    return value if isinstance(value, Month) else Month.parse(str(value), field)


def _uuid(value: uuid.UUID | str, field: str, entity: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, field, entity=entity) from None


async def gather(
    session: AsyncSession,
    kind: DocumentKind | str,
    company_id: uuid.UUID | str,
    month_from: Month | str,
    month_to: Month | str | None = None,
    person_id: uuid.UUID | str | None = None,
    *,
    today: date | None = None,
) -> d.DocumentData:
    """The data of one document of one client company (and one person for a person's document).

    Refuses (ShebaoError): an unknown kind (INVALID_VALUE), a company not found in the actor's
    agency and scope (NOT_FOUND), a document the region does not issue (DOCUMENT_NOT_OFFERED), bad
    or reversed months (INVALID_MONTH, MONTH_ORDER), a range on a single-month form
    (DOCUMENT_SINGLE_MONTH) or too long (DOCUMENT_RANGE_TOO_LONG), no person for a person's document
    (REQUIRED), a person never insured at the company (PERSON_NOT_AT_COMPANY), nothing settled in
    the range (DOCUMENT_NOTHING_SETTLED) and nothing to print (DOCUMENT_EMPTY).
    """
    current_actor(session).require(Permission.PERSONS_READ)
    kind = document_kind(kind)
    company = await get_company(session, _uuid(company_id, "companyId", "参保单位 / client company"), "companyId")
    region = registry().get(company.region_code)
    form = offered_form(region, kind)
    names = {"region": region.name_zh, "region_en": region.name_en}
    titles = {"title": form.title_zh, "title_en": form.title_en}
    first = _month(month_from, "monthFrom")
    last = _month(month_to, "monthTo") if month_to is not None else first
    if last < first:
        raise ShebaoError.of(ErrorCode.MONTH_ORDER, "monthTo")
    if not form.month_range:
        if last != first:
            raise ShebaoError.of(ErrorCode.DOCUMENT_SINGLE_MONTH, "monthTo", **names, **titles)
        if kind is DocumentKind.PERSONAL_STATEMENT:
            first = Month(last.year, 1)
    cap, months = (MAX_MONTHS_PERSON if kind in PERSON_DOCUMENTS else MAX_MONTHS_UNIT), last - first + 1
    if months > cap:
        span = {"month_from": str(first), "month_to": str(last), "months": months}
        raise ShebaoError.of(ErrorCode.DOCUMENT_RANGE_TOO_LONG, "monthTo", **titles, **span, max=cap)
    header = d.Header.of(form, region, company, first, last, today or _today())
    ctx = _Context(session, header, region, company)
    if kind in PERSON_DOCUMENTS:
        if person_id is None:
            raise ShebaoError.of(ErrorCode.REQUIRED, "personId")
        person = await get_person(session, _uuid(person_id, "personId", PERSON), "personId")
        at_company = await session.scalar(
            select(Enrollment.id).where(Enrollment.person_id == person.id, Enrollment.company_id == company.id)
        )
        if at_company is None:
            raise ShebaoError.of(ErrorCode.PERSON_NOT_AT_COMPANY, "personId", company=company.name)
        info = d.PersonInfo(person.name, person.id_number, GENDER_ZH.get(person.gender.value, ""), person.birth_date)
        if kind is DocumentKind.PERSONAL_CERTIFICATE:
            return await _personal_certificate(ctx, person.id, info)
        return await _personal_statement(ctx, person.id, info)
    return await _BUILDERS[kind](ctx)


class _Context:
    def __init__(self, session: AsyncSession, header: d.Header, region: Region, company: ClientCompany):
        self.session, self.header, self.region, self.company = session, header, region, company

    def empty(self, reason: str, reason_en: str) -> ShebaoError:
        h, why = self.header, {"reason": reason, "reason_en": reason_en}
        return ShebaoError.of(
            ErrorCode.DOCUMENT_EMPTY, None, title=h.title_zh, title_en=h.title_en, period=h.period, **why
        )

    def label(self, kind: str) -> str:
        spec = self.region.kind(kind) or registry().national.kind(kind)
        return spec.label_zh if spec is not None else kind

    def coded(self, name: str, code: str | None) -> str:
        found = self.region.coded_list(name)
        value = found.get(code) if found is not None and code else None
        return value.label_zh if value is not None else (code or "")

    def kinds(self, lines: Iterable[SettlementLine]) -> tuple[d.KindColumn, ...]:
        """The region's monthly kinds in its order, then any other kind the lines bill."""
        codes = [k.kind.value for k in self.region.kinds if not k.yearly]
        extra = sorted({x.kind for x in lines} - set(codes), key=lambda k: d.KIND_ORDER.get(k, 99))
        return tuple(d.KindColumn(k, self.label(k)) for k in codes + extra)

    async def settlements(self) -> list[Settlement]:
        h = self.header
        stmt = (
            select(Settlement)
            .where(
                Settlement.company_id == self.company.id,
                Settlement.month >= h.month_from,
                Settlement.month <= h.month_to,
                Settlement.status.in_(IN_FORCE),
            )
            .order_by(Settlement.month, Settlement.id)
        )
        rows = list((await self.session.scalars(stmt)).all())
        if not rows:
            raise ShebaoError.of(
                ErrorCode.DOCUMENT_NOTHING_SETTLED, "monthFrom", company=self.company.name, period=h.period
            )
        return rows

    async def lines(self, settlements: list[Settlement]) -> list[tuple[SettlementLine, str, str]]:
        """(line, person name, ID number), by month billed, person, kind."""
        stmt = (
            select(SettlementLine, Person.name, Person.id_number)
            .join(Person, _line_person)
            .where(SettlementLine.settlement_id.in_([s.id for s in settlements]))
        )
        rows = [(x, name, idn) for x, name, idn in await self.session.execute(stmt)]
        rows.sort(key=lambda r: (r[0].month, r[2], d.KIND_ORDER.get(r[0].kind, 99)))
        return rows


def _status(statuses: Iterable[SettlementStatus]) -> str:
    found = set(statuses)
    return STATUS_ZH[found.pop()] if len(found) == 1 else "部分缴费"


def _by_month(settlements: list[Settlement]) -> dict[Month, list[Settlement]]:
    out: dict[Month, list[Settlement]] = defaultdict(list)
    for s in settlements:
        out[s.month].append(s)
    return out


def _by_settlement(lines: list[tuple[SettlementLine, str, str]]) -> dict[uuid.UUID, list[tuple]]:
    out: dict[uuid.UUID, list[tuple]] = defaultdict(list)
    for row in lines:
        out[row[0].settlement_id].append(row)
    return out


async def _payment_notice(ctx: _Context) -> d.PaymentNotice:
    settlements = await ctx.settlements()
    lines = await ctx.lines(settlements)
    kinds = ctx.kinds(x for x, _, _ in lines)
    by_settlement = _by_settlement(lines)
    months, details = [], []
    for month, group in _by_month(settlements).items():
        mine = sorted((r for s in group for r in by_settlement[s.id]), key=lambda r: (r[0].month, r[2]))
        rows = d.kind_rows(ctx.label, month, [x for x, _, _ in mine])
        months.append(d.NoticeMonth(month, _status(s.status for s in group), rows, d.total_of(rows)))
        people: dict[tuple, list[SettlementLine]] = defaultdict(list)
        for x, name, idn in mine:
            people[(x.month, idn, name)].append(x)
        for (period, idn, name), group_lines in people.items():
            amounts = d.amounts_of(group_lines)
            shares = d.shares_of(kinds, group_lines)
            base = d.row_base(group_lines)
            details.append(d.DetailRow(month, period, name, idn, base, shares, amounts))
    total = d.total_of(months)
    return d.PaymentNotice(ctx.header, kinds, tuple(months), tuple(details), total, rmb(total.total))


async def _collection_verification(ctx: _Context) -> d.CollectionVerification:
    settlements = await ctx.settlements()
    by_settlement = _by_settlement(await ctx.lines(settlements))
    sections = []
    for s in sorted(settlements, key=lambda s: (s.month, d.KIND_ORDER.get(getattr(s, "kind_scope", None) or "", -1))):
        mine = [x for x, _, _ in by_settlement[s.id]]
        scope = getattr(s, "kind_scope", None) or "all"
        rows = d.kind_rows(ctx.label, s.month, mine)
        amounts = d.total_of(rows)
        sections.append(
            d.PlanSection(
                month=s.month,
                scope_zh="全部险种" if scope == "all" else ctx.label(scope),
                status_zh=STATUS_ZH[s.status],
                head_count=len({x.person_id for x in mine}),
                rows=rows,
                amounts=amounts,
                total_capital=rmb(amounts.total),
            )
        )
    total = d.total_of(sections)
    return d.CollectionVerification(ctx.header, tuple(sections), total, rmb(total.total))


async def _unit_payment_certificate(ctx: _Context) -> d.UnitPaymentCertificate:
    settlements = await ctx.settlements()
    by_settlement = _by_settlement(await ctx.lines(settlements))
    months = []
    for month, group in _by_month(settlements).items():
        mine = [x for s in group for x, _, _ in by_settlement[s.id]]
        paid = all(s.status is SettlementStatus.PAID for s in group)
        roster = {x.person_id for x in mine if x.month == month}
        months.append(
            d.CertificateMonth(month, len(roster), d.amounts_of(mine), paid, _status(s.status for s in group))
        )
    total = d.total_of(months)
    paid_amount = sum((m.amounts.total for m in months if m.paid), ZERO)
    return d.UnitPaymentCertificate(ctx.header, tuple(months), total, paid_amount, total.total - paid_amount)


async def _large_medical_roster(ctx: _Context) -> d.LargeMedicalRoster:
    settlements = await ctx.settlements()
    kind = InsuranceKind.LARGE_MEDICAL.value
    lines = [r for r in await ctx.lines(settlements) if r[0].kind == kind]
    if not lines:
        raise ctx.empty(f"没有{ctx.label(kind)}缴费记录", f"no {kind} contributions")
    rows = tuple(
        d.RosterRow(name, idn, x.month, x.base_used, d.Amounts(x.employer_amount, x.employee_amount, x.late_fee))
        for x, name, idn in lines
    )
    head_count = len({x.person_id for x, _, _ in lines})
    return d.LargeMedicalRoster(ctx.header, ctx.label(kind), rows, head_count, d.total_of(rows))


async def _person_lines(ctx: _Context, person_id: uuid.UUID, since: Month | None, kind: str | None = None):
    """The person's lines in settlements in force, at every company visible, up to the period's end."""
    stmt = (
        select(SettlementLine, Settlement.status, ClientCompany.name)
        .join(Settlement, _line_settlement)
        .join(
            ClientCompany,
            (ClientCompany.agency_id == SettlementLine.agency_id) & (ClientCompany.id == SettlementLine.company_id),
        )
        .where(
            SettlementLine.person_id == person_id,
            SettlementLine.month <= ctx.header.month_to,
            Settlement.status.in_(IN_FORCE),
        )
    )
    if since is not None:
        stmt = stmt.where(SettlementLine.month >= since)
    if kind is not None:
        stmt = stmt.where(SettlementLine.kind == kind)
    rows = list(await ctx.session.execute(stmt))
    rows.sort(key=lambda r: (r[0].month, r[2], d.KIND_ORDER.get(r[0].kind, 99)))
    return rows


async def _personal_certificate(ctx: _Context, person_id: uuid.UUID, person: d.PersonInfo) -> d.PersonalCertificate:
    found = await _person_lines(ctx, person_id, ctx.header.month_from)
    if not found:
        raise ctx.empty("该人员在此期间没有已结算的缴费记录", "no settled contributions of this person")
    kinds = ctx.kinds(x for x, _, _ in found)
    groups: dict[tuple, list] = defaultdict(list)
    for x, status, company in found:
        groups[(x.month, company, x.company_id)].append((x, status))
    rows = []
    for (period, company, _), group in groups.items():
        group_lines = [x for x, _ in group]
        paid = all(status is SettlementStatus.PAID for _, status in group)
        status_zh = _status(status for _, status in group)
        shares = d.shares_of(kinds, group_lines)
        rows.append(
            d.PersonMonth(period, company, d.row_base(group_lines), shares, d.amounts_of(group_lines), paid, status_zh)
        )
    kind_totals = d.shares_of(kinds, [x for x, _, _ in found])
    totals = tuple(t or d.Share(ZERO, ZERO) for t in kind_totals)
    months_count = len({r.period for r in rows})
    return d.PersonalCertificate(ctx.header, person, kinds, tuple(rows), totals, d.total_of(rows), months_count)


async def _personal_statement(ctx: _Context, person_id: uuid.UUID, person: d.PersonInfo) -> d.PersonalStatement:
    """The individual account: the person's own pension contributions; the running total counts paid ones."""
    kind = InsuranceKind.PENSION.value
    found = await _person_lines(ctx, person_id, None, kind)
    first = ctx.header.month_from
    opening = sum(
        (x.employee_amount for x, status, _ in found if x.month < first and status is SettlementStatus.PAID), ZERO
    )
    running, rows = opening, []
    for x, status, company in found:
        if x.month < first:
            continue
        if status is SettlementStatus.PAID:
            running += x.employee_amount
        rate = f"{x.employee_rate}%" if x.employee_rate is not None else ""
        base = x.base_used if x.base_used is not None else x.base_declared
        rows.append(d.StatementRow(x.month, company, base, rate, x.employee_amount, running, STATUS_ZH[status]))
    if not rows:
        raise ctx.empty(f"该人员在此期间没有{ctx.label(kind)}缴费记录", "no pension contributions of this person")
    period_total = sum((r.amount for r in rows), ZERO)
    return d.PersonalStatement(ctx.header, person, ctx.label(kind), opening, tuple(rows), period_total, running)


async def _declared(ctx: _Context, kind: DeclarationKind) -> list[tuple[Declaration, Person | None]]:
    stmt = (
        select(Declaration, Person)
        .outerjoin(Person, (Person.agency_id == Declaration.agency_id) & (Person.id == Declaration.person_id))
        .where(
            Declaration.company_id == ctx.company.id,
            Declaration.kind == kind,
            Declaration.month == ctx.header.month_from,
            Declaration.status == DeclarationStatus.APPROVED,
        )
    )
    rows = [(row, person) for row, person in await ctx.session.execute(stmt)]
    rows.sort(key=lambda r: (r[0].id_number or "", r[0].created_at))
    return rows


async def _changes_table(ctx: _Context) -> d.ChangesTable:
    month = ctx.header.month_from
    adds = await _declared(ctx, DeclarationKind.ADD)
    stops = await _declared(ctx, DeclarationKind.STOP)
    enrollment_ids = [row.enrollment_id for row, _ in adds + stops if row.enrollment_id is not None]
    enrollments = {
        e.id: e for e in await ctx.session.scalars(select(Enrollment).where(Enrollment.id.in_(enrollment_ids)))
    }
    person_ids = [row.person_id for row, _ in adds if row.person_id is not None]
    earlier = set(
        await ctx.session.scalars(
            select(Enrollment.person_id).where(Enrollment.person_id.in_(person_ids), Enrollment.start_month < month)
        )
    )

    def row(decl: Declaration, person: Person | None, direction: str, reason: str) -> d.ChangeRow:
        e = enrollments.get(decl.enrollment_id)
        values = decl.values
        return d.ChangeRow(
            direction_zh=direction,
            name=person.name if person is not None else values.get("name", ""),
            id_number=decl.id_number or "",
            month=decl.month,
            base=decl.monthly_base if decl.monthly_base is not None else (e.monthly_base if e else None),
            employment_form_zh=ctx.coded("employment_forms", e.employment_form.value if e else None),
            household_zh=ctx.coded("household_types", e.household_type.value if e else None),
            reason_zh=reason,
        )

    add_rows = tuple(row(x, p, "增加", "再次参保" if x.person_id in earlier else "新参保") for x, p in adds)
    stop_rows = tuple(row(x, p, "减少", ctx.coded("stop_reasons", x.values.get("stop_reason"))) for x, p in stops)
    return d.ChangesTable(ctx.header, add_rows, stop_rows)


async def _new_enrollee_form(ctx: _Context) -> d.NewEnrolleeForm:
    adds = await _declared(ctx, DeclarationKind.ADD)
    people = []
    for decl, person in adds:
        values = decl.values
        if person is None:
            continue
        people.append(
            d.NewEnrollee(
                name=person.name,
                id_number=person.id_number,
                gender_zh=GENDER_ZH.get(person.gender.value, ""),
                birth_date=person.birth_date,
                household_zh=ctx.coded("household_types", values.get("household_type")),
                employment_form_zh=ctx.coded("employment_forms", values.get("employment_form")),
                start_month=decl.month,
                base=decl.monthly_base if decl.monthly_base is not None else Decimal(values.get("monthly_base", "0")),
                phone=values.get("phone") or person.phone or "",
            )
        )
    if not people:
        raise ctx.empty("本月没有审核通过的新增参保人员", "no approved enrollment this month")
    return d.NewEnrolleeForm(ctx.header, tuple(people), sum((p.base for p in people), ZERO))


_BUILDERS = {
    DocumentKind.PAYMENT_NOTICE: _payment_notice,
    DocumentKind.COLLECTION_VERIFICATION: _collection_verification,
    DocumentKind.UNIT_PAYMENT_CERTIFICATE: _unit_payment_certificate,
    DocumentKind.LARGE_MEDICAL_ROSTER: _large_medical_roster,
    DocumentKind.CHANGES_TABLE: _changes_table,
    DocumentKind.NEW_ENROLLEE_FORM: _new_enrollee_form,
}
