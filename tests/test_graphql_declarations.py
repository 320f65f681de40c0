"""Declarations through the GraphQL endpoint: typed errors, idempotency, the review flow, and each
region's special rules as an integrator meets them."""

from __future__ import annotations

import pytest

from shebao.platform.companies import service as companies
from tests.factories import company_values, resident_id

pytestmark = pytest.mark.anyio

PAYLOAD = (
    "declaration { id status statusLabelZh kind month monthlyBase notices { zh en } values version }"
    " errors { code field message }"
)
ADD = f"mutation($input: DeclareAddInput!){{ declareAdd(input:$input){{ {PAYLOAD} }} }}"
BACK = f"mutation($input: DeclareBackPaymentInput!){{ declareBackPayment(input:$input){{ {PAYLOAD} }} }}"
ROLLBACK = f"mutation($input: DeclareRollbackInput!){{ declareRollback(input:$input){{ {PAYLOAD} }} }}"
BULK = "results { id declaration { status enrollmentId } errors { code } } errors { code field }"
SUBMIT = f"mutation($ids:[ID!]!){{ submitDeclarations(ids:$ids){{ {BULK} }} }}"
APPROVE = f"mutation($ids:[ID!]!){{ approveDeclarations(ids:$ids){{ {BULK} }} }}"


async def _setup(make_agency, session_as, gql, *regions: str):
    a = await make_agency("gql-decl")
    async with session_as(a.system) as s:
        made = [await companies.create_company(s, company_values(r)) for r in regions]
        await s.commit()
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    return token, [str(c.id) for c in made]


def add_input(company: str, id_number: str, **extra) -> dict:
    return {
        "companyId": company,
        "idNumber": id_number,
        "name": "李四",
        "householdType": "local_urban",
        "employmentForm": "contract",
        "startMonth": "2026-11",
        "monthlyBase": "8000.00",
        **extra,
    }


async def _approved(gql, token, declaration_id: str) -> dict:
    submitted = (await gql(SUBMIT, {"ids": [declaration_id]}, token=token))["submitDeclarations"]
    assert submitted["errors"] == [], submitted
    if submitted["results"][0]["declaration"]["status"] == "APPROVED":
        return submitted["results"][0]["declaration"]
    approved = (await gql(APPROVE, {"ids": [declaration_id]}, token=token))["approveDeclarations"]
    assert approved["errors"] == [], approved
    return approved["results"][0]["declaration"]


async def test_declare_review_and_query(make_agency, session_as, gql):
    token, [tianjin] = await _setup(make_agency, session_as, gql, "tianjin")
    person = resident_id()
    given = add_input(tianjin, person, idempotencyKey="hr-system-1")
    first = (await gql(ADD, {"input": given}, token=token))["declareAdd"]
    assert first["errors"] == [] and first["declaration"]["status"] == "DRAFT"
    assert first["declaration"]["statusLabelZh"] == "待提交" and first["declaration"]["values"]["idNumber"] == person
    retried = (await gql(ADD, {"input": given}, token=token))["declareAdd"]
    assert retried["declaration"]["id"] == first["declaration"]["id"]  # a retry declares nothing twice
    approved = await _approved(gql, token, first["declaration"]["id"])
    assert approved["status"] == "APPROVED" and approved["enrollmentId"]

    listed = await gql(
        'query($c:ID!){ declarations(filter:{companyId:$c, status:APPROVED, kind:ADD, month:"2026-11"})'
        "{ totalCount nodes { id company { name } } } }",
        {"c": tianjin},
        token=token,
    )
    assert listed["declarations"]["totalCount"] == 1
    queue = await gql("{ declarations(filter:{status:SUBMITTED}){ totalCount } }", token=token)
    assert queue["declarations"]["totalCount"] == 0

    again = (await gql(APPROVE, {"ids": [first["declaration"]["id"]]}, token=token))["approveDeclarations"]
    assert again["errors"] == [{"code": "NOT_SUBMITTED", "field": "ids.0"}]


async def test_errors_are_typed_and_name_the_region_figure(make_agency, session_as, gql):
    token, [tianjin] = await _setup(make_agency, session_as, gql, "tianjin")
    body = await gql(ADD, {"input": add_input(tianjin, resident_id(), monthlyBase="3000")}, token=token, lang="en")
    errors = body["declareAdd"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("BASE_BELOW_FLOOR", "monthlyBase")]
    assert "5013" in errors[0]["message"] and "2024-07" in errors[0]["message"]


