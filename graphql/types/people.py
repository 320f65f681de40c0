"""Insured persons (参保人员) and enrollments (参保关系) over GraphQL."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from shebao.graphql.errors import UserError, run_mutation
from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Connection, Month, page_request, to_connection
from shebao.graphql.types.companies import Company, maybe, parse_id
from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.validation import camel
from shebao.platform.people import service
from shebao.platform.people.models import EmploymentForm, Enrollment, Gender, HouseholdType, Person

GenderEnum = strawberry.enum(Gender, name="Gender")
HouseholdTypeEnum = strawberry.enum(HouseholdType, name="HouseholdType", description="户籍类型")
EmploymentFormEnum = strawberry.enum(EmploymentForm, name="EmploymentForm", description="用工形式")


@strawberry.type(name="Person", description="An insured person, keyed by resident ID number.")
class PersonType:
    id: strawberry.ID
    id_number: str
    name: str
    gender: GenderEnum = strawberry.field(description="Derived from the ID number.")
    birth_date: date = strawberry.field(description="Derived from the ID number.")
    phone: str | None
    version: int
    created_at: datetime

    @strawberry.field
    async def enrollments(self, info: Info) -> list[EnrollmentType]:
        rows = await info.context.loaders.enrollments_by_person.load(uuid.UUID(self.id))
        return [EnrollmentType.from_model(r) for r in rows]

    @classmethod
    def from_model(cls, m: Person) -> PersonType:
        return cls(
            id=strawberry.ID(str(m.id)),
            id_number=m.id_number,
            name=m.name,
            gender=m.gender,
            birth_date=m.birth_date,
            phone=m.phone,
            version=m.version,
            created_at=m.created_at,
        )


@strawberry.type(name="Enrollment", description="A person insured through one client company from a month on.")
class EnrollmentType:
    id: strawberry.ID
    person_id: strawberry.ID
    company_id: strawberry.ID
    region_code: str
    start_month: Month
    end_month: Month | None
    household_type: HouseholdTypeEnum
    employment_form: EmploymentFormEnum
    monthly_base: Decimal
    created_at: datetime

    @strawberry.field
    async def person(self, info: Info) -> PersonType | None:
        row = await info.context.loaders.person.load(uuid.UUID(self.person_id))
        return PersonType.from_model(row) if row else None

    @strawberry.field
    async def company(self, info: Info) -> Company | None:
        row = await info.context.loaders.company.load(uuid.UUID(self.company_id))
        return Company.from_model(row) if row else None

    @classmethod
    def from_model(cls, m: Enrollment) -> EnrollmentType:
        return cls(
            id=strawberry.ID(str(m.id)),
            person_id=strawberry.ID(str(m.person_id)),
            company_id=strawberry.ID(str(m.company_id)),
            region_code=m.region_code,
            start_month=m.start_month,
            end_month=m.end_month,
            household_type=m.household_type,
            employment_form=m.employment_form,
            monthly_base=m.monthly_base,
            created_at=m.created_at,
        )


@strawberry.input
class PersonFilterInput:
    name_contains: str | None = None
    id_number: str | None = None
    company_id: strawberry.ID | None = None
    region_code: str | None = None
    insured_in: Month | None = None


@strawberry.input
class EnrollmentFilterInput:
    company_id: strawberry.ID | None = None
    person_id: strawberry.ID | None = None
    region_code: str | None = None
    active_in: Month | None = None
    household_type: HouseholdTypeEnum | None = None
    employment_form: EmploymentFormEnum | None = None


@strawberry.input
class CreatePersonInput:
    id_number: str
    name: str
    phone: str | None = None


@strawberry.input
class UpdatePersonInput:
    id: strawberry.ID
    name: str | None = None
    phone: str | None = None


@strawberry.type
class PersonPayload:
    person: PersonType | None = None
    errors: list[UserError]


def _ids(data, *names):
    values = dict(vars(data))
    for name in names:
        if values.get(name):
            values[name] = parse_id(values[name], camel(name))  # the GraphQL name: companyId
    return values


@strawberry.type
class PeopleQuery:
    @strawberry.field(extensions=requires(Permission.PERSONS_READ))
    async def persons(
        self, info: Info, first: int | None = None, after: str | None = None, filter: PersonFilterInput | None = None
    ) -> Connection[PersonType]:
        f = service.PersonFilter(**_ids(filter, "company_id")) if filter else None
        page = await info.context.call(service.list_persons, page_request(first, after), f)
        return to_connection(page, PersonType.from_model)

    @strawberry.field(extensions=requires(Permission.PERSONS_READ))
    async def person(self, info: Info, id: strawberry.ID) -> PersonType | None:
        row = await maybe(info, lambda s: service.get_person(s, parse_id(id)))
        return PersonType.from_model(row) if row else None

    @strawberry.field(extensions=requires(Permission.PERSONS_READ))
    async def enrollments(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: EnrollmentFilterInput | None = None,
    ) -> Connection[EnrollmentType]:
        f = service.EnrollmentFilter(**_ids(filter, "company_id", "person_id")) if filter else None
        page = await info.context.call(service.list_enrollments, page_request(first, after), f)
        return to_connection(page, EnrollmentType.from_model)

    @strawberry.field(extensions=requires(Permission.PERSONS_READ))
    async def enrollment(self, info: Info, id: strawberry.ID) -> EnrollmentType | None:
        row = await maybe(info, lambda s: service.get_enrollment(s, parse_id(id)))
        return EnrollmentType.from_model(row) if row else None


@strawberry.type
class PeopleMutation:
    @strawberry.mutation(
        extensions=requires(Permission.PERSONS_WRITE),
        description="Record a person. Gender and birth date come from the ID number.",
    )
    async def create_person(self, info: Info, input: CreatePersonInput) -> PersonPayload:
        row, errors = await run_mutation(info, service.register_person, input.id_number, input.name, input.phone)
        return PersonPayload(person=PersonType.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=requires(Permission.PERSONS_WRITE))
    async def update_person(self, info: Info, input: UpdatePersonInput) -> PersonPayload:
        row, errors = await run_mutation(
            info, lambda s: service.update_person(s, parse_id(input.id), name=input.name, phone=input.phone)
        )
        return PersonPayload(person=PersonType.from_model(row) if row else None, errors=errors)
