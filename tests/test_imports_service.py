"""Staged imports of batch workbooks: upload → checked preview (with the database's facts) →
confirm, which drafts every valid row in one transaction or nothing; re-uploads never declare twice."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from shebao.platform.audit.models import AuditEntry
from shebao.platform.auth.permissions import Permission, Role
from shebao.platform.companies import service as companies
from shebao.platform.core.clock import today
from shebao.platform.core.month import Month
from shebao.platform.core.pagination import PageRequest
from shebao.platform.declarations import service as declarations
from shebao.platform.declarations.models import Declaration, DeclarationStatus
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.imports import service as imports
from shebao.platform.imports.models import ImportStatus, WorkbookImport
from shebao.platform.jobs.models import Job
from shebao.platform.jobs.runner import run_job
from shebao.platform.regions.api import DeclarationKind
from shebao.platform.settlement import service as settlements
from shebao.platform.tenancy.context import Actor
from tests.factories import company_values
from tests.test_workbooks_read import HEADER, person, rid, xlsx

pytestmark = pytest.mark.anyio
THIS_MONTH = str(Month(today().year, today().month))


def add_file(*rows, header=HEADER) -> bytes:
    return xlsx(("参保人员", [header, *rows]))


def good(seq: int, **over) -> list:
    return person(seq, month=THIS_MONTH, **over)


async def _run(sessionmaker, agency_id, job_id, storage) -> str:
    return await run_job(sessionmaker, agency_id, job_id, context={"storage": storage})


async def _upload(session_as, sessionmaker, storage, actor, data, **kw) -> WorkbookImport:
    async with session_as(actor) as s:
        started = await imports.upload(s, storage, data, "员工增加.xlsx", kw.pop("kind", "add"), **kw)
        await s.commit()
        job_id = started.job.id if started.job else None
        import_id = started.workbook_import.id
    if job_id is not None:
        assert await _run(sessionmaker, actor.agency_id, job_id, storage) == "succeeded"
    async with session_as(actor) as s:
        return await imports.get_import(s, import_id)


async def _confirm(session_as, sessionmaker, storage, actor, import_id, **kw) -> tuple[str, Job]:
    async with session_as(actor) as s:
        started = await imports.confirm(s, import_id, **kw)
        await s.commit()
        job_id = started.job.id
    status = await _run(sessionmaker, actor.agency_id, job_id, storage)
    async with session_as(actor) as s:
        return status, await s.scalar(select(Job).where(Job.id == job_id))


async def _drafts(session_as, actor, company_id) -> list[Declaration]:
    async with session_as(actor) as s:
        stmt = select(Declaration).where(Declaration.company_id == company_id).order_by(Declaration.id_number)
        return list((await s.scalars(stmt)).all())


@pytest.fixture
async def setting(make_agency, session_as):
    """A Tianjin company to import into, and a person already insured through another company."""
    a = await make_agency("imp")
    async with session_as(a.system) as s:
        here = await companies.create_company(s, company_values("tianjin"))
        elsewhere = await companies.create_company(s, company_values("tianjin"))
        add = {
            "id_number": rid(41),
            "name": "已参保",
            "household_type": "local_urban",
            "employment_form": "contract",
            "start_month": "2026-06",
            "monthly_base": "8000",
        }
        row = await declarations.create_declaration(s, elsewhere.id, DeclarationKind.ADD, add)
        await declarations.submit(s, [row.id])
        await declarations.approve(s, [row.id])
        await s.commit()
    return a, here, elsewhere


async def test_preview_counts_and_every_problem_with_the_database_facts(setting, session_as, sessionmaker, storage):
    a, here, _ = setting
    data = add_file(good(11), good(13, base="7000.50"), good(15), good(17, base="100"), good(41))
    row = await _upload(session_as, sessionmaker, storage, a.system, data, company_id=here.id)
    assert row.status is ImportStatus.READY
    assert row.summary == {
        "rows_read": 5,
        "rows_valid": 3,
        "rows_failed": 2,
        "head_count": 3,
        "total_wage": "19000.50",
    }
    by_row = {p["row"]: p for p in row.row_problems}
    assert (by_row[5]["code"], by_row[5]["column"], by_row[5]["letter"]) == ("BASE_BELOW_FLOOR", "申报工资", "F")
    assert by_row[5]["params"]["floor"] == "5013"
    # Insured through another company of the agency: a fact only the database knows.
    assert (by_row[6]["code"], by_row[6]["column"], by_row[6]["letter"]) == ("INSURED_ELSEWHERE", "证件号码", "A")
    assert by_row[6]["params"]["since"] == "2026-06"
    assert set(by_row) == {5, 6}
    # The error report gives the two failed rows back, each with its reason.
    report = load_workbook(io.BytesIO(storage.get(row.report_key)), read_only=True)
    sheet = report.worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    ids = [v[0] for v in values if v and v[0] in (rid(17), rid(41))]
    assert sorted(ids) == sorted([rid(17), rid(41)])
    reasons = {v[0]: v[-1] for v in values if v and v[0] in (rid(17), rid(41))}
    assert "5013" in reasons[rid(17)] and "测试单位" in reasons[rid(41)]


async def test_confirm_drafts_the_valid_rows_at_once_and_a_file_is_never_declared_twice(
    setting, session_as, sessionmaker, storage
):
    a, here, _ = setting
    data = add_file(good(11), good(13, name="钱七"), good(17, base="100"))
    row = await _upload(session_as, sessionmaker, storage, a.system, data, company_id=here.id)
    # Failed rows stop a confirmation unless the operator chooses to skip them.
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as refused:
            await imports.confirm(s, row.id)
    assert refused.value.code == ErrorCode.IMPORT_HAS_FAILED_ROWS
    status, job = await _confirm(session_as, sessionmaker, storage, a.system, row.id, skip_failed_rows=True)
    assert status == "succeeded" and job.result["declarations"] == 2
    drafts = await _drafts(session_as, a.system, here.id)
    assert [(d.id_number, d.status, d.monthly_base) for d in drafts] == [
        (rid(11), DeclarationStatus.DRAFT, Decimal("6000.00")),
        (rid(13), DeclarationStatus.DRAFT, Decimal("6000.00")),
    ]
    assert {d.values["name"] for d in drafts} == {"员工11", "钱七"}
    assert all(d.idempotency_key.startswith(f"import:{row.id}:") for d in drafts)
    async with session_as(a.system) as s:
        logged = (await s.execute(select(AuditEntry.action, AuditEntry.entity_id, AuditEntry.after))).all()
    created = {entity: after for action, entity, after in logged if action == "declaration.create"}
    assert len(created) == 3 and {d.id for d in drafts} < set(created)  # and the fixture's own add
    assert created[drafts[0].id]["monthly_base"] == "6000.00" and created[drafts[0].id]["status"] == "draft"
    assert [entity for action, entity, _ in logged if action == "import.confirm"] == [row.id]
    # The same bytes again: refused, naming the earlier import.
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as again:
            await imports.upload(s, storage, data, "copy.xlsx", "add", company_id=here.id)
    assert again.value.code == ErrorCode.IMPORT_ALREADY_CONFIRMED
    assert again.value.problems[0].params["id"] == str(row.id)
    # The job delivered twice does not draft twice.
    assert (await _run(sessionmaker, a.id, job.id, storage)).startswith("not claimed")
    assert len(await _drafts(session_as, a.system, here.id)) == 2
    # Drafted rows are then submitted and approved like any declaration: the people get their
    # gender and birth date from the ID number.
    async with session_as(a.system) as s:
        outcomes = await declarations.submit(s, [d.id for d in drafts])
        await declarations.approve(s, [o.id for o in outcomes])
        await s.commit()
    async with session_as(a.system) as s:
        from shebao.platform.people.models import Person

        people = {p.id_number: p for p in await s.scalars(select(Person).where(Person.id_number.in_([rid(11)])))}
    assert people[rid(11)].gender.value == "male" and str(people[rid(11)].birth_date) == "1990-03-07"


async def test_uploading_the_same_file_before_confirming_answers_the_same_preview(
    setting, session_as, sessionmaker, storage
):
    a, here, _ = setting
    data = add_file(good(11))
    first = await _upload(session_as, sessionmaker, storage, a.system, data, company_id=here.id)
    async with session_as(a.system) as s:
        started = await imports.upload(s, storage, data, "again.xlsx", "add", company_id=here.id)
    assert started.workbook_import.id == first.id and started.job is None
    # Discarded, the same file can be checked anew.
    async with session_as(a.system) as s:
        await imports.discard(s, first.id)
        await s.commit()
    second = await _upload(session_as, sessionmaker, storage, a.system, data, company_id=here.id)
    assert second.id != first.id and second.status is ImportStatus.READY


async def test_two_confirmations_at_once_make_one_set_of_drafts(setting, session_as, sessionmaker, storage):
    a, here, _ = setting
    row = await _upload(session_as, sessionmaker, storage, a.system, add_file(good(11), good(13)), company_id=here.id)

    async def confirm_once():
        async with session_as(a.system) as s:
            try:
                started = await imports.confirm(s, row.id)
                await s.commit()
                return started.job.id
            except ShebaoError as err:
                await s.rollback()
                return err.code

    outcomes = await asyncio.gather(*(confirm_once() for _ in range(4)))
    jobs = [o for o in outcomes if not isinstance(o, ErrorCode)]
    assert len(jobs) == 1 and set(outcomes) - set(jobs) <= {ErrorCode.IMPORT_NOT_READY, ErrorCode.CONFLICT}
    assert await _run(sessionmaker, a.id, jobs[0], storage) == "succeeded"
    assert len(await _drafts(session_as, a.system, here.id)) == 2


async def test_a_preview_overtaken_by_events_writes_nothing_and_shows_why(setting, session_as, sessionmaker, storage):
    a, here, _ = setting
    row = await _upload(session_as, sessionmaker, storage, a.system, add_file(good(11), good(13)), company_id=here.id)
    assert row.summary["rows_valid"] == 2
    # Meanwhile one of the people is declared by hand.
    async with session_as(a.system) as s:
        values = dict(zip(["id_number", "name"], good(13)[:2], strict=True))
        values |= {"household_type": "local_urban", "employment_form": "contract"}
        values |= {"start_month": THIS_MONTH, "monthly_base": "6000"}
        await declarations.create_declaration(s, here.id, DeclarationKind.ADD, values)
        await s.commit()
    status, job = await _confirm(session_as, sessionmaker, storage, a.system, row.id)
    assert status == "failed" and job.problems[0]["code"] == "IMPORT_PREVIEW_OUTDATED"
    assert len(await _drafts(session_as, a.system, here.id)) == 1  # only the one made by hand
    async with session_as(a.system) as s:
        again = await imports.get_import(s, row.id)
    assert again.status is ImportStatus.READY and again.summary["rows_valid"] == 1
    assert [(p["row"], p["code"]) for p in again.row_problems] == [(3, "DUPLICATE")]
    # Confirming what is still valid now works.
    status, job = await _confirm(session_as, sessionmaker, storage, a.system, row.id, skip_failed_rows=True)
    assert status == "succeeded" and job.result["declarations"] == 1


async def test_a_settled_month_fails_its_rows_in_the_preview(setting, session_as, sessionmaker, storage):
    a, _, elsewhere = setting
    async with session_as(a.system) as s:
        await settlements.settle(s, elsewhere.id, Month(2026, 6), "with_change")
        await s.commit()
    data = add_file(person(11, month="2026-06"))
    row = await _upload(session_as, sessionmaker, storage, a.system, data, company_id=elsewhere.id)
    assert [(p["row"], p["code"], p["column"]) for p in row.row_problems] == [(2, "MONTH_SETTLED", "参保年月")]
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as refused:
            await imports.confirm(s, row.id)
    assert refused.value.code == ErrorCode.IMPORT_NOTHING_VALID


async def test_a_rejected_file_imports_nothing(setting, session_as, sessionmaker, storage):
    a, here, _ = setting
    row = await _upload(session_as, sessionmaker, storage, a.system, b"name,id\n1,2\n", company_id=here.id)
    assert row.status is ImportStatus.REJECTED
    assert [p["code"] for p in row.problems] == ["WORKBOOK_CSV"]
    async with session_as(a.system) as s:
        with pytest.raises(ShebaoError) as refused:
            await imports.confirm(s, row.id)
    assert refused.value.code == ErrorCode.IMPORT_NOT_READY
    assert await _drafts(session_as, a.system, here.id) == []


async def test_agency_wide_files_name_their_companies(setting, session_as, sessionmaker, storage):
    a, here, elsewhere = setting
    header = ["参保单位", *HEADER]
    data = add_file(
        [here.credit_code, *good(11)],
        [elsewhere.name, *good(13)],
        ["没有这家单位", *good(15)],
        header=header,
    )
    row = await _upload(session_as, sessionmaker, storage, a.system, data, region_code="tianjin")
    assert row.company_id is None and row.summary["rows_valid"] == 2
    assert [(p["row"], p["code"], p["letter"]) for p in row.row_problems] == [(4, "WORKBOOK_UNKNOWN_COMPANY", "A")]
    status, _ = await _confirm(session_as, sessionmaker, storage, a.system, row.id, skip_failed_rows=True)
    assert status == "succeeded"
    assert [d.id_number for d in await _drafts(session_as, a.system, here.id)] == [rid(11)]
    assert rid(13) in [d.id_number for d in await _drafts(session_as, a.system, elsewhere.id)]
    # An operator limited to some companies cannot send an agency-wide file.
    scoped = Actor(
        agency_id=a.id,
        user_id=None,
        token_id=None,
        role=Role.OPERATOR,
        permissions=frozenset({Permission.DECLARATIONS_WRITE, Permission.PERSONS_READ}),
        company_ids=frozenset({here.id}),
    )
    async with session_as(scoped) as s:
        with pytest.raises(ShebaoError) as refused:
            await imports.upload(s, storage, data, "all.xlsx", "add", region_code="tianjin")
        assert refused.value.code == ErrorCode.AGENCY_WIDE_ONLY
        # ...and sees neither the other company's imports nor agency-wide ones.
        with pytest.raises(ShebaoError) as hidden:
            await imports.get_import(s, row.id)
        assert hidden.value.code == ErrorCode.NOT_FOUND


async def test_bad_requests_are_refused_before_anything_is_kept(setting, session_as, storage):
    a, here, _ = setting
    async with session_as(a.system) as s:
        for kwargs, code in (
            ({"company_id": here.id, "data": b""}, ErrorCode.WORKBOOK_EMPTY_FILE),
            ({"data": b"x"}, ErrorCode.REQUIRED),
            ({"company_id": here.id, "data": b"x", "kind": "nonsense"}, ErrorCode.INVALID_VALUE),
            ({"company_id": here.id, "data": b"x", "region_code": "fujian"}, ErrorCode.INVALID_VALUE),
        ):
            data, kind = kwargs.pop("data"), kwargs.pop("kind", "add")
            with pytest.raises(ShebaoError) as refused:
                await imports.upload(s, storage, data, "f.xlsx", kind, **kwargs)
            assert refused.value.code == code
        assert await s.scalar(select(func.count(WorkbookImport.id))) == 0
    assert not (storage.root / "imports").exists()


async def test_another_agency_sees_nothing(setting, make_agency, session_as, sessionmaker, storage):
    a, here, _ = setting
    row = await _upload(session_as, sessionmaker, storage, a.system, add_file(good(11)), company_id=here.id)
    b = await make_agency("imp-other")
    async with session_as(b.system) as s:
        for call in (imports.get_import, imports.confirm, imports.discard, imports.recheck):
            with pytest.raises(ShebaoError) as refused:
                await call(s, row.id)
            assert refused.value.code == ErrorCode.NOT_FOUND
        page = await imports.list_imports(s, PageRequest())
        assert page.items == []


async def test_a_scoped_operator_gets_the_roster_of_their_own_company_only(setting, session_as):
    """The roster joins people to enrollments: the people's scope rule (an EXISTS over enrollments)
    must keep its own FROM, not correlate with the roster's."""
    a, here, elsewhere = setting
    from shebao.platform.imports import templates

    scoped = Actor(
        agency_id=a.id,
        role=Role.OPERATOR,
        permissions=frozenset({Permission.PERSONS_READ}),
        company_ids=frozenset({elsewhere.id}),
    )
    async with session_as(scoped) as s:
        data, name = await templates.base_change_roster(s, elsewhere.id, Month(2026, 7))
        with pytest.raises(ShebaoError) as hidden:
            await templates.base_change_roster(s, here.id, Month(2026, 7))
    assert hidden.value.code == ErrorCode.NOT_FOUND
    rows = list(load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    assert [r[0] for r in rows[1:] if r[0]] == [rid(41)] and name.endswith("_2026-07.xlsx")


async def test_a_file_lost_from_the_store_fails_the_check_with_a_clear_code(setting, session_as, sessionmaker, storage):
    a, here, _ = setting
    async with session_as(a.system) as s:
        started = await imports.upload(s, storage, add_file(good(11)), "f.xlsx", "add", company_id=here.id)
        await s.commit()
    storage.delete(started.workbook_import.storage_key)
    assert await _run(sessionmaker, a.id, started.job.id, storage) == "failed"
    async with session_as(a.system) as s:
        job = await s.scalar(select(Job).where(Job.id == started.job.id))
    assert job.problems == [{"code": "NOT_FOUND", "field": "file", "params": {"entity": "上传的文件 / uploaded file"}}]
