"""花名册: the people enrolled at one client company (or every client company of a region) in a month,
with the base in force that month and the kinds they are insured for."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.month import Month
from shebao.platform.declarations.models import EnrollmentBase
from shebao.platform.exports.common import (
    GENDER_ZH,
    ExportKind,
    ExportRequest,
    Labels,
    Prepared,
    filename,
    resolve_scope,
)
from shebao.platform.people.models import Enrollment, Person
from shebao.platform.regions.api import Side
from shebao.platform.regions.registry import registry
from shebao.platform.workbooks.export import DATE_FORMAT, ExportColumn

COLUMNS = (
    ExportColumn("参保单位", 30),
    ExportColumn("统一社会信用代码", 22),
    ExportColumn("姓名", 12),
    ExportColumn("公民身份号码", 22),
    ExportColumn("性别", 6),
    ExportColumn("出生日期", 12, DATE_FORMAT),
    ExportColumn("户口性质", 12),
    ExportColumn("用工形式", 12),
    ExportColumn("参保险种", 34),
    ExportColumn("月缴费基数", 14),
    ExportColumn("基数起始年月", 12),
    ExportColumn("参保年月", 10),
    ExportColumn("缴费截止年月", 12),
    ExportColumn("参保状态", 10),
    ExportColumn("联系电话", 14),
)
ACTIVE, STOPPING = "参保中", "已申报减员"


class InsuredKinds:
    """The kinds a person pays (on either side) by region, household type and employment form:
    the region's kinds less those an exemption waives on both sides (part-time: work injury only)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], str] = {}

    def __call__(self, region_code: str, household: str, form: str) -> str:
        key = (region_code, household, form)
        if key not in self._cache:
            book = registry().book(region_code)
            exemptions = [e for e in book.exemptions if e.applies(household, form)]

            def waived(kind, side: Side) -> bool:
                return any(kind in e.kinds and e.side in (side, Side.BOTH) for e in exemptions)

            kinds = [
                k.label_zh
                for k in book.region.kinds
                if not (waived(k.kind, Side.EMPLOYER) and waived(k.kind, Side.EMPLOYEE))
            ]
            self._cache[key] = "、".join(kinds)
        return self._cache[key]


def statement(scope, month: Month):
    # An alias, not the table: a scoped operator's criterion on Person is an EXISTS over enrollments,
    # which would otherwise correlate to this query's enrollments and lose its FROM.
    e = aliased(Enrollment, name="enrollment")
    # The base in force that month: the latest base change from that month back (the add's at least).
    # A derived table rather than a correlated subquery: the scope criteria on EnrollmentBase then
    # apply to each occurrence as it is (they are not adapted to aliases).
    latest = (
        select(
            EnrollmentBase.agency_id,
            EnrollmentBase.enrollment_id,
            func.max(EnrollmentBase.since).label("since"),
        )
        .where(EnrollmentBase.since <= month)
        .group_by(EnrollmentBase.agency_id, EnrollmentBase.enrollment_id)
        .subquery("latest")
    )
    stmt = (
        select(
            ClientCompany.name.label("company"),
            ClientCompany.credit_code,
            Person.name.label("person"),
            Person.id_number,
            Person.gender,
            Person.birth_date,
            Person.phone,
            e.region_code,
            e.household_type,
            e.employment_form,
            e.monthly_base,
            e.start_month,
            e.end_month,
            EnrollmentBase.base.label("base"),
            EnrollmentBase.since.label("base_since"),
        )
        .select_from(e)
        .join(Person, (Person.agency_id == e.agency_id) & (Person.id == e.person_id))
        .join(
            ClientCompany,
            (ClientCompany.agency_id == e.agency_id) & (ClientCompany.id == e.company_id),
        )
        .outerjoin(latest, (latest.c.agency_id == e.agency_id) & (latest.c.enrollment_id == e.id))
        .outerjoin(
            EnrollmentBase,
            (EnrollmentBase.agency_id == e.agency_id)
            & (EnrollmentBase.enrollment_id == e.id)
            & (EnrollmentBase.since == latest.c.since),
        )
        .where(e.start_month <= month, or_(e.end_month.is_(None), e.end_month >= month))
        .order_by(ClientCompany.name, ClientCompany.id, Person.id_number, e.id)
    )
    return scope.where(stmt, e.company_id, ClientCompany.region_code)


async def prepare(session: AsyncSession, request: ExportRequest) -> Prepared:
    scope = await resolve_scope(session, request)
    month = request.month_from
    labels, kinds = Labels(), InsuredKinds()

    def row(r) -> list:
        household, form = r.household_type.value, r.employment_form.value
        return [
            r.company,
            r.credit_code,
            r.person,
            r.id_number,
            GENDER_ZH.get(r.gender.value, r.gender.value),
            r.birth_date,
            labels.coded(r.region_code, "household_types", household),
            labels.coded(r.region_code, "employment_forms", form),
            kinds(r.region_code, household, form),
            r.base if r.base is not None else r.monthly_base,
            r.base_since if r.base_since is not None else r.start_month,
            r.start_month,
            r.end_month,
            ACTIVE if r.end_month is None else STOPPING,
            r.phone,
        ]

    return Prepared(
        title=f"{ExportKind.ROSTER.title_zh} {month}",
        filename=filename(ExportKind.ROSTER.title_zh, scope.name, month),
        columns=COLUMNS,
        statement=statement(scope, month),
        row=row,
        company_id=scope.company.id if scope.company else None,
    )
