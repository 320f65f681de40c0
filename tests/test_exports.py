"""Workbook exports from the database (roster, payments, settlement lines, declaration history) as
durable jobs: each one's content read back with openpyxl against the rows created (amounts to the
cent, Chinese text, a formula-looking name kept as text), the job over GraphQL and the download over
HTTP, tenancy and the company scope, the argument checks, and a few thousand rows streamed.
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, insert, select
from stdnum.cn import ric

from shebao.platform.auth.permissions import Permission, Role
from shebao.platform.auth.users import UserInput, create_user
from shebao.platform.companies import service as companies
from shebao.platform.core.clock import SHANGHAI, today
from shebao.platform.core.month import Month
from shebao.platform.declarations import service as declarations
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.exports.jobs import request_export
from shebao.platform.jobs import service as jobs
from shebao.platform.jobs.models import Job
from shebao.platform.jobs.runner import run_job
from shebao.platform.people import service as people
from shebao.platform.people.models import Enrollment, Person
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.regions.registry import registry
from shebao.platform.settlement.basis import explain
from shebao.platform.settlement.models import Settlement, SettlementLine
from shebao.platform.tenancy.context import Actor
from tests.factories import company_values, resident_id
from tests.test_documents_gather import _add, build_scenario

pytestmark = pytest.mark.anyio
SEP, OCT, NOV, DEC = Month(2026, 9), Month(2026, 10), Month(2026, 11), Month(2026, 12)
CENT = Decimal("0.01")
TIANJIN_KINDS = "养老保险、基本医疗保险、失业保险、工伤保险、大额医疗救助"
FORMULA_NAME = '=HYPERLINK("http://x","点我")'


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def read_sheet(data: bytes) -> tuple[list[str], list[dict], object]:
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[0])
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:]], ws


async def run_export(session_as, sessionmaker, storage, actor, kind, **arguments):
    """Request as ``actor``, run the job as a worker would, and read the stored workbook back."""
    async with session_as(actor) as s:
        job = await request_export(s, kind, **arguments)
        await s.commit()
    assert await run_job(sessionmaker, actor.agency_id, job.id, context={"storage": storage}) == "succeeded"
    async with session_as(actor) as s:
        job = await jobs.get_job(s, job.id)
    data = storage.get(job.result["key"])
    assert job.result["size"] == len(data) and job.result["key"] == f"exports/{actor.agency_id}/{job.id}.xlsx"
    assert (job.done, job.total) == (job.result["rows"], job.result["rows"])
    return job, data


async def _scenario_with_extras(s):
    """build_scenario's company plus a base change from December and a part-time person whose name
    a spreadsheet would take for a formula."""
    sc = await build_scenario(s, "tianjin")
    person = await people.register_person(s, resident_id("19990101", female=True), FORMULA_NAME)
    await people.enroll(
        s,
        person_id=person.id,
        company_id=sc.company.id,
        start_month=DEC,
        household_type="local_urban",
        employment_form="part_time",
        monthly_base="6000.00",
    )
    change = {"id_number": sc.people["a"][1], "change_month": "2026-12", "monthly_base": "9123.45"}
    row = await declarations.create_declaration(s, sc.company.id, DeclarationKind.BASE_CHANGE, change)
    await declarations.submit(s, [row.id])
    await declarations.approve(s, [row.id])
    await s.commit()
    return sc, person


async def test_the_roster_shows_each_month_s_people_bases_and_kinds(make_agency, session_as, sessionmaker, storage):
    a = await make_agency("exp-roster")
    async with session_as(a.system) as s:
        sc, part_timer = await _scenario_with_extras(s)
    (a_name, a_id), (b_name, b_id), (_c_name, c_id) = (sc.people[k] for k in "abc")

    job, data = await run_export(
        session_as, sessionmaker, storage, a.system, "roster", company_id=sc.company.id, month_from=OCT
    )
    header, rows, ws = read_sheet(data)
    assert header[:4] == ["参保单位", "统一社会信用代码", "姓名", "公民身份号码"] and "参保险种" in header
    assert job.result["filename"] == f"花名册_{sc.company.name}_2026-10.xlsx" and job.result["rows"] == 2
    assert [r["姓名"] for r in rows] == [n for n, _ in sorted([(a_name, a_id), (b_name, b_id)], key=lambda p: p[1])]
    first = next(r for r in rows if r["公民身份号码"] == a_id)
    assert first["参保单位"] == sc.company.name and first["性别"] == ("男" if int(a_id[16]) % 2 else "女")
    assert first["出生日期"].date() == date(1988, 5, 12) and first["户口性质"] == "本市城镇"
    assert (first["参保险种"], first["参保年月"], first["参保状态"]) == (TIANJIN_KINDS, "2026-09", "参保中")
    assert money(first["月缴费基数"]) == Decimal("8000.00") and first["基数起始年月"] == "2026-09"
    stopping = next(r for r in rows if r["公民身份号码"] == b_id)  # stopped from November: paid to October
    assert (stopping["缴费截止年月"], stopping["参保状态"], stopping["性别"]) == ("2026-10", "已申报减员", "女")
    base_cell = ws.cell(row=2, column=header.index("月缴费基数") + 1)
    assert base_cell.number_format == "0.00" and base_cell.data_type == "n"

    _, data = await run_export(
        session_as, sessionmaker, storage, a.system, "roster", company_id=sc.company.id, month_from=DEC
    )
    header, rows, ws = read_sheet(data)
    by_id = {r["公民身份号码"]: r for r in rows}
    assert set(by_id) == {a_id, c_id, part_timer.id_number}
    assert money(by_id[a_id]["月缴费基数"]) == Decimal("9123.45") and by_id[a_id]["基数起始年月"] == "2026-12"
    assert money(by_id[c_id]["月缴费基数"]) == Decimal("7200.00")
    odd = by_id[part_timer.id_number]
    assert odd["姓名"] == FORMULA_NAME and odd["参保险种"] == "工伤保险" and odd["用工形式"] == "非全日制"
    name_cell = ws.cell(row=[r["姓名"] for r in rows].index(FORMULA_NAME) + 2, column=3)
    assert name_cell.data_type == "s" and name_cell.quotePrefix
    assert "<f>" not in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()


async def test_payments_over_a_month_range_match_the_settlement_lines(make_agency, session_as, sessionmaker, storage):
    a = await make_agency("exp-pay")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "tianjin")
        stmt = (
            select(SettlementLine, Settlement.month, Person.id_number)
            .join(Settlement, Settlement.id == SettlementLine.settlement_id)
            .join(Person, Person.id == SettlementLine.person_id)
        )
        lines = list(await s.execute(stmt))
    job, data = await run_export(
        session_as, sessionmaker, storage, a.system, "payments", company_id=sc.company.id, month_from=OCT, month_to=NOV
    )
    header, rows, ws = read_sheet(data)
    assert job.result["rows"] == len(lines) == len(rows) and job.result["filename"].endswith("_2026-10_2026-11.xlsx")
    expected = {
        (str(m), idn, str(ln.month), ln.kind): (ln.base_used, ln.employer_amount, ln.employee_amount, ln.late_fee)
        for ln, m, idn in lines
    }
    got = {}
    kinds = {k.label_zh: k.kind.value for k in registry().get("tianjin").kinds}
    for r in rows:
        key = (r["结算月份"], r["公民身份号码"], r["费款所属期"], kinds[r["险种"]])
        got[key] = (money(r["缴费基数"]), money(r["单位缴费"]), money(r["个人缴费"]), money(r["滞纳金"]))
        assert money(r["合计"]) == sum(got[key][1:])
        assert r["缴费状态"] == ("已缴费" if r["结算月份"] == "2026-10" else "未缴费")
        assert r["补缴"] == ("是" if r["费款所属期"] in ("2026-07", "2026-08") else "否")
    assert got == expected
    assert any(v[3] > 0 for v in got.values())  # the back payment's late fees are there
    # Amounts are written as their exact decimal text (openpyxl's "%.16g": exact to 15 digits, so to the fen).
    amount = next(ln.employer_amount for ln, _, _ in lines if ln.employer_amount != ln.employer_amount.to_integral())
    assert (
        f"<v>{format(amount.normalize(), 'f')}</v>"
        in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    )
    assert ws.cell(row=2, column=header.index("单位缴费") + 1).number_format == "0.00"

    job, data = await run_export(
        session_as, sessionmaker, storage, a.system, "payments", company_id=sc.company.id, month_from=OCT
    )
    assert {r["结算月份"] for r in read_sheet(data)[1]} == {"2026-10"}
    assert job.result["rows"] == sum(1 for _, m, _ in lines if m == OCT)


async def test_settlement_lines_carry_their_explanations(make_agency, session_as, sessionmaker, storage):
    a = await make_agency("exp-lines")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "tianjin")
        november = next(x for x in sc.settlements if x.month == NOV)
        lines = (await s.scalars(select(SettlementLine).where(SettlementLine.settlement_id == november.id))).all()
    job, data = await run_export(
        session_as, sessionmaker, storage, a.system, "settlement_lines", settlement_id=november.id
    )
    header, rows, _ = read_sheet(data)
    assert job.company_id == sc.company.id and len(rows) == november.line_count == len(lines)
    assert job.result["filename"] == f"结算明细_{sc.company.name}_2026-11.xlsx"
    texts = {"\n".join(explain(ln, november.basis)) for ln in lines}
    assert {r["计算说明"] for r in rows} == texts and all("→" in t for t in texts)
    assert sum(money(r["单位缴费"]) + money(r["个人缴费"]) + money(r["滞纳金"]) for r in rows) == november.total
    assert {r["补缴"] for r in rows} == {"是", "否"} and header[-1] == "计算说明"


async def test_declaration_history_says_who_did_what_and_when(make_agency, session_as, sessionmaker, storage):
    a = await make_agency("exp-decl")
    async with session_as(a.system) as s:
        company = await companies.create_company(s, company_values("tianjin"))
        reviewer = await create_user(
            s,
            UserInput(
                username="checker",
                display_name="审核员甲",
                password="Checker12345",
                permissions=[
                    Permission.DECLARATIONS_REVIEW.value,
                    Permission.PERSONS_READ.value,
                    Permission.PERSONS_WRITE.value,
                ],
            ),
        )
        await s.commit()
    clerk = Actor(a.id, user_id=a.admin_id, role=Role.ADMIN, permissions=frozenset(p.value for p in Permission))
    checker = Actor(a.id, user_id=reviewer.id, permissions=frozenset(reviewer.permissions))
    kept, refused = resident_id("19900202"), resident_id("19910303")
    async with session_as(clerk) as s:
        one = await declarations.create_declaration(
            s, company.id, DeclarationKind.ADD, _add(kept, "赵六", "7000", "2026-11")
        )
        two = await declarations.create_declaration(
            s, company.id, DeclarationKind.ADD, _add(refused, "=1+1", "7500.50", "2026-11", form="rural_worker")
        )
        await declarations.submit(s, [one.id, two.id])
        await s.commit()
    async with session_as(checker) as s:
        outcomes = [*await declarations.approve(s, [one.id]), *await declarations.reject(s, [two.id], "基数低于下限")]
        assert [o.error for o in outcomes] == [None, None]
        await s.commit()
    async with session_as(clerk) as s:
        change = {"id_number": kept, "change_month": "2026-12", "monthly_base": "8000"}
        await declarations.create_declaration(s, company.id, DeclarationKind.BASE_CHANGE, change)
        await s.commit()
    month = Month(today().year, today().month)
    job, data = await run_export(
        session_as,
        sessionmaker,
        storage,
        a.system,
        "declarations",
        company_id=company.id,
        month_from=month.add(-1),
        month_to=month,
    )
    _header, rows, _ = read_sheet(data)
    assert job.result["rows"] == 3 and [r["公民身份号码"] for r in rows] == [kept, refused, kept]
    added, rejected, drafted = rows
    assert (added["业务类型"], added["状态"], added["经办人"], added["审核人"]) == (
        "增员",
        "审核通过",
        "管理员",
        "审核员甲",
    )
    assert added["审核通过时间"] is not None and added["审核不通过时间"] is None and added["提交时间"] is not None
    assert (rejected["姓名"], rejected["状态"], rejected["不通过原因"]) == ("=1+1", "审核不通过", "基数低于下限")
    assert rejected["审核不通过时间"] is not None and rejected["审核通过时间"] is None
    assert money(rejected["申报工资"]) == Decimal("7500.50") and rejected["生效年月"] == "2026-11"
    assert rejected["其他申报内容"] == "户口性质：本市城镇；用工形式：农籍工；联系电话：13912345678"
    assert (drafted["业务类型"], drafted["状态"], drafted["提交时间"]) == ("基数申报", "待提交", None)
    async with session_as(a.system) as s:
        created = (await declarations.get_declaration(s, one.id)).created_at.astimezone(SHANGHAI).replace(tzinfo=None)
    assert abs(added["创建时间"] - created) < timedelta(seconds=1)
    # A range before any of them: an empty sheet, not an error.
    job, data = await run_export(
        session_as,
        sessionmaker,
        storage,
        a.system,
        "declarations",
        company_id=company.id,
        month_from=Month(2020, 1),
        month_to=Month(2020, 12),
    )
    assert job.result["rows"] == 0 and read_sheet(data)[1] == []


REQUEST = """mutation($input: RequestExportInput!){ requestExport(input:$input){
  job { id status kind params } errors { code field message } } }"""
POLL = """query($id:ID!){ job(id:$id){ status done total downloadUrl result errors { code } } }"""


async def _poll(gql, token, job_id: str) -> dict:
    for _ in range(600):
        state = (await gql(POLL, {"id": job_id}, token=token))["job"]
        if state["status"] in ("SUCCEEDED", "FAILED"):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {state}")


async def test_an_export_over_graphql_then_http_with_tenancy_scope_and_checks(make_agency, session_as, gql, app_client):
    a = await make_agency("exp-api")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "tianjin")
        other = await build_scenario(s, "tianjin", name="天津其他有限公司")
        await create_user(
            s,
            UserInput(
                username="clerk",
                display_name="经办人",
                password="Clerk12345",
                permissions=[Permission.PERSONS_READ.value],
                company_ids=[sc.company.id],
            ),
        )
        await s.commit()
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    given = {"kind": "PAYMENTS", "regionCode": "tianjin", "monthFrom": "2026-10", "monthTo": "2026-11"}
    answer = (await gql(REQUEST, {"input": given}, token=token))["requestExport"]
    assert answer["errors"] == [] and answer["job"]["kind"] == "export"
    assert answer["job"]["params"]["region_code"] == "tianjin" and answer["job"]["params"]["export"] == "payments"
    state = await _poll(gql, token, answer["job"]["id"])
    assert state["status"] == "SUCCEEDED", state
    response = await app_client.get(state["downloadUrl"], headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.content.startswith(b"PK")
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    _, rows, _ = read_sheet(response.content)
    assert {r["参保单位"] for r in rows} == {sc.company.name, other.company.name}
    assert len(rows) == state["result"]["rows"] == state["total"] == state["done"]

    # Another agency: neither the job nor its file exists for it.
    b = await make_agency("exp-other")
    intruder = await gql.login(b.code, b.admin_username, b.admin_password)
    assert (await gql(POLL, {"id": answer["job"]["id"]}, token=intruder))["job"] is None
    denied = await app_client.get(state["downloadUrl"], headers={"Authorization": f"Bearer {intruder}"})
    assert denied.status_code == 404

    # A company-scoped operator: their company yes; another company, or a whole region, no.
    clerk = await gql.login(a.code, "clerk", "Clerk12345")
    own = {"kind": "ROSTER", "companyId": str(sc.company.id), "monthFrom": "2026-10"}
    mine = (await gql(REQUEST, {"input": own}, token=clerk))["requestExport"]
    assert mine["errors"] == []
    assert (await _poll(gql, clerk, mine["job"]["id"]))["status"] == "SUCCEEDED"
    refused = {
        "NOT_FOUND": {**own, "companyId": str(other.company.id)},
        "AGENCY_WIDE_ONLY": {"kind": "ROSTER", "regionCode": "tianjin", "monthFrom": "2026-10"},
    }
    for code, given in refused.items():
        errors = (await gql(REQUEST, {"input": given}, token=clerk))["requestExport"]["errors"]
        assert [e["code"] for e in errors] == [code], errors
    # The admin's download of the clerk's export works; the clerk cannot see the admin's region export.
    assert (await gql(POLL, {"id": answer["job"]["id"]}, token=clerk))["job"] is None
    hidden = await app_client.get(state["downloadUrl"], headers={"Authorization": f"Bearer {clerk}"})
    assert hidden.status_code == 404

    # Bad arguments: typed, on their field, and nothing recorded.
    async with session_as(a.system) as s:
        before = await s.scalar(select(func.count()).select_from(Job))
    settlement = str(sc.settlements[0].id)
    for given, expected in (
        ({"kind": "ROSTER", "companyId": str(sc.company.id)}, [("REQUIRED", "monthFrom")]),
        ({**own, "settlementId": settlement}, [("EXPORT_ARGUMENT_UNUSED", "settlementId")]),
        ({**own, "monthTo": "2026-11"}, [("EXPORT_ARGUMENT_UNUSED", "monthTo")]),
        ({**own, "regionCode": "tianjin"}, [("EXPORT_SCOPE_REQUIRED", "regionCode")]),
        ({"kind": "PAYMENTS", "monthFrom": "2026-10"}, [("EXPORT_SCOPE_REQUIRED", "companyId")]),
        (
            {"kind": "PAYMENTS", "companyId": str(sc.company.id), "monthFrom": "2026-10", "monthTo": "2026-09"},
            [("MONTH_ORDER", "monthTo")],
        ),
        (
            {"kind": "DECLARATIONS", "regionCode": "atlantis", "monthFrom": "2026-10"},
            [("UNKNOWN_REGION", "regionCode")],
        ),
        ({"kind": "SETTLEMENT_LINES"}, [("REQUIRED", "settlementId")]),
        (
            {"kind": "SETTLEMENT_LINES", "settlementId": settlement, "companyId": str(sc.company.id)},
            [("EXPORT_ARGUMENT_UNUSED", "companyId")],
        ),
        ({"kind": "SETTLEMENT_LINES", "settlementId": "not-an-id"}, [("NOT_FOUND", "settlementId")]),
    ):
        errors = (await gql(REQUEST, {"input": given}, token=token, lang="en"))["requestExport"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == expected, (given, errors)
        assert all(e["message"] for e in errors)
    async with session_as(a.system) as s:
        assert await s.scalar(select(func.count()).select_from(Job)) == before


def _id_numbers(count: int) -> list[str]:
    out, day = [], date(1980, 1, 1)
    while len(out) < count:
        for seq in range(0, 1000, 7):
            body = f"120101{day:%Y%m%d}{seq:03d}"
            out.append(body + ric.calc_check_digit(body + "0"))
        day += timedelta(days=1)
    return out[:count]


async def test_a_few_thousand_rows_are_streamed_and_counted(make_agency, session_as, sessionmaker, storage):
    a = await make_agency("exp-big")
    count = 3000
    async with session_as(a.system) as s:
        company = await companies.create_company(s, company_values("tianjin", name="天津大型有限公司"))
        await s.commit()
        persons = [
            {
                "agency_id": a.id,
                "id": uuid.uuid4(),
                "id_number": idn,
                "name": f"职工{n:05d}",
                "gender": "male" if int(idn[16]) % 2 else "female",
                "birth_date": date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14])),
            }
            for n, idn in enumerate(_id_numbers(count))
        ]
        await s.execute(insert(Person), persons)
        await s.execute(
            insert(Enrollment),
            [
                {
                    "agency_id": a.id,
                    "person_id": p["id"],
                    "company_id": company.id,
                    "region_code": "tianjin",
                    "start_month": SEP,
                    "household_type": "local_urban",
                    "employment_form": "contract",
                    "monthly_base": Decimal("6543.21"),
                }
                for p in persons
            ],
        )
        await s.commit()
    b = await make_agency("exp-big-other")  # another agency's people in the same region stay out
    async with session_as(b.system) as s:
        await build_scenario(s, "tianjin")
    job, data = await run_export(
        session_as, sessionmaker, storage, a.system, "roster", region_code="tianjin", month_from=OCT
    )
    assert job.result["rows"] == count == job.total == job.done
    ws = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == count and rows[0][2] == "职工00000" and money(rows[-1][9]) == Decimal("6543.21")
    assert {r[0] for r in rows} == {"天津大型有限公司"}


async def test_an_unknown_kind_and_an_unfinished_job_s_file_are_typed_refusals(make_agency, session_as, storage):
    a = await make_agency("exp-kind")
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as refused:
            await request_export(s, "payslips", month_from=OCT)
        assert (refused.value.code, refused.value.problems[0].field) == (ErrorCode.INVALID_VALUE, "kind")
        company = await companies.create_company(s, company_values("tianjin"))
        job = await request_export(s, "roster", company_id=company.id, month_from=OCT)
        with pytest.raises(ShebaoError) as early:  # queued: no file yet
            await jobs.job_file(s, job.id)
        assert early.value.code is ErrorCode.DOCUMENT_NOT_READY
