"""The cross-tenant suite: agency B, using agency A's ids, gets "not found" and changes nothing.

Every query and mutation that takes an id (directly, in a filter or in an input) must be listed in
``OPERATIONS``; ``test_every_id_taking_operation_joins_the_suite`` reads the schema and fails when
a new one is added without joining.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull, get_named_type
from sqlalchemy import select

from shebao.graphql.schema import build_schema
from shebao.platform.auth import service as auth
from shebao.platform.auth.permissions import Permission
from shebao.platform.auth.users import UserInput, create_user
from shebao.platform.companies import service as companies
from shebao.platform.core.month import Month
from shebao.platform.db.base import tenant_models
from shebao.platform.declarations import attachments
from shebao.platform.declarations import service as declarations
from shebao.platform.imports import service as imports
from shebao.platform.people import service as people
from shebao.platform.policy import service as policy
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.settlement import batch
from shebao.platform.settlement import service as settlements
from shebao.platform.tenancy.context import Actor
from tests.factories import company_values, resident_id

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Op:
    name: str  # Query.x or Mutation.x
    document: str
    # "null": the field answers null; "empty": an empty list or connection;
    # "not_found": the payload's errors carry NOT_FOUND
    expect: str
    path: tuple[str, ...] = ()


NOT_FOUND_PAYLOAD = "errors { code field }"

OPERATIONS = [
    Op("Query.user", "query($user:ID!){ r: user(id:$user){ id } }", "null"),
    Op("Query.company", "query($company:ID!){ r: company(id:$company){ id } }", "null"),
    Op("Query.person", "query($person:ID!){ r: person(id:$person){ id } }", "null"),
    Op("Query.enrollment", "query($enrollment:ID!){ r: enrollment(id:$enrollment){ id } }", "null"),
    Op("Query.apiTokens", "query($user:ID!){ r: apiTokens(userId:$user){ id } }", "empty"),
    Op(
        "Query.companyChangeRequests",
        "query($company:ID!){ r: companyChangeRequests(companyId:$company){ totalCount nodes { id } } }",
        "empty",
    ),
    Op(
        "Query.persons",
        "query($company:ID!){ r: persons(filter:{companyId:$company}){ totalCount nodes { id } } }",
        "empty",
    ),
    Op(
        "Query.enrollments",
        "query($company:ID!,$person:ID!){ r: enrollments(filter:{companyId:$company, personId:$person})"
        "{ totalCount nodes { id } } }",
        "empty",
    ),
    Op(
        "Query.auditLog",
        "query($company:ID!,$user:ID!){ r: auditLog(entityId:$company, actorUserId:$user){ totalCount nodes { id } } }",
        "empty",
    ),
    Op(
        "Mutation.revokeApiToken",
        f"mutation($token:ID!){{ r: revokeApiToken(id:$token){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.createUser",
        'mutation($company:ID!){ r: createUser(input:{username:"intruder", displayName:"x", password:"Passw0rd123",'
        f" companyIds:[$company]}}){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.updateUser",
        f'mutation($user:ID!){{ r: updateUser(input:{{id:$user, displayName:"hijacked"}}){{ {NOT_FOUND_PAYLOAD} }} }}',
        "not_found",
    ),
    Op(
        "Mutation.updateUser#companyIds",
        "mutation($me:ID!,$company:ID!){ r: updateUser(input:{id:$me, companyIds:[$company]})"
        f"{{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.unlockUser", f"mutation($user:ID!){{ r: unlockUser(id:$user){{ {NOT_FOUND_PAYLOAD} }} }}", "not_found"
    ),
    Op(
        "Mutation.resetUserPassword",
        f"mutation($user:ID!){{ r: resetUserPassword(id:$user){{ password {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.updateCompany",
        'mutation($company:ID!){ r: updateCompany(input:{id:$company, address:"x", name:"y"})'
        f"{{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.approveCompanyChange",
        f"mutation($change:ID!){{ r: approveCompanyChange(id:$change){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.rejectCompanyChange",
        f'mutation($change:ID!){{ r: rejectCompanyChange(id:$change, reason:"no"){{ {NOT_FOUND_PAYLOAD} }} }}',
        "not_found",
    ),
    Op(
        "Mutation.updatePerson",
        f'mutation($person:ID!){{ r: updatePerson(input:{{id:$person, name:"hijacked"}}){{ {NOT_FOUND_PAYLOAD} }} }}',
        "not_found",
    ),
    Op("Query.declaration", "query($draft:ID!){ r: declaration(id:$draft){ id } }", "null"),
    Op(
        "Query.declarations",
        "query($company:ID!,$person:ID!){ r: declarations(filter:{companyId:$company, personId:$person})"
        "{ totalCount nodes { id } } }",
        "empty",
    ),
    *[
        Op(
            f"Mutation.{name}",
            f"mutation($company:ID!{', $submitted:ID!' * ('$submitted' in fields)})"
            f"{{ r: {name}(input:{{companyId:$company, {fields}}})"
            f"{{ {NOT_FOUND_PAYLOAD} }} }}",
            "not_found",
        )
        for name, fields in (
            (
                "declareAdd",
                'idNumber:"120104198512127625", name:"x", householdType:"local_urban",'
                ' employmentForm:"contract", startMonth:"2026-11", monthlyBase:"8000"',
            ),
            ("declareStop", 'idNumber:"120104198512127625", stopMonth:"2026-11", stopReason:"stop_payment"'),
            ("declareBaseChange", 'idNumber:"120104198512127625", changeMonth:"2026-11", monthlyBase:"8000"'),
            (
                "declareBackPayment",
                'idNumber:"120104198512127625", fromMonth:"2026-01", toMonth:"2026-02", monthlyBase:"8000"',
            ),
            ("declareCorrection", 'idNumber:"120104198512127625", phone:"13800138000"'),
            ("declareRollback", "targetId:$submitted"),
            ("declareBaseChanges", 'changeMonth:"2026-11", rows:[{idNumber:"120104198512127625", monthlyBase:"8000"}]'),
        )
    ],
    Op(
        "Mutation.updateDeclaration",
        'mutation($draft:ID!){ r: updateDeclaration(input:{id:$draft, monthlyBase:"1"})'
        f"{{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.deleteDeclaration",
        f"mutation($draft:ID!){{ r: deleteDeclaration(id:$draft){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.submitDeclarations",
        f"mutation($draft:ID!){{ r: submitDeclarations(ids:[$draft]){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.submitPendingDeclarations",
        f"mutation($company:ID!){{ r: submitPendingDeclarations(companyIds:[$company]){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.approveDeclarations",
        f"mutation($submitted:ID!){{ r: approveDeclarations(ids:[$submitted]){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.rejectDeclarations",
        f'mutation($submitted:ID!){{ r: rejectDeclarations(ids:[$submitted], reason:"x"){{ {NOT_FOUND_PAYLOAD} }} }}',
        "not_found",
    ),
    Op(
        "Mutation.removeDeclarationAttachment",
        f"mutation($attachment:ID!){{ r: removeDeclarationAttachment(id:$attachment){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Query.settlements",
        "query($company:ID!){ r: settlements(filter:{companyId:$company}){ totalCount nodes { id } } }",
        "empty",
    ),
    Op("Query.settlement", "query($settlement:ID!){ r: settlement(id:$settlement){ id } }", "null"),
    Op(
        "Query.settlementPreview",
        'query($company:ID!){ r: settlementPreview(companyId:$company, month:"2026-10"){ total } }',
        "null",
    ),
    Op("Query.job", "query($job:ID!){ r: job(id:$job){ id } }", "null"),
    Op(
        "Mutation.settle",
        'mutation($company:ID!){ r: settle(input:{companyId:$company, month:"2026-12", mode:"with_change"})'
        f"{{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.rollbackSettlement",
        f"mutation($settlement:ID!){{ r: rollbackSettlement(id:$settlement){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.markSettlementPaid",
        f"mutation($settlement:ID!){{ r: markSettlementPaid(id:$settlement){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.requestDocument",
        "mutation($company:ID!){ r: requestDocument(input:{kind: PAYMENT_NOTICE, companyId:$company,"
        f' monthFrom:"2026-10"}}){{ {NOT_FOUND_PAYLOAD} }} }}',
        "not_found",
    ),
    Op(
        "Mutation.requestExport",
        'mutation($company:ID!){ r: requestExport(input:{kind: ROSTER, companyId:$company, monthFrom:"2026-10"})'
        f"{{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.requestExport#settlementId",
        "mutation($settlement:ID!){ r: requestExport(input:{kind: SETTLEMENT_LINES, settlementId:$settlement})"
        f"{{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op("Query.workbookImport", "query($import:ID!){ r: workbookImport(id:$import){ id } }", "null"),
    Op(
        "Mutation.confirmWorkbookImport",
        f"mutation($import:ID!){{ r: confirmWorkbookImport(id:$import){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.recheckWorkbookImport",
        f"mutation($import:ID!){{ r: recheckWorkbookImport(id:$import){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.discardWorkbookImport",
        f"mutation($import:ID!){{ r: discardWorkbookImport(id:$import){{ {NOT_FOUND_PAYLOAD} }} }}",
        "not_found",
    ),
    Op(
        "Mutation.withdrawPolicyFigure",
        f'mutation($figure:ID!){{ r: withdrawPolicyFigure(id:$figure, reason:"x"){{ {NOT_FOUND_PAYLOAD} }} }}',
        "not_found",
    ),
]


def _takes_id(arg_type, seen=None) -> bool:
    seen = seen or set()
    named = get_named_type(arg_type)
    if named.name == "ID":
        return True
    if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        seen.add(named.name)
        return any(_takes_id(f.type, seen) for f in named.fields.values())
    return False


def test_every_id_taking_operation_joins_the_suite():
    schema = build_schema()._schema
    taking = set()
    for root in (schema.query_type, schema.mutation_type):
        for name, field in root.fields.items():
            if any(_takes_id(arg.type) for arg in field.args.values()):
                taking.add(f"{root.name}.{name}")
    covered = {op.name.split("#")[0] for op in OPERATIONS}
    assert taking - covered == set(), "add these operations to the cross-tenant suite"
    assert covered - taking == set(), "the suite lists operations that no longer take an id"
    assert not isinstance(GraphQLList, GraphQLNonNull)  # keep the imports honest


async def _agency_with_everything(make_agency, session_as, storage):
    """Agency A with one of every kind of row: company, change request, person, enrollment, user, token."""
    a = await make_agency("victim")
    async with session_as(a.system) as s:
        company = await companies.create_company(s, company_values())
        person = await people.register_person(s, resident_id(), "受害者")
        enrollment = await people.enroll(
            s,
            person_id=person.id,
            company_id=company.id,
            start_month=Month(2026, 1),
            household_type="local_urban",
            employment_form="contract",
            monthly_base="6000.00",
        )
        operator = await create_user(
            s,
            UserInput(
                username="clerk",
                display_name="经办人",
                password="Clerk12345",
                permissions=[Permission.COMPANIES_READ.value, Permission.COMPANIES_WRITE.value],
                company_ids=[company.id],
            ),
        )
        await s.commit()
    async with session_as(
        Actor(agency_id=a.id, user_id=operator.id, permissions=frozenset({"companies:read", "companies:write"}))
    ) as s:
        change = (await companies.update_company(s, company.id, {"name": "改名有限公司"})).change_request
        await s.commit()
    async with session_as(Actor.system(a.id)) as s:
        user = await s.get(type(operator), (a.id, operator.id))
        await s.refresh(user)
        await auth._issue(s, user, auth.API, "erp", ["companies:read"], None)
        token = (await auth.list_api_tokens(s, operator.id))[0]
        draft = await declarations.create_declaration(
            s,
            company.id,
            DeclarationKind.BASE_CHANGE,
            {"id_number": person.id_number, "change_month": "2026-11", "monthly_base": "9000"},
        )
        submitted = await declarations.create_declaration(
            s,
            company.id,
            DeclarationKind.BACK_PAYMENT,
            {"id_number": person.id_number, "from_month": "2026-01", "to_month": "2026-02", "monthly_base": "9000"},
        )
        await declarations.submit(s, [submitted.id])
        leshan = await companies.create_company(s, company_values("leshan"))
        part_time = await declarations.create_declaration(
            s,
            leshan.id,
            DeclarationKind.ADD,
            {
                "id_number": resident_id(),
                "name": "兼职",
                "household_type": "local_urban",
                "employment_form": "part_time",
                "start_month": "2026-11",
                "monthly_base": "6000",
            },
        )
        attachment = await attachments.attach(s, storage, part_time.id, "labour_contract", b"%PDF-1.4\n%%EOF\n")
        figure = await policy.record_figure(
            s, policy.NewFigure("tianjin", "base.floor", Month(2026, 7), "5500", "津人社局发〔2026〕示例号")
        )
        [settlement] = await settlements.settle(s, company.id, Month(2026, 10), "no_change")
        job = await batch.start_region_settlement(s, "tianjin", Month(2026, 9), "no_change")
        staged = await imports.upload(s, storage, b"PK\x03\x04 not really", "a.xlsx", "add", company_id=company.id)
        await s.commit()
    ids = {
        "company": company.id,
        "person": person.id,
        "enrollment": enrollment.id,
        "user": operator.id,
        "change": change.id,
        "token": token.id,
        "figure": figure.id,
        "draft": draft.id,
        "submitted": submitted.id,
        "attachment": attachment.id,
        "settlement": settlement.id,
        "job": job.id,
        "import": staged.workbook_import.id,
    }
    return a, {k: str(v) for k, v in ids.items()}


async def _snapshot(session_as, agency) -> dict:
    """Every row agency A owns, as plain values (tokens' last use excluded: reads may touch it)."""
    state = {}
    async with session_as(agency.system) as s:
        for model in sorted(tenant_models(), key=lambda m: m.__tablename__):
            rows = (await s.scalars(select(model).order_by(model.id))).all()
            state[model.__tablename__] = [
                {c.key: getattr(r, c.key) for c in model.__table__.columns if c.key != "last_used_at"} for r in rows
            ]
    return state


async def test_other_agency_ids_are_not_found_and_change_nothing(
    make_agency, session_as, gql, subtests, storage, app_client
):
    # One world per backend, then every operation in turn; A's rows are compared after each one.
    victim, ids = await _agency_with_everything(make_agency, session_as, storage)
    intruder = await make_agency("intruder")
    token = await gql.login(intruder.code, intruder.admin_username, intruder.admin_password)
    ids["me"] = str(intruder.admin_id)
    before = await _snapshot(session_as, victim)
    for op in OPERATIONS:
        with subtests.test(msg=op.name):
            variables = {k: v for k, v in ids.items() if f"${k}" in op.document}
            body = await gql(op.document, variables, token=token, expect_errors=True)
            assert not body.get("errors"), body
            result = body["data"]["r"]
            if op.expect == "null":
                assert result is None
            elif op.expect == "empty":
                assert result == [] or (result["totalCount"] == 0 and result["nodes"] == [])
            else:
                codes = {e["code"] for e in result["errors"]}
                assert codes == {"NOT_FOUND"}, result
            assert await _snapshot(session_as, victim) == before, f"{op.name} changed agency A's rows"
    assert len(OPERATIONS) >= 44
    # The file endpoints beside GraphQL answer 404 for another agency's ids.
    auth = {"Authorization": f"Bearer {token}"}
    download = await app_client.get(f"/attachments/{ids['attachment']}", headers=auth)
    upload = await app_client.post(
        f"/declarations/{ids['draft']}/attachments",
        files={"file": ("x.pdf", b"%PDF-1.4\n%%EOF\n")},
        data={"document": "labour_contract"},
        headers=auth,
    )
    job_file = await app_client.get(f"/jobs/{ids['job']}/file", headers=auth)
    assert (download.status_code, upload.status_code, job_file.status_code) == (404, 404, 404)
    workbook = await app_client.post(
        "/imports", files={"file": ("a.xlsx", b"PK")}, data={"kind": "add", "companyId": ids["company"]}, headers=auth
    )
    report = await app_client.get(f"/imports/{ids['import']}/error-report", headers=auth)
    roster = await app_client.get(f"/companies/{ids['company']}/base-roster?month=2026-10", headers=auth)
    assert (workbook.status_code, report.status_code, roster.status_code) == (404, 404, 404)
    assert await _snapshot(session_as, victim) == before
