"""What each document shows: frozen, picklable values built by :mod:`.gather`, read by the templates.

Nothing here touches the database or names a region: titles, seal and month range come from the
region's :class:`~shebao.platform.regions.api.DocumentForm`, kind labels from its ``KindSpec``.
Amounts are Decimal yuan; an amount a person does not pay (an exemption, a kind not billed for them)
is ``None`` in the per-kind cells, printed as a dash, never as a made-up zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shebao.platform.core.month import Month
from shebao.platform.regions.api import DocumentKind, InsuranceKind

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Header:
    """The top of every document: the region's form, the unit, the period and the print date."""

    kind: DocumentKind
    title_zh: str
    title_en: str
    note_zh: str
    seal: bool
    month_range: bool
    region_code: str
    region_name_zh: str
    company_name: str
    credit_code: str
    unit_number: str
    month_from: Month
    month_to: Month
    printed_on: date
    bank_name: str = ""
    bank_account: str = ""
    bank_account_name: str = ""

    @classmethod
    def of(cls, form, region, company, month_from: Month, month_to: Month, printed_on: date) -> Header:
        """From the region's DocumentForm, the Region and the client company (duck-typed)."""
        return cls(
            kind=form.kind,
            title_zh=form.title_zh,
            title_en=form.title_en,
            note_zh=form.note_zh,
            seal=form.seal,
            month_range=form.month_range,
            region_code=region.code,
            region_name_zh=region.name_zh,
            company_name=company.name,
            credit_code=company.credit_code,
            unit_number=company.unit_number or "",
            month_from=month_from,
            month_to=month_to,
            printed_on=printed_on,
            bank_name=company.bank_name or "",
            bank_account=company.bank_account or "",
            bank_account_name=company.bank_account_name or "",
        )

    @property
    def period(self) -> str:
        if self.month_from == self.month_to:
            return str(self.month_from)
        return f"{self.month_from} 至 {self.month_to}"

    @property
    def template(self) -> str:
        return f"{self.kind.value}.html"


@dataclass(frozen=True)
class Amounts:
    employer: Decimal = ZERO
    employee: Decimal = ZERO
    late_fee: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.employer + self.employee + self.late_fee

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(self.employer + other.employer, self.employee + other.employee, self.late_fee + other.late_fee)


def total_of(items) -> Amounts:
    """The sum of the ``amounts`` of ``items`` (rows, months, sections)."""
    out = Amounts()
    for item in items:
        out = out + item.amounts
    return out


@dataclass(frozen=True)
class KindColumn:
    kind: str  # an InsuranceKind value
    label_zh: str


@dataclass(frozen=True)
class Share:
    """One kind's amounts in a per-kind cell."""

    employer: Decimal
    employee: Decimal


@dataclass(frozen=True)
class PersonInfo:
    name: str
    id_number: str
    gender_zh: str
    birth_date: date


# -- 单位缴费通知单 ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KindRow:
    """One insurance kind of a month (or its back payments): head count, bases, rates, amounts."""

    kind: str
    label_zh: str
    back_payment: bool
    periods: str  # the months billed: "2026-11", or "2026-07 至 2026-08" for a back payment
    head_count: int
    base_total: Decimal
    employer_rate: str  # "16%"; several rates joined by "、"; "" when none (a fixed amount)
    employee_rate: str
    amounts: Amounts


@dataclass(frozen=True)
class NoticeMonth:
    month: Month  # the month settled (费款所属期 of the bill)
    status_zh: str  # 已缴费 / 未缴费
    rows: tuple[KindRow, ...]
    amounts: Amounts


@dataclass(frozen=True)
class DetailRow:
    """One person for one month billed, kinds as columns (缴费明细)."""

    month: Month  # the month settled
    period: Month  # the month billed
    name: str
    id_number: str
    base: Decimal
    shares: tuple[Share | None, ...]  # aligned with the document's kinds
    amounts: Amounts


@dataclass(frozen=True)
class PaymentNotice:
    header: Header
    kinds: tuple[KindColumn, ...]
    months: tuple[NoticeMonth, ...]
    details: tuple[DetailRow, ...]
    amounts: Amounts
    total_capital: str  # 人民币…元整


# -- 单位征集核定单 / 申报核定表 --------------------------------------------------------------


@dataclass(frozen=True)
class PlanSection:
    """One settlement in force: a month, or one insurance kind's collection plan of a month."""

    month: Month
    scope_zh: str  # 全部险种, or the kind's label for a per-kind plan
    status_zh: str
    head_count: int
    rows: tuple[KindRow, ...]
    amounts: Amounts
    total_capital: str


@dataclass(frozen=True)
class CollectionVerification:
    header: Header
    sections: tuple[PlanSection, ...]
    amounts: Amounts
    total_capital: str


# -- 单位缴费证明 -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateMonth:
    month: Month
    head_count: int
    amounts: Amounts
    paid: bool
    status_zh: str


@dataclass(frozen=True)
class UnitPaymentCertificate:
    header: Header
    months: tuple[CertificateMonth, ...]
    amounts: Amounts
    paid_amount: Decimal
    unpaid_amount: Decimal


# -- 参保缴费证明 / 个人对账单 -----------------------------------------------------------------


