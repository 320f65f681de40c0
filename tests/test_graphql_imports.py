"""Batch workbooks over HTTP and GraphQL: download the template, upload it filled, read the preview,
get the error report, confirm; templates and the base-change roster; tenancy on every endpoint."""

from __future__ import annotations

import asyncio
import io

import pytest
from openpyxl import load_workbook

from shebao.platform.companies import service as companies
from shebao.platform.declarations import service as declarations
from shebao.platform.regions.api import DeclarationKind
from tests.factories import company_values
from tests.test_imports_service import add_file, good
from tests.test_workbooks_read import rid

pytestmark = pytest.mark.anyio

PREVIEW = """query($id:ID!){ workbookImport(id:$id){ id status kind regionCode filename sha256 declarations
  summary { rowsRead rowsValid rowsFailed headCount totalWage }
  rowProblems(first: 10) { row column letter field code message }
  fileErrors { code message } notices errorReportUrl job { status kind } } }"""


async def _poll(gql, token, import_id, until=("READY", "REJECTED", "CONFIRMED")):
    for _ in range(300):
        state = (await gql(PREVIEW, {"id": import_id}, token=token))["workbookImport"]
        if state["status"] in until and state["job"]["status"] in ("SUCCEEDED", "FAILED"):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(state)


async def _setup(make_agency, session_as, gql):
    a = await make_agency("gimp")
    async with session_as(a.system) as s:
        company = await companies.create_company(s, company_values("tianjin"))
        await s.commit()
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    return a, company, token


async def test_upload_preview_report_and_confirm(make_agency, session_as, gql, app_client):
    _, company, token = await _setup(make_agency, session_as, gql)
    auth = {"Authorization": f"Bearer {token}"}
    # The template comes first: its header is what the operator fills in.
    template = await app_client.get("/templates/tianjin/add", headers=auth)
    assert template.status_code == 200, template.text
    assert template.headers["content-type"].startswith("application/vnd.openxmlformats")
    header = [c.value for c in next(load_workbook(io.BytesIO(template.content)).worksheets[0].iter_rows())]
    assert header == ["*证件号码", "*姓名", "*户口性质", "*用工范围", "*参保年月", "*申报工资", "联系电话"]

    data = add_file(good(11), good(13, base="7000"), good(17, base="100"))
    files = {"file": ("增员.xlsx", data)}
    form = {"kind": "add", "companyId": str(company.id)}
    assert (await app_client.post("/imports", files=files, data=form)).status_code == 401
    sent = await app_client.post("/imports", files=files, data=form, headers=auth)
    assert sent.status_code == 202, sent.text
    state = await _poll(gql, token, sent.json()["id"])
    assert state["status"] == "READY" and state["kind"] == "ADD" and state["filename"] == "增员.xlsx"
    assert state["summary"] == {"rowsRead": 3, "rowsValid": 2, "rowsFailed": 1, "headCount": 2, "totalWage": "13000.00"}
    [problem] = state["rowProblems"]
    assert (problem["row"], problem["column"], problem["letter"], problem["code"]) == (
        4,
        "申报工资",
        "F",
        "BASE_BELOW_FLOOR",
    )
    assert "5013" in problem["message"]
    report = await app_client.get(state["errorReportUrl"], headers=auth)
    assert report.status_code == 200
    rows = list(load_workbook(io.BytesIO(report.content)).worksheets[0].iter_rows(values_only=True))
    assert [r[0] for r in rows[1:] if r[0]] == [rid(17)]

    confirm = """mutation($id:ID!,$skip:Boolean!){ confirmWorkbookImport(id:$id, skipFailedRows:$skip){
      workbookImport { status } job { id kind } errors { code field message } } }"""
    refused = await gql(confirm, {"id": state["id"], "skip": False}, token=token)
    assert refused["confirmWorkbookImport"]["errors"][0]["code"] == "IMPORT_HAS_FAILED_ROWS"
    done = await gql(confirm, {"id": state["id"], "skip": True}, token=token)
    assert done["confirmWorkbookImport"]["errors"] == []
    assert done["confirmWorkbookImport"]["job"]["kind"] == "workbook_confirm"
    final = await _poll(gql, token, state["id"], until=("CONFIRMED",))
    assert final["declarations"] == 2
    drafts = await gql(
        "query($c:ID!){ declarations(filter:{companyId:$c, status:DRAFT}){ totalCount } }",
        {"c": str(company.id)},
        token=token,
    )
    assert drafts["declarations"]["totalCount"] == 2
    # The same file again is refused: nothing is declared twice.
    again = await app_client.post("/imports", files=files, data=form, headers=auth)
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "IMPORT_ALREADY_CONFIRMED"
    listed = await gql("{ workbookImports { totalCount nodes { id status } } }", token=token)
    assert listed["workbookImports"]["nodes"] == [{"id": state["id"], "status": "CONFIRMED"}]