async def test_tianjin_wants_an_add_before_a_back_payment(make_agency, session_as, gql):
    token, [tianjin] = await _setup(make_agency, session_as, gql, "tianjin")
    person = resident_id()
    back = {
        "companyId": tianjin,
        "idNumber": person,
        "fromMonth": "2026-02",
        "toMonth": "2026-03",
        "monthlyBase": "6000",
    }
    refused = (await gql(BACK, {"input": back}, token=token))["declareBackPayment"]["errors"]
    assert [e["code"] for e in refused] == ["ADD_BEFORE_BACK_PAYMENT"]
    add = (await gql(ADD, {"input": add_input(tianjin, person)}, token=token))["declareAdd"]
    await _approved(gql, token, add["declaration"]["id"])
    accepted = (await gql(BACK, {"input": back}, token=token))["declareBackPayment"]
    assert accepted["errors"] == [] and accepted["declaration"]["month"] == "2026-02"


async def test_leshan_refuses_a_person_insured_elsewhere_and_asks_part_time_papers(make_agency, session_as, gql):
    token, [tianjin, leshan] = await _setup(make_agency, session_as, gql, "tianjin", "leshan")
    person = resident_id()
    add = (await gql(ADD, {"input": add_input(tianjin, person)}, token=token))["declareAdd"]
    await _approved(gql, token, add["declaration"]["id"])
    elsewhere = (await gql(ADD, {"input": add_input(leshan, person)}, token=token))["declareAdd"]["errors"]
    assert [(e["code"], e["field"]) for e in elsewhere] == [("INSURED_ELSEWHERE", "idNumber")]
    part_time = await gql(ADD, {"input": add_input(leshan, resident_id(), employmentForm="part_time")}, token=token)
    draft = part_time["declareAdd"]["declaration"]  # drafted, saying what to attach before submitting
    assert part_time["declareAdd"]["errors"] == [] and any("非全日制劳动合同" in n["zh"] for n in draft["notices"])
    submitted = (await gql(SUBMIT, {"ids": [draft["id"]]}, token=token))["submitDeclarations"]
    assert submitted["errors"] == [{"code": "ATTACHMENT_REQUIRED", "field": "ids.0.attachments"}]


async def test_guiyang_rolls_back_an_approved_back_payment(make_agency, session_as, gql):
    token, [guiyang] = await _setup(make_agency, session_as, gql, "guiyang")
    person = resident_id()
    add = (await gql(ADD, {"input": add_input(guiyang, person, startMonth="2026-06")}, token=token))["declareAdd"]
    await _approved(gql, token, add["declaration"]["id"])
    back = {
        "companyId": guiyang,
        "idNumber": person,
        "fromMonth": "2026-03",
        "toMonth": "2026-05",
        "monthlyBase": "5000",
    }
    declared = (await gql(BACK, {"input": back}, token=token))["declareBackPayment"]
    await _approved(gql, token, declared["declaration"]["id"])
    rollback = await gql(
        ROLLBACK, {"input": {"companyId": guiyang, "targetId": declared["declaration"]["id"]}}, token=token
    )
    assert rollback["declareRollback"]["errors"] == []
    await _approved(gql, token, rollback["declareRollback"]["declaration"]["id"])
    target = await gql(
        "query($id:ID!){ declaration(id:$id){ status } }", {"id": declared["declaration"]["id"]}, token=token
    )
    assert target["declaration"]["status"] == "ROLLED_BACK"


async def test_yearly_base_changes_are_all_or_nothing(make_agency, session_as, gql):
    token, [yunnan] = await _setup(make_agency, session_as, gql, "yunnan.kunming")
    people = [resident_id() for _ in range(3)]
    for person in people:
        given = add_input(yunnan, person, startMonth="2026-01")
        add = (await gql(ADD, {"input": given}, token=token))["declareAdd"]
        await _approved(gql, token, add["declaration"]["id"])
    batch = (
        "mutation($input: DeclareBaseChangesInput!){ declareBaseChanges(input:$input)"
        "{ declarations { id } errors { code field } } }"
    )
    rows = [{"idNumber": p, "monthlyBase": "7000"} for p in people]
    rows[1]["monthlyBase"] = "100"
    refused = await gql(batch, {"input": {"companyId": yunnan, "changeMonth": "2026-07", "rows": rows}}, token=token)
    assert refused["declareBaseChanges"]["errors"] == [{"code": "BASE_BELOW_FLOOR", "field": "rows.1.monthlyBase"}]
    listed = await gql("{ declarations(filter:{kind:BASE_CHANGE}){ totalCount } }", token=token)
    assert listed["declarations"]["totalCount"] == 0
    rows[1]["monthlyBase"] = "7500"
    done = await gql(batch, {"input": {"companyId": yunnan, "changeMonth": "2026-07", "rows": rows}}, token=token)
    assert done["declareBaseChanges"]["errors"] == [] and len(done["declareBaseChanges"]["declarations"]) == 3