@dataclass(frozen=True)
class PersonMonth:
    """One month billed for a person at one company."""

    period: Month
    company_name: str
    base: Decimal
    shares: tuple[Share | None, ...]
    amounts: Amounts
    paid: bool
    status_zh: str


@dataclass(frozen=True)
class PersonalCertificate:
    header: Header
    person: PersonInfo
    kinds: tuple[KindColumn, ...]
    rows: tuple[PersonMonth, ...]
    kind_totals: tuple[Share, ...]  # aligned with kinds
    amounts: Amounts
    months_count: int


@dataclass(frozen=True)
class StatementRow:
    period: Month
    company_name: str
    base: Decimal
    rate: str
    amount: Decimal
    running_total: Decimal
    status_zh: str


@dataclass(frozen=True)
class PersonalStatement:
    """The person's own pension contributions (individual account) with a running total."""

    header: Header
    person: PersonInfo
    kind_label_zh: str
    opening_balance: Decimal  # contributions billed before the period (at the companies visible)
    rows: tuple[StatementRow, ...]
    period_total: Decimal
    closing_balance: Decimal


# -- 增减表 / 新增参保人员登记表 / 大额医疗救助人员缴费名册 ------------------------------------


@dataclass(frozen=True)
class ChangeRow:
    direction_zh: str  # 增加 / 减少
    name: str
    id_number: str
    month: Month  # 参保年月 or 减员年月
    base: Decimal | None
    employment_form_zh: str
    household_zh: str
    reason_zh: str


@dataclass(frozen=True)
class ChangesTable:
    header: Header
    adds: tuple[ChangeRow, ...]
    stops: tuple[ChangeRow, ...]


@dataclass(frozen=True)
class NewEnrollee:
    name: str
    id_number: str
    gender_zh: str
    birth_date: date
    household_zh: str
    employment_form_zh: str
    start_month: Month
    base: Decimal
    phone: str


@dataclass(frozen=True)
class NewEnrolleeForm:
    header: Header
    people: tuple[NewEnrollee, ...]
    base_total: Decimal


@dataclass(frozen=True)
class RosterRow:
    name: str
    id_number: str
    period: Month
    base: Decimal | None
    amounts: Amounts


@dataclass(frozen=True)
class LargeMedicalRoster:
    header: Header
    kind_label_zh: str
    rows: tuple[RosterRow, ...]
    head_count: int
    amounts: Amounts


DocumentData = (
    PaymentNotice
    | CollectionVerification
    | UnitPaymentCertificate
    | PersonalCertificate
    | PersonalStatement
    | ChangesTable
    | NewEnrolleeForm
    | LargeMedicalRoster
)


# -- rows from settlement lines (any objects with SettlementLine's attributes) --------------------

KIND_ORDER = {k.value: i for i, k in enumerate(InsuranceKind)}


def amounts_of(lines: Iterable) -> Amounts:
    out = Amounts()
    for x in lines:
        out = out + Amounts(x.employer_amount, x.employee_amount, x.late_fee)
    return out


def rates_text(values: Iterable[str | None]) -> str:
    """``["16", "16", "14"]`` → ``14%、16%``; exact percent texts, never floats."""
    found = sorted({v for v in values if v is not None}, key=Decimal)
    return "、".join(f"{v}%" for v in found)


def row_base(lines: list) -> Decimal:
    """The base a row shows: the first kind's base used (after the floor and ceiling), else declared."""
    used = [x.base_used for x in lines if x.base_used is not None]
    return used[0] if used else lines[0].base_declared


def period_text(months: Iterable[Month]) -> str:
    ordered = sorted(set(months))
    return str(ordered[0]) if len(ordered) == 1 else f"{ordered[0]} 至 {ordered[-1]}"


def shares_of(kinds: tuple[KindColumn, ...], lines: Iterable) -> tuple[Share | None, ...]:
    by_kind: dict[str, Share] = {}
    for x in lines:
        was = by_kind.get(x.kind, Share(ZERO, ZERO))
        by_kind[x.kind] = Share(was.employer + x.employer_amount, was.employee + x.employee_amount)
    return tuple(by_kind.get(k.kind) for k in kinds)


def kind_rows(label: Callable[[str], str], month: Month, lines: Iterable) -> tuple[KindRow, ...]:
    """Per insurance kind: the month's own lines, then each kind's back payments (补缴) on rows of their own."""
    groups: dict[tuple[bool, str], list] = defaultdict(list)
    for x in lines:
        groups[(x.month != month or x.declaration_id is not None, x.kind)].append(x)
    rows = []
    for (back, kind), group in sorted(groups.items(), key=lambda g: (g[0][0], KIND_ORDER.get(g[0][1], 99))):
        rows.append(
            KindRow(
                kind=kind,
                label_zh=label(kind) + ("（补缴）" if back else ""),
                back_payment=back,
                periods=period_text(x.month for x in group),
                head_count=len({x.person_id for x in group}),
                base_total=sum((x.base_used for x in group if x.base_used is not None), ZERO),
                employer_rate=rates_text(x.employer_rate for x in group),
                employee_rate=rates_text(x.employee_rate for x in group),
                amounts=amounts_of(group),
            )
        )
    return tuple(rows)
