"""Declarations (申报业务) over GraphQL: one mutation per kind, editing drafts, submitting and reviewing."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from shebao.graphql.errors import UserError, run_mutation, user_errors
from shebao.graphql.permissions import requires
from shebao.graphql.types.common import Connection, Month, page_request, to_connection
from shebao.graphql.types.companies import Company, maybe, parse_id
from shebao.graphql.types.figures import DeclarationKindEnum
from shebao.platform.auth.permissions import Permission
from shebao.platform.declarations import attachments, service
from shebao.platform.declarations.models import Declaration, DeclarationStatus
from shebao.platform.errors import Problems
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.regions.rules import camel

DeclarationStatusEnum = strawberry.enum(DeclarationStatus, name="DeclarationStatus")


@strawberry.type
class DeclarationNotice:
    zh: str
    en: str


@strawberry.type(description="A file a declaration carries; upload with POST /declarations/{id}/attachments.")
class DeclarationAttachmentType:
    id: strawberry.ID
    document: str
    filename: str | None
    content_type: str
    size: int
    sha256: str
    download_url: str
    created_at: datetime

    @classmethod
    def of(cls, m) -> DeclarationAttachmentType:
        return cls(
            id=strawberry.ID(str(m.id)),
            document=m.document,
            filename=m.filename,
            content_type=m.content_type,
            size=m.size,
            sha256=m.sha256,
            download_url=f"/attachments/{m.id}",
            created_at=m.created_at,
        )


DeclarationAttachmentType.__strawberry_definition__.name = "DeclarationAttachment"


@strawberry.type(description="One change for one person at one client company (申报业务).")
class DeclarationType:
    id: strawberry.ID
    company_id: strawberry.ID
    region_code: str
    kind: DeclarationKindEnum
    status: DeclarationStatusEnum
    status_label_zh: str
    id_number: str | None
    person_id: strawberry.ID | None
    enrollment_id: strawberry.ID | None
    target_id: strawberry.ID | None
    month: Month | None = strawberry.field(description="The month it takes effect (start, stop, change, first).")
    to_month: Month | None
    monthly_base: Decimal | None
    values: strawberry.scalars.JSON = strawberry.field(description="As declared, with camelCase keys.")
    notices: list[DeclarationNotice] = strawberry.field(description="The region's advice for this declaration.")
    idempotency_key: str | None
    created_by: strawberry.ID | None
    submitted_at: datetime | None
    reviewed_by: strawberry.ID | None
    reviewed_at: datetime | None
    reject_reason: str | None
    version: int
    created_at: datetime

    @strawberry.field
    async def company(self, info: Info) -> Company | None:
        row = await info.context.loaders.company.load(uuid.UUID(self.company_id))
        return Company.from_model(row) if row else None

    @strawberry.field
    async def attachments(self, info: Info) -> list[DeclarationAttachmentType]:
        rows = await info.context.call(attachments.attachments_of, uuid.UUID(self.id))
        return [DeclarationAttachmentType.of(r) for r in rows]

    @classmethod
    def of(cls, m: Declaration) -> DeclarationType:
        def ident(value):
            return strawberry.ID(str(value)) if value else None

        return cls(
            id=strawberry.ID(str(m.id)),
            company_id=strawberry.ID(str(m.company_id)),
            region_code=m.region_code,
            kind=m.kind,
            status=m.status,
            status_label_zh=m.status.label_zh,
            id_number=m.id_number,
            person_id=ident(m.person_id),
            enrollment_id=ident(m.enrollment_id),
            target_id=ident(m.target_id),
            month=m.month,
            to_month=m.to_month,
            monthly_base=m.monthly_base,
            values={camel(k): v for k, v in m.values.items()},
            notices=[DeclarationNotice(zh=n["zh"], en=n["en"]) for n in m.notices or []],
            idempotency_key=m.idempotency_key,
            created_by=ident(m.created_by),
            submitted_at=m.submitted_at,
            reviewed_by=ident(m.reviewed_by),
            reviewed_at=m.reviewed_at,
            reject_reason=m.reject_reason,
            version=m.version,
            created_at=m.created_at,
        )


DeclarationType.__strawberry_definition__.name = "Declaration"


@strawberry.input
class DeclarationFilterInput:
    company_id: strawberry.ID | None = None
    person_id: strawberry.ID | None = None
    id_number: str | None = None
    month: Month | None = None
    kind: DeclarationKindEnum | None = None
    status: DeclarationStatusEnum | None = None


_KEY = strawberry.field(default=None, description="A retried request with the same key declares nothing twice.")


@strawberry.input(description="增员: enroll a person at a client company from a month.")
class DeclareAddInput:
    company_id: strawberry.ID
    id_number: str
    name: str
    household_type: str
    employment_form: str
    start_month: Month
    monthly_base: Decimal
    phone: str | None = None
    idempotency_key: str | None = _KEY


@strawberry.input(description="减员: `stopMonth` is the first month no longer insured.")
class DeclareStopInput:
    company_id: strawberry.ID
    id_number: str
    stop_month: Month
    stop_reason: str
    idempotency_key: str | None = _KEY


@strawberry.input(description="基数申报: the new monthly base from `changeMonth` on.")
class DeclareBaseChangeInput:
    company_id: strawberry.ID
    id_number: str
    change_month: Month
    monthly_base: Decimal
    idempotency_key: str | None = _KEY


@strawberry.input(description="补缴: contributions for `fromMonth`..`toMonth` on `monthlyBase`.")
class DeclareBackPaymentInput:
    company_id: strawberry.ID
    id_number: str
    from_month: Month
    to_month: Month
    monthly_base: Decimal
    idempotency_key: str | None = _KEY


@strawberry.input(description="信息更正: the phone (ordinary) or the name (sensitive: `sensitive: true`).")
class DeclareCorrectionInput:
    company_id: strawberry.ID
    id_number: str
    sensitive: bool = False
    phone: str | None = None
    name: str | None = None
    idempotency_key: str | None = _KEY


@strawberry.input(description="回退: take back an approved, unpaid declaration, where the region allows it.")
class DeclareRollbackInput:
    company_id: strawberry.ID
    target_id: strawberry.ID
    idempotency_key: str | None = _KEY


@strawberry.input
class BaseChangeRow:
    id_number: str
    monthly_base: Decimal


@strawberry.input(description="The yearly base declaration: every row drafted, or none (errors name `rows.N`).")
class DeclareBaseChangesInput:
    company_id: strawberry.ID
    change_month: Month
    rows: list[BaseChangeRow]
    idempotency_key: str | None = _KEY


@strawberry.input(description="Edit a draft; fields left out stay as they are.")
class UpdateDeclarationInput:
    id: strawberry.ID
    expected_version: int | None = None
    name: str | None = None
    household_type: str | None = None
    employment_form: str | None = None
    phone: str | None = None
    stop_reason: str | None = None
    start_month: Month | None = None
    stop_month: Month | None = None
    change_month: Month | None = None
    from_month: Month | None = None
    to_month: Month | None = None
    monthly_base: Decimal | None = None


@strawberry.type
class DeclarationPayload:
    declaration: DeclarationType | None = None
    errors: list[UserError]


@strawberry.type
class DeclarationsPayload:
    declarations: list[DeclarationType]
    errors: list[UserError]


@strawberry.type
class DeleteDeclarationPayload:
    deleted_id: strawberry.ID | None = None
    errors: list[UserError]


@strawberry.type
class DeclarationResult:
    id: strawberry.ID
    declaration: DeclarationType | None
    errors: list[UserError]


@strawberry.type(description="Each declaration's outcome; `errors` gathers them all, by `ids.N`.")
class BulkDeclarationPayload:
    results: list[DeclarationResult]
    errors: list[UserError]


def _values(data, *skip: str) -> dict:
    skip = {"company_id", "idempotency_key", "id", "expected_version", "sensitive", *skip}
    return {k: v for k, v in vars(data).items() if k not in skip and v is not None}


async def _declare(info: Info, data, kind: DeclarationKind, *skip: str) -> DeclarationPayload:
    async def create(session):
        return await service.create_declaration(
            session, parse_id(data.company_id, "companyId"), kind, _values(data, *skip), data.idempotency_key
        )

    row, errors = await run_mutation(info, create)
    return DeclarationPayload(declaration=DeclarationType.of(row) if row else None, errors=errors)


def _ids(values: list[strawberry.ID], field: str = "ids") -> list[uuid.UUID]:
    return [parse_id(v, f"{field}.{i}") for i, v in enumerate(values)]


async def _bulk(info: Info, ids: list[strawberry.ID], action) -> BulkDeclarationPayload:
    async def run(session):
        return await action(session, _ids(ids))

    outcomes, errors = await run_mutation(info, run)
    if outcomes is None:
        return BulkDeclarationPayload(results=[], errors=errors)
    return _bulk_payload(info, outcomes, [str(i) for i in ids])


def _bulk_payload(info: Info, outcomes, given: list[str] | None = None) -> BulkDeclarationPayload:
    results, problems = [], Problems()
    for i, o in enumerate(outcomes):
        errors = user_errors(o.error, info.context.lang) if o.error else []
        for p in o.error.problems if o.error else ():
            # The declaration itself is ids.N; anything else about it is ids.N.<field>.
            problems.add(p.code, f"ids.{i}" if p.field in (None, "id") else f"ids.{i}.{p.field}", **p.params)
        results.append(
            DeclarationResult(
                id=strawberry.ID(given[i] if given else str(o.id)),
                declaration=DeclarationType.of(o.declaration) if o.declaration else None,
                errors=errors,
            )
        )
    every = [UserError(code=p.code, field=p.field, message=p.message(info.context.lang)) for p in problems.items]
    return BulkDeclarationPayload(results=results, errors=every)


@strawberry.type
class DeclarationQuery:
    @strawberry.field(
        extensions=requires(Permission.PERSONS_READ),
        description="Oldest first; filter the review queue by status SUBMITTED.",
    )
    async def declarations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: DeclarationFilterInput | None = None,
    ) -> Connection[DeclarationType]:
        f = None
        if filter is not None:
            f = service.DeclarationFilter(
                company_id=parse_id(filter.company_id, "companyId") if filter.company_id else None,
                person_id=parse_id(filter.person_id, "personId") if filter.person_id else None,
                id_number=filter.id_number,
                month=filter.month,
                kind=filter.kind,
                status=filter.status,
            )
        page = await info.context.call(service.list_declarations, page_request(first, after), f)
        return to_connection(page, DeclarationType.of)

    @strawberry.field(extensions=requires(Permission.PERSONS_READ))
    async def declaration(self, info: Info, id: strawberry.ID) -> DeclarationType | None:
        row = await maybe(info, lambda s: service.get_declaration(s, parse_id(id)))
        return DeclarationType.of(row) if row else None


WRITE = requires(Permission.DECLARATIONS_WRITE)
REVIEW = requires(Permission.DECLARATIONS_REVIEW)


@strawberry.type
class DeclarationMutation:
    @strawberry.mutation(extensions=WRITE)
    async def declare_add(self, info: Info, input: DeclareAddInput) -> DeclarationPayload:
        return await _declare(info, input, DeclarationKind.ADD)

    @strawberry.mutation(extensions=WRITE)
    async def declare_stop(self, info: Info, input: DeclareStopInput) -> DeclarationPayload:
        return await _declare(info, input, DeclarationKind.STOP)

    @strawberry.mutation(extensions=WRITE)
    async def declare_base_change(self, info: Info, input: DeclareBaseChangeInput) -> DeclarationPayload:
        return await _declare(info, input, DeclarationKind.BASE_CHANGE)

    @strawberry.mutation(extensions=WRITE)
    async def declare_back_payment(self, info: Info, input: DeclareBackPaymentInput) -> DeclarationPayload:
        return await _declare(info, input, DeclarationKind.BACK_PAYMENT)

    @strawberry.mutation(extensions=WRITE)
    async def declare_correction(self, info: Info, input: DeclareCorrectionInput) -> DeclarationPayload:
        kind = DeclarationKind.SENSITIVE_CORRECTION if input.sensitive else DeclarationKind.CORRECTION
        return await _declare(info, input, kind)

    @strawberry.mutation(extensions=WRITE)
    async def declare_rollback(self, info: Info, input: DeclareRollbackInput) -> DeclarationPayload:
        return await _declare(info, input, DeclarationKind.ROLLBACK)

    @strawberry.mutation(extensions=WRITE)
    async def declare_base_changes(self, info: Info, input: DeclareBaseChangesInput) -> DeclarationsPayload:
        async def create(session):
            rows = [{"id_number": r.id_number, "monthly_base": r.monthly_base} for r in input.rows]
            company_id = parse_id(input.company_id, "companyId")
            return await service.create_base_changes(
                session, company_id, input.change_month, rows, input.idempotency_key
            )

        rows, errors = await run_mutation(info, create)
        return DeclarationsPayload(declarations=[DeclarationType.of(r) for r in rows or []], errors=errors)

    @strawberry.mutation(extensions=WRITE)
    async def update_declaration(self, info: Info, input: UpdateDeclarationInput) -> DeclarationPayload:
        async def update(session):
            return await service.update_draft(session, parse_id(input.id), _values(input), input.expected_version)

        row, errors = await run_mutation(info, update)
        return DeclarationPayload(declaration=DeclarationType.of(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=WRITE)
    async def delete_declaration(self, info: Info, id: strawberry.ID) -> DeleteDeclarationPayload:
        deleted, errors = await run_mutation(info, lambda s: service.delete_draft(s, parse_id(id)))
        return DeleteDeclarationPayload(deleted_id=strawberry.ID(str(deleted)) if deleted else None, errors=errors)

    @strawberry.mutation(extensions=WRITE, description="Remove an attachment from a draft.")
    async def remove_declaration_attachment(self, info: Info, id: strawberry.ID) -> DeleteDeclarationPayload:
        removed, errors = await run_mutation(info, lambda s: attachments.remove_attachment(s, parse_id(id)))
        return DeleteDeclarationPayload(deleted_id=strawberry.ID(str(removed)) if removed else None, errors=errors)

    @strawberry.mutation(extensions=WRITE, description="申报业务提交: these drafts go to review.")
    async def submit_declarations(self, info: Info, ids: list[strawberry.ID]) -> BulkDeclarationPayload:
        return await _bulk(info, ids, service.submit)

    @strawberry.mutation(
        extensions=WRITE, description="Every draft of these client companies (of all yours when empty)."
    )
    async def submit_pending_declarations(
        self, info: Info, company_ids: list[strawberry.ID] | None = None
    ) -> BulkDeclarationPayload:
        async def run(session):
            return await service.submit_pending(session, _ids(company_ids or [], "companyIds"))

        outcomes, errors = await run_mutation(info, run)
        return BulkDeclarationPayload(results=[], errors=errors) if outcomes is None else _bulk_payload(info, outcomes)

    @strawberry.mutation(extensions=REVIEW)
    async def approve_declarations(self, info: Info, ids: list[strawberry.ID]) -> BulkDeclarationPayload:
        return await _bulk(info, ids, service.approve)

    @strawberry.mutation(extensions=REVIEW)
    async def reject_declarations(self, info: Info, ids: list[strawberry.ID], reason: str) -> BulkDeclarationPayload:
        return await _bulk(info, ids, lambda s, parsed: service.reject(s, parsed, reason))