UPDATE = f"mutation($input: UpdateDeclarationInput!){{ updateDeclaration(input:$input){{ {PAYLOAD} }} }}"


async def test_two_operators_editing_one_draft_the_second_gets_a_conflict(make_agency, session_as, gql):
    token, [fuzhou] = await _setup(make_agency, session_as, gql, "fujian.fuzhou")
    draft = (await gql(ADD, {"input": add_input(fuzhou, resident_id())}, token=token))["declareAdd"]["declaration"]
    first = {"id": draft["id"], "expectedVersion": draft["version"], "monthlyBase": "9000"}
    second = {"id": draft["id"], "expectedVersion": draft["version"], "monthlyBase": "9500"}
    won = (await gql(UPDATE, {"input": first}, token=token))["updateDeclaration"]
    assert won["errors"] == [] and won["declaration"]["monthlyBase"] == "9000.00"
    lost = (await gql(UPDATE, {"input": second}, token=token))["updateDeclaration"]
    assert lost["declaration"] is None and [e["code"] for e in lost["errors"]] == ["CONFLICT"]
    deleted = await gql(
        "mutation($id:ID!){ deleteDeclaration(id:$id){ deletedId errors { code } } }", {"id": draft["id"]}, token=token
    )
    assert deleted["deleteDeclaration"] == {"deletedId": draft["id"], "errors": []}


async def test_xiamen_tells_the_operator_about_non_local_hukou(make_agency, session_as, gql):
    token, [xiamen] = await _setup(make_agency, session_as, gql, "fujian.xiamen")
    local = (await gql(ADD, {"input": add_input(xiamen, resident_id())}, token=token))["declareAdd"]["declaration"]
    given = add_input(xiamen, resident_id(), householdType="nonlocal_rural", employmentForm="rural_worker")
    nonlocal_ = (await gql(ADD, {"input": given}, token=token))["declareAdd"]["declaration"]
    assert len(nonlocal_["notices"]) == len(local["notices"]) + 1


async def test_tianjin_refuses_a_stop_while_the_person_has_arrears(make_agency, session_as, gql):
    from shebao.platform.settlement import service as settlements
    from shebao.platform.tenancy.context import Actor

    a = await make_agency("gql-arrears")
    async with session_as(a.system) as s:
        company = await companies.create_company(s, company_values("tianjin"))
        await s.commit()
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    person = resident_id()
    add = (await gql(ADD, {"input": add_input(str(company.id), person, startMonth="2026-06")}, token=token))[
        "declareAdd"
    ]
    await _approved(gql, token, add["declaration"]["id"])
    async with session_as(Actor.system(a.id)) as s:
        [october] = await settlements.settle(s, company.id, settlements.Month(2026, 10), "no_change")
        await s.commit()
    stop = (
        "mutation($input: DeclareStopInput!){ declareStop(input:$input)"
        "{ declaration { id } errors { code field message } } }"
    )
    given = {"companyId": str(company.id), "idNumber": person, "stopMonth": "2026-12", "stopReason": "stop_payment"}
    refused = (await gql(stop, {"input": given}, token=token))["declareStop"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("ARREARS_BLOCK_STOP", "idNumber")]
    assert "欠缴" in refused["errors"][0]["message"]
    async with session_as(Actor.system(a.id)) as s:
        await settlements.mark_paid(s, october.id)
        await s.commit()
    accepted = (await gql(stop, {"input": given}, token=token))["declareStop"]
    assert accepted["errors"] == [] and accepted["declaration"]["id"]


async def test_yunnan_reviews_adds_and_leshan_approves_them_on_submission(make_agency, session_as, gql):
    token, [kunming, leshan] = await _setup(make_agency, session_as, gql, "yunnan.kunming", "leshan")
    statuses = {}
    for company in (kunming, leshan):
        add = (await gql(ADD, {"input": add_input(company, resident_id())}, token=token))["declareAdd"]
        submitted = (await gql(SUBMIT, {"ids": [add["declaration"]["id"]]}, token=token))["submitDeclarations"]
        statuses[company] = submitted["results"][0]["declaration"]["status"]
    assert statuses == {kunming: "SUBMITTED", leshan: "APPROVED"}


async def test_fuzhou_wants_an_add_before_a_back_payment_too(make_agency, session_as, gql):
    token, [fuzhou] = await _setup(make_agency, session_as, gql, "fujian.fuzhou")
    back = {
        "companyId": fuzhou,
        "idNumber": resident_id(),
        "fromMonth": "2026-02",
        "toMonth": "2026-02",
        "monthlyBase": "6000",
    }
    refused = (await gql(BACK, {"input": back}, token=token))["declareBackPayment"]["errors"]
    assert [e["code"] for e in refused] == ["ADD_BEFORE_BACK_PAYMENT"]
