"""A staged import end to end on PostgreSQL: upload, the check job (the preview with the database's
facts), the confirm job (every draft in one transaction), for a Tianjin add workbook.

    .venv/bin/python benchmarks/import_staged.py                 # 10,000 rows
    .venv/bin/python benchmarks/import_staged.py --rows 2000

A fresh database with one agency and one company; 1 person in 50 of the file is already insured
through another company of the agency (a fact only the database knows), so the preview has failed
rows, which the confirmation skips. Reported: each step's time, the queries the check ran, and the
process's peak resident set.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from settlement import _create_database, _drop_database


def _resident_id(k: int) -> str:
    from stdnum.cn import ric

    first = f"120101{1970 + k % 30}{1 + k % 12:02d}{1 + k % 28:02d}{k % 1000:03d}"
    return first + ric.calc_check_digit(first + "0")


def _workbook(rows: int, month: str) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("参保人员")
    ws.append(["证件号码", "姓名", "户口性质", "用工范围", "参保年月", "申报工资", "联系电话"])
    seen: set[str] = set()
    k = 0
    while len(seen) < rows:
        number = _resident_id(k)
        k += 1
        if number in seen:
            continue
        seen.add(number)
        ws.append([number, f"员工{k}", "本市城镇", "合同制", month, 6000 + k % 5000, "13800000000"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


async def _run(app_url: str, rows: int) -> dict:
    from sqlalchemy import event, func, select

    from shebao.platform.companies import service as companies
    from shebao.platform.core.clock import today
    from shebao.platform.core.month import Month
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.declarations import service as declarations
    from shebao.platform.declarations.models import Declaration
    from shebao.platform.demo import synthetic_credit_code
    from shebao.platform.imports import service as imports
    from shebao.platform.jobs.runner import run_job
    from shebao.platform.regions.api import DeclarationKind
    from shebao.platform.storage.local import LocalFolderStorage
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor
    from shebao.platform.tenancy.service import create_agency

    engine = make_engine(app_url)
    maker = make_sessionmaker(engine)
    queries = [0]
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: queries.__setitem__(0, queries[0] + 1))
    month = str(Month(today().year, today().month))
    async with maker() as s:
        new = await create_agency(s, "bench-import", "基准机构", "admin", "Bench-Password-123")
        await s.commit()
    actor = Actor.system(new.agency.id)
    rng = random.Random(7)

    def company(n: int) -> dict:
        return {
            "name": f"基准单位{n}有限公司",
            "credit_code": synthetic_credit_code(rng),
            "region_code": "tianjin",
            "legal_rep_name": "张建国",
            "legal_rep_id_number": _resident_id(999_000 + n),
            "contact_name": "李四",
            "contact_mobile": "13800138000",
            "bank_name": "中国工商银行天津分行",
            "bank_account": "6222020200112233",
            "bank_account_name": "基准单位",
            "industry_class": 2,
            "industry_grade": 100,
        }

    data = _workbook(rows, month)
    async with maker() as s:
        await bind_actor(s, actor)
        here = await companies.create_company(s, company(1))
        elsewhere = await companies.create_company(s, company(2))
        # 1 in 50 of the file's people already insured elsewhere in the agency.
        for k in range(0, rows, 50):
            values = {"id_number": _resident_id(k), "name": f"员工{k + 1}", "household_type": "local_urban"}
            values |= {"employment_form": "contract", "start_month": "2026-01", "monthly_base": "8000"}
            row = await declarations.create_declaration(s, elsewhere.id, DeclarationKind.ADD, values)
            await declarations.submit(s, [row.id])
            await declarations.approve(s, [row.id])
        await s.commit()
    out: dict = {"rows": rows, "file_bytes": len(data)}
    with tempfile.TemporaryDirectory() as folder:
        storage = LocalFolderStorage(folder)
        context = {"storage": storage}
        started_at = time.perf_counter()
        async with maker() as s:
            await bind_actor(s, actor)
            started = await imports.upload(s, storage, data, "bench.xlsx", "add", company_id=here.id)
            await s.commit()
        out["upload_s"] = round(time.perf_counter() - started_at, 2)
        queries[0] = 0
        t = time.perf_counter()
        assert await run_job(maker, actor.agency_id, started.job.id, context=context) == "succeeded"
        out["check_s"] = round(time.perf_counter() - t, 2)
        out["check_queries"] = queries[0]
        async with maker() as s:
            await bind_actor(s, actor)
            row = await imports.get_import(s, started.workbook_import.id)
            out["summary"] = row.summary
            confirmed = await imports.confirm(s, row.id, skip_failed_rows=True)
            await s.commit()
        queries[0] = 0
        t = time.perf_counter()
        assert await run_job(maker, actor.agency_id, confirmed.job.id, context=context) == "succeeded"
        out["confirm_s"] = round(time.perf_counter() - t, 2)
        out["confirm_queries"] = queries[0]
        async with maker() as s:
            await bind_actor(s, actor)
            stmt = select(func.count(Declaration.id)).where(Declaration.company_id == here.id)
            out["drafts"] = await s.scalar(stmt)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    await engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    name, _owner, app_url = _create_database()
    try:
        print(asyncio.run(_run(app_url, args.rows)))
    finally:
        _drop_database(name)


if __name__ == "__main__":
    main()
