"""Settlement at agency scale, on PostgreSQL, beside the floor measured in the same run.

    .venv/bin/python benchmarks/settlement.py                 # 10,000 and 100,000 enrollments
    .venv/bin/python benchmarks/settlement.py --sizes 100000  # one size

For each size: a fresh database, one agency with ``size / 100`` client companies spread over every
region code the plugins install (Tianjin, Fuzhou, Xiamen, Kunming, Lijiang, Guiyang, Leshan), 100
enrollments each (household types and employment forms the region lists, bases from below the
floor to above the ceiling, one person in fifty with a base change in the base history). Then, each
in a fresh process so its peak memory is its own:

- **floor**: read the same enrollment rows in the same chunks of companies and bulk-write the same
  number of lines (constant amounts, no rules) into the same tables;
- **settle**: the real thing, the agency-wide job (``settle_region``) for every region, as a worker
  runs it: modes, preconditions, rates, clamps, exemptions, rounding, basis, audit, job items.

Peak memory is the process's maximum resident set (``ru_maxrss``), beside its resident set once the
imports are done. The target: settle within 2x the floor, memory flat as the agency grows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

PG_ADMIN = os.environ.get("SHEBAO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
APP_LOGIN = "shebao_bench_app"
PER_COMPANY = 100
MONTH = "2026-10"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- set-up (parent process) -------------------------------------------------------------------


def _create_database() -> tuple[str, str, str]:
    import psycopg

    from shebao.platform.db.migrate import upgrade

    name = f"shebao_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    owner = f"{PG_ADMIN}/{name}"
    upgrade(owner)
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_LOGIN}') "
            f"THEN CREATE ROLE {APP_LOGIN} LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"
        )
        conn.execute(f"GRANT shebao_app TO {APP_LOGIN}")
    host = PG_ADMIN.split("@", 1)[1]
    return name, owner, f"postgresql://{APP_LOGIN}@{host}/{name}"


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _seed(app_url: str, size: int) -> str:
    from sqlalchemy import insert
    from stdnum.cn import ric

    from shebao.platform.companies.models import ClientCompany
    from shebao.platform.core.ids import new_id
    from shebao.platform.core.month import Month
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.declarations.models import EnrollmentBase
    from shebao.platform.demo import synthetic_credit_code
    from shebao.platform.people.models import Enrollment, Person
    from shebao.platform.regions.registry import registry
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor
    from shebao.platform.tenancy.service import create_agency

    def resident_id(k: int) -> tuple[str, date]:
        born = date(1970, 1, 1) + timedelta(days=k // 999)
        body = f"120104{born:%Y%m%d}{k % 999 + 1:03d}"
        return body + ric.calc_check_digit(body + "0"), born

    rng = random.Random(20261123)
    engine = make_engine(app_url)
    sessionmaker = make_sessionmaker(engine)
    regions = [registry().get(code) for code in registry().codes]
    async with sessionmaker() as session:
        new = await create_agency(session, f"bench{size}", "基准测试人力资源有限公司", "admin", "Bench12345!")
        await session.commit()
        agency_id = new.agency.id
    companies = size // PER_COMPANY
    for start in range(0, companies, 50):
        async with sessionmaker() as session:
            await bind_actor(session, Actor.system(agency_id))
            company_rows, person_rows, enrollment_rows, base_rows = [], [], [], []
            for n in range(start, min(start + 50, companies)):
                region = regions[n % len(regions)]
                lists = region.fields.coded_lists
                households = [v.code for v in lists["household_types"].values] if "household_types" in lists else []
                forms = [v.code for v in lists["employment_forms"].values] if "employment_forms" in lists else []
                book = registry().book(region.code)
                figures = book.at(Month.parse(MONTH))
                floor, ceiling = figures.number("base.floor"), figures.number("base.ceiling")
                company_id = new_id()
                company_rows.append(
                    {
                        "agency_id": agency_id,
                        "id": company_id,
                        "name": f"基准{n:04d}有限公司",
                        "credit_code": synthetic_credit_code(rng),
                        "region_code": region.code,
                        "legal_rep_name": "张三",
                        "industry_class": 1 + n % 8,
                        "industry_grade": (80, 100, 120)[n % 3],
                    }
                )
                for i in range(PER_COMPANY):
                    person_id, enrollment_id = new_id(), new_id()
                    id_number, born = resident_id(n * PER_COMPANY + i)
                    base = Decimal(rng.randint(int(floor * Decimal("0.8")), int(ceiling * Decimal("1.2")))).quantize(
                        Decimal("0.01")
                    )
                    person_rows.append(
                        {
                            "agency_id": agency_id,
                            "id": person_id,
                            "id_number": id_number,
                            "name": f"员工{n}-{i}",
                            "gender": "female" if int(id_number[16]) % 2 == 0 else "male",
                            "birth_date": born,
                        }
                    )
                    enrollment_rows.append(
                        {
                            "agency_id": agency_id,
                            "id": enrollment_id,
                            "person_id": person_id,
                            "company_id": company_id,
                            "region_code": region.code,
                            "start_month": Month(2025, 1 + i % 12),
                            "household_type": households[i % len(households)] if i % 10 == 0 else "local_urban",
                            "employment_form": forms[i % len(forms)] if i % 7 == 0 else "contract",
                            "monthly_base": base,
                        }
                    )
                    if i % 50 == 0:
                        base_rows.append(
                            {
                                "agency_id": agency_id,
                                "id": new_id(),
                                "enrollment_id": enrollment_id,
                                "company_id": company_id,
                                "since": Month(2026, 7),
                                "base": (base * Decimal("1.05")).quantize(Decimal("0.01")),
                            }
                        )
            for model, rows in (
                (ClientCompany, company_rows),
                (Person, person_rows),
                (Enrollment, enrollment_rows),
                (EnrollmentBase, base_rows),
            ):
                await session.execute(insert(model), rows)
            await session.commit()
    await engine.dispose()
    return str(agency_id)


def _child(phase: str, app_url: str, agency_id: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, f"_{phase}", app_url, agency_id],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _truncate(owner_url: str, tables: bool = True) -> None:
    """Empty what a phase wrote, and leave both phases the same start: vacuumed, analyzed, checkpointed."""
    import psycopg

    with psycopg.connect(owner_url, autocommit=True) as conn:
        if tables:
            conn.execute("TRUNCATE settlement_lines, settlements, job_items, jobs")
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


# --- the phases (each in a fresh process) ------------------------------------------------------


async def _floor(app_url: str, agency_id: str) -> dict:
    """Read the enrollment rows chunk by chunk and bulk-write as many lines, with no rules."""
    from sqlalchemy import select

    from shebao.platform.companies.models import ClientCompany
    from shebao.platform.core.ids import new_id
    from shebao.platform.core.month import Month
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.people.models import Enrollment
    from shebao.platform.regions.registry import registry
    from shebao.platform.settlement.batch import CHUNK
    from shebao.platform.settlement.models import Settlement, SettlementLine
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor

    agency = uuid.UUID(agency_id)
    engine = make_engine(app_url)
    sessionmaker = make_sessionmaker(engine)
    month, zero = Month.parse(MONTH), Decimal("0.00")
    baseline = _rss_mb()
    started, lines = time.perf_counter(), 0
    for code in registry().codes:
        kinds = [k.kind.value for k in registry().get(code).kinds if not k.yearly]
        async with sessionmaker() as session:
            await bind_actor(session, Actor.system(agency))
            stmt = select(ClientCompany.id).where(ClientCompany.region_code == code).order_by(ClientCompany.id)
            ids = list((await session.scalars(stmt)).all())
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            async with sessionmaker() as session:
                await bind_actor(session, Actor.system(agency))
                rows = (
                    await session.execute(
                        select(Enrollment.id, Enrollment.person_id, Enrollment.company_id, Enrollment.monthly_base)
                        .where(Enrollment.company_id.in_(chunk))
                        .order_by(Enrollment.company_id, Enrollment.id)
                    )
                ).all()
                settlement_of = {}
                for company_id in chunk:
                    settlement_of[company_id] = new_id()
                await session.execute(
                    Settlement.__table__.insert(),
                    [
                        {
                            "agency_id": agency,
                            "id": sid,
                            "company_id": cid,
                            "region_code": code,
                            "month": month,
                            "mode": "floor",
                            "kind_scope": "all",
                            "employer_total": zero,
                            "employee_total": zero,
                            "late_fee_total": zero,
                            "line_count": 0,
                            "basis": {},
                        }
                        for cid, sid in settlement_of.items()
                    ],
                )
                batch = [
                    {
                        "agency_id": agency,
                        "id": new_id(),
                        "settlement_id": settlement_of[company_id],
                        "company_id": company_id,
                        "person_id": person_id,
                        "enrollment_id": enrollment_id,
                        "month": month,
                        "kind": kind,
                        "base_declared": base,
                        "base_used": base,
                        "employer_rate": "1",
                        "employer_amount": base,
                        "employee_rate": "1",
                        "employee_amount": base,
                        "late_fee": zero,
                        "late_days": 0,
                    }
                    for enrollment_id, person_id, company_id, base in rows
                    for kind in kinds
                ]
                await session.execute(SettlementLine.__table__.insert(), batch)
                await session.commit()
                lines += len(batch)
    seconds = time.perf_counter() - started
    await engine.dispose()
    return {"seconds": seconds, "lines": lines, "rss_baseline_mb": baseline, "rss_peak_mb": _peak_mb()}


async def _settle(app_url: str, agency_id: str) -> dict:
    from sqlalchemy import func, select

    from shebao.platform.core.month import Month
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.jobs.runner import run_job
    from shebao.platform.jobs.service import get_job
    from shebao.platform.regions.registry import registry
    from shebao.platform.settlement.batch import start_region_settlement
    from shebao.platform.settlement.models import SettlementLine
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor

    agency = uuid.UUID(agency_id)
    engine = make_engine(app_url)
    sessionmaker = make_sessionmaker(engine)
    baseline = _rss_mb()
    started, settled, refused = time.perf_counter(), 0, 0
    for code in registry().codes:
        modes = [m.code for m in registry().get(code).settlement.modes]
        mode = "with_change" if "with_change" in modes else modes[0]
        async with sessionmaker() as session:
            await bind_actor(session, Actor.system(agency))
            job = await start_region_settlement(session, code, Month.parse(MONTH), mode, on=date(2026, 11, 23))
            await session.commit()
        status = await run_job(sessionmaker, agency, job.id)
        async with sessionmaker() as session:
            await bind_actor(session, Actor.system(agency))
            job = await get_job(session, job.id)
            if status != "succeeded":
                raise SystemExit(f"{code}: {status} {job.problems}")
            settled, refused = settled + job.result["settled"], refused + job.result["refused"]
    seconds = time.perf_counter() - started
    async with sessionmaker() as session:
        await bind_actor(session, Actor.system(agency))
        lines = await session.scalar(select(func.count()).select_from(SettlementLine))
    await engine.dispose()
    return {
        "seconds": seconds,
        "lines": lines,
        "settled": settled,
        "refused": refused,
        "rss_baseline_mb": baseline,
        "rss_peak_mb": _peak_mb(),
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] in ("_floor", "_settle"):
        phase = _floor if sys.argv[1] == "_floor" else _settle
        print(json.dumps(asyncio.run(phase(sys.argv[2], sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="enrollments, comma-separated")
    args = parser.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        name, owner, app = _create_database()
        try:
            t = time.perf_counter()
            agency_id = asyncio.run(_seed(app, size))
            print(f"{size:>7} enrollments seeded in {time.perf_counter() - t:.1f} s", file=sys.stderr)
            _truncate(owner, tables=False)
            floor = _child("floor", app, agency_id)
            _truncate(owner)
            settle = _child("settle", app, agency_id)
            results.append((size, floor, settle))
        finally:
            _drop_database(name)
    print("\nSettlement of one month on PostgreSQL (every region code, 100 enrollments per company)\n")
    print("| enrollments | companies | lines | floor s | settle s | settle / floor | floor peak MB | settle peak MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, floor, settle in results:
        print(
            f"| {size:,} | {size // PER_COMPANY:,} | {settle['lines']:,} | {floor['seconds']:.1f} | "
            f"{settle['seconds']:.1f} | {settle['seconds'] / floor['seconds']:.2f}x | "
            f"{floor['rss_peak_mb']:.0f} (base {floor['rss_baseline_mb']:.0f}) | "
            f"{settle['rss_peak_mb']:.0f} (base {settle['rss_baseline_mb']:.0f}) |"
        )
    for size, floor, settle in results:
        if floor["lines"] != settle["lines"]:
            print(f"note: at {size:,} the floor wrote {floor['lines']:,} lines, the settlement {settle['lines']:,}")
        print(f"{size:,}: settled {settle['settled']} companies, refused {settle['refused']}")


if __name__ == "__main__":
    main()
