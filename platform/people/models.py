"""Insured persons (参保人员) and their enrollments (参保关系) at client companies."""

from __future__ import annotations

import enum
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKeyConstraint, Index, String, UniqueConstraint, exists, select
from sqlalchemy.orm import Mapped, mapped_column

from shebao.platform.core.month import Month
from shebao.platform.db.base import Base, TenantOwned, Timestamps, str_enum
from shebao.platform.db.types import Money, MonthType


class Gender(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


class HouseholdType(enum.StrEnum):
    """户籍类型 / 户口性质. Regions may accept a subset (their plugin says which)."""

    LOCAL_URBAN = "local_urban"  # 本地城镇
    LOCAL_RURAL = "local_rural"  # 本地农村
    NONLOCAL_URBAN = "nonlocal_urban"  # 外地城镇
    NONLOCAL_RURAL = "nonlocal_rural"  # 外地农村
    HMT = "hmt"  # 港澳台


class EmploymentForm(enum.StrEnum):
    """用工形式."""

    CONTRACT = "contract"  # 合同制
    DISPATCHED = "dispatched"  # 劳务派遣
    PART_TIME = "part_time"  # 非全日制
    RURAL_WORKER = "rural_worker"  # 农籍工 / 农民合同制工人


def _person_scope(cls, company_ids):
    # A scoped operator sees the people enrolled (now or before) at one of their companies. The
    # subquery's enrollments are its own even when the outer query reads enrollments too (a roster
    # joining people to enrollments): never correlated, or the EXISTS would lose its FROM.
    return exists(
        select(Enrollment.id)
        .where(
            Enrollment.agency_id == cls.agency_id,
            Enrollment.person_id == cls.id,
            Enrollment.company_id.in_(company_ids),
        )
        .correlate_except(Enrollment)
    )


class Person(TenantOwned, Timestamps, Base):
    __tablename__ = "persons"
    __table_args__ = (UniqueConstraint("agency_id", "id_number"),)
    __company_scope__ = _person_scope

    id_number: Mapped[str] = mapped_column(String(18))  # 公民身份号码
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[Gender] = mapped_column(str_enum(Gender, 8))  # derived from the ID number
    birth_date: Mapped[date]  # derived from the ID number
    phone: Mapped[str | None] = mapped_column(String(11))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Enrollment(TenantOwned, Timestamps, Base):
    """A person insured through one client company in its region from a start month until stopped."""

    __tablename__ = "enrollments"
    __table_args__ = (
        ForeignKeyConstraint(["agency_id", "person_id"], ["persons.agency_id", "persons.id"]),
        ForeignKeyConstraint(["agency_id", "company_id"], ["client_companies.agency_id", "client_companies.id"]),
        Index("ix_enrollments_company", "agency_id", "company_id", "start_month"),
        Index("ix_enrollments_person", "agency_id", "person_id"),
    )
    __company_scope__ = "company_id"

    person_id: Mapped[uuid.UUID]
    company_id: Mapped[uuid.UUID]
    region_code: Mapped[str] = mapped_column(String(40))
    start_month: Mapped[Month] = mapped_column(MonthType())
    end_month: Mapped[Month | None] = mapped_column(MonthType())  # last month paid; None: active
    household_type: Mapped[HouseholdType] = mapped_column(str_enum(HouseholdType, 24))
    employment_form: Mapped[EmploymentForm] = mapped_column(str_enum(EmploymentForm, 24))
    monthly_base: Mapped[Decimal] = mapped_column(Money())  # 月缴费基数 as declared
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    def covers(self, month: Month) -> bool:
        return self.start_month <= month and (self.end_month is None or month <= self.end_month)
