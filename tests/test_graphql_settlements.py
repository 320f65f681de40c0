"""Settlement through the GraphQL endpoint as an integrator meets it: preview, settle, the frozen
lines page by page with their explanations, typed refusals, roll back and payment, and a region
settled as a job polled to the end (in-process on the embedded default). Plus `shebao settle`."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from shebao.graphql.cli import main
from shebao.platform.companies import service as companies
from shebao.platform.declarations import service as declarations
from shebao.platform.regions.api import DeclarationKind
from tests.factories import company_values, resident_id

pytestmark = pytest.mark.anyio

SETTLEMENT = "id month mode kindScope status employerTotal employeeTotal lateFeeTotal total lineCount company { name }"
SETTLE = (
    "mutation($input: SettleInput!){ settle(input:$input){ settlements { "
    + SETTLEMENT
    + " } errors { code field message } } }"
)
LINES = """query($id:ID!, $after:String, $kind:String){ settlement(id:$id){ id
  lines(first: 4, after: $after, filter: {kind: $kind}){ totalCount pageInfo { hasNextPage endCursor }
    nodes { personId month kind baseDeclared baseUsed clamp employerRate employerAmount employeeRate employeeAmount
            employeeExemption lateFee explanation } } } }"""
PREVIEW = """query($company:ID!, $month: Month!){ settlementPreview(companyId:$company, month:$month){
  total employerTotal lineCount totalsByKind { kind employer employee }
  lines { personId month line { kind baseUsed clamp explanation } } } }"""


async def _company_with_people(make_agency, session_as, region="tianjin", bases=("5013", "30000")):
    a = await make_agency("gql-set")
    async with session_as(a.system) as s:
        company = await companies.create_company(s, company_values(region, industry_class=1, industry_grade=100))
        for base in bases:
            values = {
                "id_number": resident_id(),
                "name": "孙八",
                "household_type": "local_urban",
                "employment_form": "contract",
                "start_month": "2026-06",
                "monthly_base": base,
            }
            row = await declarations.create_declaration(s, company.id, DeclarationKind.ADD, values)
            await declarations.submit(s, [row.id])
            await declarations.approve(s, [row.id])
        await s.commit()
    return a, company


async def test_preview_settle_and_read_the_frozen_lines(make_agency, session_as, gql):
    a, company = await _company_with_people(make_agency, session_as)
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    cid = str(company.id)

    preview = (await gql(PREVIEW, {"company": cid, "month": "2026-10"}, token=token))["settlementPreview"]
    assert preview["lineCount"] == 10 and len(preview["lines"]) == 10
    clamped = [x for x in preview["lines"] if x["line"]["clamp"] == "ceiling"]
    assert len(clamped) == 5 and all("above the ceiling" in " ".join(x["line"]["explanation"]) for x in clamped)

    refused = (await gql(SETTLE, {"input": {"companyId": cid, "month": "2026-10"}}, token=token))["settle"]
    assert refused["settlements"] == [] and refused["errors"][0]["code"] == "UNKNOWN_MODE"  # Tianjin has two
    answer = await gql(SETTLE, {"input": {"companyId": cid, "month": "2026-10", "mode": "no_change"}}, token=token)
    [settled] = answer["settle"]["settlements"]
    assert settled["total"] == preview["total"] and settled["company"]["name"] == company.name
    assert (settled["mode"], settled["kindScope"], settled["status"]) == ("no_change", "all", "SETTLED")
    again = await gql(SETTLE, {"input": {"companyId": cid, "month": "2026-10", "mode": "with_change"}}, token=token)
    assert again["settle"]["errors"][0]["code"] == "ALREADY_SETTLED"

    # Ten lines, four a page; then only the pension lines.
    seen, after = [], None
    while True:
        page = (await gql(LINES, {"id": settled["id"], "after": after}, token=token))["settlement"]["lines"]
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 10 and page["totalCount"] == 10
    pension = (await gql(LINES, {"id": settled["id"], "kind": "pension"}, token=token))["settlement"]["lines"]
    assert pension["totalCount"] == 2
    high = next(x for x in pension["nodes"] if x["clamp"] == "ceiling")
    assert (high["baseDeclared"], high["baseUsed"], high["employerRate"]) == ("30000.00", "25065.00", "16")
    text = "\n".join(high["explanation"])
    assert "above the ceiling → 25065.00" in text and "employer: 16% from " in text and "rounding:" in text

    listed = await gql(
        'query($c:ID!){ settlements(filter:{companyId:$c, month:"2026-10"}){ totalCount nodes { id } } }',
        {"c": cid},
        token=token,
    )
    assert listed["settlements"]["totalCount"] == 1

    # Tianjin does not roll back; marking paid is once.
    paid_doc = "mutation($id:ID!){ markSettlementPaid(id:$id){ settlement { status paidAt } errors { code } } }"
    roll_doc = "mutation($id:ID!){ rollbackSettlement(id:$id){ settlement { status } errors { code } } }"
    rolled = (await gql(roll_doc, {"id": settled["id"]}, token=token))["rollbackSettlement"]
    assert rolled["errors"][0]["code"] == "ROLLBACK_NOT_ALLOWED"
    paid = (await gql(paid_doc, {"id": settled["id"]}, token=token))["markSettlementPaid"]
    assert paid["settlement"]["status"] == "PAID" and paid["settlement"]["paidAt"]
    twice = (await gql(paid_doc, {"id": settled["id"]}, token=token))["markSettlementPaid"]
    assert twice["errors"][0]["code"] == "ALREADY_PAID"


async def test_an_operator_without_settlement_permission_is_refused(make_agency, session_as, gql):
    a, company = await _company_with_people(make_agency, session_as, bases=("8000",))
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    created = await gql(
        'mutation{ createUser(input:{username:"viewer", displayName:"只读", password:"Viewer12345",'
        " permissions:[PERSONS_READ, COMPANIES_READ]}){ user { id } errors { code } } }",
        token=token,
    )
    assert created["createUser"]["errors"] == []
    viewer = await gql.login(a.code, "viewer", "Viewer12345")
    body = await gql(
        SETTLE,
        {"input": {"companyId": str(company.id), "month": "2026-10", "mode": "no_change"}},
        token=viewer,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


async def test_settle_a_region_as_a_job_and_poll_it(make_agency, session_as, gql):
    a, company = await _company_with_people(make_agency, session_as, region="guiyang", bases=("6000",))
    async with session_as(a.system) as s:
        await companies.create_company(s, company_values("guiyang"))  # nobody enrolled: refused
        await s.commit()
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    started = await gql(
        'mutation{ settleRegion(input:{regionCode:"guiyang", month:"2026-10"}){ job { id status kind params }'
        " errors { code } } }",
        token=token,
    )
    job = started["settleRegion"]["job"]
    assert started["settleRegion"]["errors"] == [] and job["kind"] == "settle_region"
    poll = """query($id:ID!){ job(id:$id){ status done total result errors { code }
        items { totalCount nodes { label outcome result errors { code message } } } } }"""
    for _ in range(200):
        state = (await gql(poll, {"id": job["id"]}, token=token))["job"]
        if state["status"] in ("SUCCEEDED", "FAILED"):
            break
        await asyncio.sleep(0.05)
    assert state["status"] == "SUCCEEDED" and (state["done"], state["total"]) == (2, 2), state
    outcomes = {n["label"]: n for n in state["items"]["nodes"]}
    assert outcomes[company.name]["outcome"] == "DONE"
    [refused] = [n for n in outcomes.values() if n["outcome"] == "REFUSED"]
    assert refused["errors"][0]["code"] == "NOTHING_TO_SETTLE" and "没有参保人员" in refused["errors"][0]["message"]
    jobs = await gql('query{ jobs(kind:"settle_region"){ totalCount nodes { id } } }', token=token)
    assert jobs["jobs"]["totalCount"] == 1

    bad = await gql(
        'mutation{ settleRegion(input:{regionCode:"guiyang", month:"2026-10", mode:"no_change"})'
        "{ job { id } errors { code field } } }",
        token=token,
    )
    assert bad["settleRegion"]["errors"] == [{"code": "UNKNOWN_MODE", "field": "mode"}]


def test_the_settle_command(tmp_path, monkeypatch):
    """`shebao settle` on the embedded default: preview a company, settle it, then the region."""
    monkeypatch.setenv("SHEBAO_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SHEBAO_STORAGE_DIR", str(tmp_path / "files"))
    runner = CliRunner()
    seeded = runner.invoke(main, ["demo", "--no-serve"])
    assert seeded.exit_code == 0, seeded.output
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        credit = conn.execute(text("SELECT credit_code FROM client_companies WHERE region_code='guiyang'")).scalar()
    engine.dispose()
    base = ["settle", "--agency", "demo", "--region", "guiyang", "--month", "2026-10"]
    shown = runner.invoke(main, [*base, "--company", credit, "--preview"])
    assert shown.exit_code == 0 and "preview (nothing stored)" in shown.output and "total" in shown.output
    done = runner.invoke(main, [*base, "--company", credit])
    assert done.exit_code == 0 and "settled " in done.output, done.output
    again = runner.invoke(main, [*base, "--company", credit])
    assert again.exit_code != 0 and "ALREADY_SETTLED" in again.output
    region = runner.invoke(main, ["settle", "--agency", "demo", "--region", "guiyang", "--month", "2026-09"])
    assert region.exit_code == 0 and "job succeeded" in region.output and "done" in region.output, region.output
    wrong = runner.invoke(main, [*base, "--company", "nope"])
    assert wrong.exit_code != 0 and "NOT_FOUND" in wrong.output
