"""Client companies (参保单位) and their sensitive-change review over GraphQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.types import Info

from shebao.graphql.errors import UserError, run_mutation
from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Connection, page_request, to_connection
from shebao.platform.auth.permissions import Permission
from shebao.platform.companies import service
from shebao.platform.companies.models import ChangeStatus, ClientCompany, CompanyChangeRequest
from shebao.platform.companies.validation import camel
from shebao.platform.errors import ErrorCode, ShebaoError

ChangeStatusEnum = strawberry.enum(ChangeStatus, name="ChangeStatus")


@strawberry.type(description="A client company (参保单位) whose social insurance the agency handles.")
class Company:
    id: strawberry.ID
    name: str
    credit_code: str
    unit_number: str | None
    region_code: str
    legal_rep_name: str
    legal_rep_id_number: str | None
    contact_name: str | None
    contact_id_number: str | None
    contact_mobile: str | None
    bank_name: str | None
    bank_account: str | None
    bank_account_name: str | None
    industry_class: int
    industry_grade: int
    address: str | None
    phone: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, m: ClientCompany) -> Company:
        return cls(**{f: getattr(m, f) for f in _COMPANY_FIELDS}, id=strawberry.ID(str(m.id)))


_COMPANY_FIELDS = [f for f in Company.__annotations__ if f != "id"]


@strawberry.type(description="A sensitive change (敏感信息变更) waiting for, or decided by, review.")
class CompanyChangeRequestType:
    id: strawberry.ID
    company_id: strawberry.ID
    status: ChangeStatusEnum
    changes: strawberry.scalars.JSON
    previous: strawberry.scalars.JSON
    requested_by: strawberry.ID
    reviewed_by: strawberry.ID | None
    reviewed_at: datetime | None
    reason: str | None
    created_at: datetime

    @strawberry.field
    async def company(self, info: Info) -> Company | None:
        row = await info.context.loaders.company.load(uuid.UUID(self.company_id))
        return Company.from_model(row) if row else None

    @classmethod
    def from_model(cls, m: CompanyChangeRequest) -> CompanyChangeRequestType:
        return cls(
            id=strawberry.ID(str(m.id)),
            company_id=strawberry.ID(str(m.company_id)),
            status=m.status,
            changes={camel(k): v for k, v in m.changes.items()},
            previous={camel(k): v for k, v in m.previous.items()},
            requested_by=strawberry.ID(str(m.requested_by)),
            reviewed_by=strawberry.ID(str(m.reviewed_by)) if m.reviewed_by else None,
            reviewed_at=m.reviewed_at,
            reason=m.reason,
            created_at=m.created_at,
        )


CompanyChangeRequestType.__strawberry_definition__.name = "CompanyChangeRequest"


@strawberry.input
class CompanyFilterInput:
    region_code: str | None = None
    name_contains: str | None = None
    credit_code: str | None = None


@strawberry.input(description="A new client company. Credit code and ID numbers are checked (GB 32100, GB 11643).")
class CreateCompanyInput:
    name: str
    credit_code: str
    region_code: str
    legal_rep_name: str
    unit_number: str | None = None
    legal_rep_id_number: str | None = None
    contact_name: str | None = None
    contact_id_number: str | None = None
    contact_mobile: str | None = None
    bank_name: str | None = None
    bank_account: str | None = None
    bank_account_name: str | None = None
    industry_class: int = 1
    industry_grade: int = 100
    address: str | None = None
    phone: str | None = None


@strawberry.input(
    description="Fields left out stay as they are. Name, credit code, legal representative and "
    "bank account are sensitive: they go to review instead of applying at once."
)
class UpdateCompanyInput:
    id: strawberry.ID
    expected_version: int | None = None
    name: str | None = strawberry.UNSET
    credit_code: str | None = strawberry.UNSET
    unit_number: str | None = strawberry.UNSET
    legal_rep_name: str | None = strawberry.UNSET
    legal_rep_id_number: str | None = strawberry.UNSET
    contact_name: str | None = strawberry.UNSET
    contact_id_number: str | None = strawberry.UNSET
    contact_mobile: str | None = strawberry.UNSET
    bank_name: str | None = strawberry.UNSET
    bank_account: str | None = strawberry.UNSET
    bank_account_name: str | None = strawberry.UNSET
    industry_class: int | None = strawberry.UNSET
    industry_grade: int | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET


@strawberry.type
class CompanyPayload:
    company: Company | None = None
    errors: list[UserError]


@strawberry.type
class UpdateCompanyPayload:
    company: Company | None = None
    applied_fields: list[str] = strawberry.field(default_factory=list, description="Ordinary fields changed at once.")
    change_request: CompanyChangeRequestType | None = strawberry.field(
        default=None, description="The sensitive changes, waiting for review."
    )
    errors: list[UserError]


@strawberry.type
class ChangeRequestPayload:
    change_request: CompanyChangeRequestType | None = None
    errors: list[UserError]


def parse_id(value: str, field: str = "id") -> uuid.UUID:
    """An id from the client; a malformed one names nothing that exists, so it is NOT_FOUND."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ShebaoError.of(ErrorCode.NOT_FOUND, field, entity="记录 / record") from None