async def test_a_rejected_upload_and_bad_requests(make_agency, session_as, gql, app_client):
    _, company, token = await _setup(make_agency, session_as, gql)
    auth = {"Authorization": f"Bearer {token}"}
    sent = await app_client.post(
        "/imports",
        files={"file": ("名单.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)},
        data={"kind": "add", "companyId": str(company.id)},
        headers=auth,
    )
    state = await _poll(gql, token, sent.json()["id"])
    assert state["status"] == "REJECTED" and state["summary"]["rowsRead"] == 0
    assert state["fileErrors"][0]["code"] == "WORKBOOK_OLD_XLS" and ".xls" in state["fileErrors"][0]["message"]
    discard = await gql(
        "mutation($id:ID!){ discardWorkbookImport(id:$id){ workbookImport { status } errors { code } } }",
        {"id": state["id"]},
        token=token,
    )
    assert discard["discardWorkbookImport"]["workbookImport"]["status"] == "DISCARDED"
    for form, code in (
        ({"companyId": str(company.id)}, "REQUIRED"),
        ({"kind": "add"}, "REQUIRED"),
        ({"kind": "add", "companyId": "not-an-id"}, "NOT_FOUND"),
    ):
        bad = await app_client.post("/imports", files={"file": ("a.xlsx", b"x")}, data=form, headers=auth)
        assert bad.json()["errors"][0]["code"] == code, (form, bad.text)
    missing = await app_client.get("/templates/tianjin/nonsense", headers=auth)
    assert missing.json()["errors"][0]["code"] == "INVALID_VALUE"


async def test_the_base_change_roster_round_trips(make_agency, session_as, gql, app_client):
    a, company, token = await _setup(make_agency, session_as, gql)
    auth = {"Authorization": f"Bearer {token}"}
    async with session_as(a.system) as s:
        for seq, base in ((21, "6000"), (23, "9000")):
            values = {"id_number": rid(seq), "name": f"员工{seq}", "household_type": "local_urban"}
            values |= {"employment_form": "contract", "start_month": "2026-06", "monthly_base": base}
            row = await declarations.create_declaration(s, company.id, DeclarationKind.ADD, values)
            await declarations.submit(s, [row.id])
            await declarations.approve(s, [row.id])
        await s.commit()
    roster = await app_client.get(f"/companies/{company.id}/base-roster", params={"month": "2026-07"}, headers=auth)
    assert roster.status_code == 200, roster.text
    sheet = load_workbook(io.BytesIO(roster.content)).worksheets[0]
    rows = [r for r in sheet.iter_rows(values_only=True)]
    by_id = {r[0]: r for r in rows[1:] if r[0]}
    assert set(by_id) == {rid(21), rid(23)}
    assert "2026-07" in [str(v) for v in by_id[rid(21)]]
    # Another agency sees no such company, and no import of this one.
    b = await make_agency("gimp-other")
    stranger = {"Authorization": f"Bearer {await gql.login(b.code, b.admin_username, b.admin_password)}"}
    hidden = await app_client.get(f"/companies/{company.id}/base-roster", params={"month": "2026-07"}, headers=stranger)
    assert hidden.status_code == 404
    sent = await app_client.post(
        "/imports",
        files={"file": ("f.xlsx", add_file(good(31)))},
        data={"kind": "add", "companyId": str(company.id)},
        headers=stranger,
    )
    assert sent.status_code == 404


def test_the_import_command(tmp_path, monkeypatch):
    """`shebao import` on the embedded default: the preview, the error report, confirm with the
    failed rows left out, and a refused file (exit 1, nothing stored)."""
    from click.testing import CliRunner
    from sqlalchemy import create_engine, text

    from shebao.graphql.cli import main

    db = tmp_path / "cli.db"
    monkeypatch.setenv("SHEBAO_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("SHEBAO_STORAGE_DIR", str(tmp_path / "files"))
    runner = CliRunner()
    assert runner.invoke(main, ["demo", "--no-serve"]).exit_code == 0
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        credit = conn.execute(text("SELECT credit_code FROM client_companies WHERE region_code='tianjin'")).scalar()
    path = tmp_path / "员工增加.xlsx"
    ids = [rid(seq, birth="19770707") for seq in (901, 902, 903)]  # nobody the demo agency has
    path.write_bytes(add_file(good(901, id=ids[0]), good(902, id=ids[1]), good(903, id=ids[2], base="abc")))
    base = ["import", str(path), "--agency", "demo", "--kind", "add", "--company", credit, "--lang", "en"]

    shown = runner.invoke(main, [*base, "--error-report", str(tmp_path / "report.xlsx")])
    assert shown.exit_code == 0, shown.output
    assert "ready" in shown.output and "rows read 3, valid 2, failed 1" in shown.output, shown.output
    assert "row 4 column F" in shown.output and "error report written" in shown.output
    report = load_workbook(tmp_path / "report.xlsx")
    assert report.worksheets[0]["A2"].value == ids[2]  # the failed row, to fix

    refused = runner.invoke(main, [*base, "--confirm"])  # the same file: answered, not checked again
    assert refused.exit_code != 0 and "uploaded before" in refused.output, refused.output
    assert "IMPORT_HAS_FAILED_ROWS" in refused.output
    done = runner.invoke(main, [*base, "--confirm", "--skip-failed-rows"])
    assert done.exit_code == 0 and "2 draft declarations" in done.output, done.output
    with engine.connect() as conn:
        drafts = conn.execute(text("SELECT count(*) FROM declarations WHERE idempotency_key LIKE 'import:%'"))
        assert drafts.scalar() == 2
    again = runner.invoke(main, [*base, "--confirm"])
    assert again.exit_code != 0 and "IMPORT_ALREADY_CONFIRMED" in again.output, again.output

    garbage = tmp_path / "broken.xlsx"
    garbage.write_bytes(b"PK\x03\x04 not really a workbook")
    broken = runner.invoke(main, ["import", str(garbage), "--agency", "demo", "--kind", "add", "--region", "tianjin"])
    assert broken.exit_code == 1 and "rejected" in broken.output and "file: WORKBOOK_" in broken.output, broken.output
    usage = runner.invoke(main, ["import", str(garbage), "--agency", "demo", "--kind", "add"])
    assert usage.exit_code == 2 and "--company" in usage.output
    engine.dispose()