async def maybe(info: Info, fn):
    """A single-object lookup ``fn(session)``: None when it does not exist for this caller
    (another agency's, out of the operator's scope, or a malformed id)."""
    try:
        return await info.context.call(fn)
    except ShebaoError as err:
        if err.code == ErrorCode.NOT_FOUND:
            return None
        raise


@strawberry.type
class CompanyQuery:
    @strawberry.field(extensions=requires(Permission.COMPANIES_READ))
    async def companies(
        self, info: Info, first: int | None = None, after: str | None = None, filter: CompanyFilterInput | None = None
    ) -> Connection[Company]:
        f = service.CompanyFilter(**vars(filter)) if filter else None
        page = await info.context.call(service.list_companies, page_request(first, after), f)
        return to_connection(page, Company.from_model)

    @strawberry.field(extensions=requires(Permission.COMPANIES_READ))
    async def company(self, info: Info, id: strawberry.ID) -> Company | None:
        row = await maybe(info, lambda s: service.get_company(s, parse_id(id)))
        return Company.from_model(row) if row else None

    @strawberry.field(extensions=requires(Permission.COMPANIES_READ))
    async def company_change_requests(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: ChangeStatusEnum | None = None,
        company_id: strawberry.ID | None = None,
    ) -> Connection[CompanyChangeRequestType]:
        cid = parse_id(company_id, "companyId") if company_id else None
        page = await info.context.call(service.list_change_requests, page_request(first, after), status, cid)
        return to_connection(page, CompanyChangeRequestType.from_model)


def _given(data) -> dict:
    return {k: v for k, v in vars(data).items() if v is not strawberry.UNSET and k not in ("id", "expected_version")}


@strawberry.type
class CompanyMutation:
    @strawberry.mutation(extensions=requires(Permission.COMPANIES_WRITE))
    async def create_company(self, info: Info, input: CreateCompanyInput) -> CompanyPayload:
        row, errors = await run_mutation(info, service.create_company, dict(vars(input)))
        return CompanyPayload(company=Company.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=requires(Permission.COMPANIES_WRITE))
    async def update_company(self, info: Info, input: UpdateCompanyInput) -> UpdateCompanyPayload:
        async def update(session):
            return await service.update_company(session, parse_id(input.id), _given(input), input.expected_version)

        result, errors = await run_mutation(info, update)
        if result is None:
            return UpdateCompanyPayload(errors=errors)
        return UpdateCompanyPayload(
            company=Company.from_model(result.company),
            applied_fields=[camel(k) for k in result.applied],
            change_request=CompanyChangeRequestType.from_model(result.change_request)
            if result.change_request
            else None,
            errors=[],
        )

    @strawberry.mutation(extensions=requires(Permission.COMPANIES_REVIEW))
    async def approve_company_change(self, info: Info, id: strawberry.ID) -> ChangeRequestPayload:
        row, errors = await run_mutation(info, lambda s: service.approve_change(s, parse_id(id)))
        return ChangeRequestPayload(
            change_request=CompanyChangeRequestType.from_model(row) if row else None, errors=errors
        )

    @strawberry.mutation(extensions=requires(Permission.COMPANIES_REVIEW))
    async def reject_company_change(self, info: Info, id: strawberry.ID, reason: str) -> ChangeRequestPayload:
        row, errors = await run_mutation(info, lambda s: service.reject_change(s, parse_id(id), reason))
        return ChangeRequestPayload(
            change_request=CompanyChangeRequestType.from_model(row) if row else None, errors=errors
        )
