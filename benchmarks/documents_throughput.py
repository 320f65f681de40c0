"""Payment notices made by real ``shebao worker`` processes: throughput with one worker and with two.

    .venv/bin/python benchmarks/documents_throughput.py                      # 200 notices, 2 runs of each
    .venv/bin/python benchmarks/documents_throughput.py --runs 3 --check     # exit 1 under 1.7x
    .venv/bin/python benchmarks/documents_throughput.py --notices 40 --runs 1  # a quick look

A fresh PostgreSQL database (as ``settlement.py``): one agency with ``--notices`` Tianjin client
companies of 20 to 50 people each, settled for the month by the region job. Then, for N in (1, 2),
alternating (1, 2, 2, 1, ...), each run:

1. starts N ``shebao worker`` processes (each in a process group of its own, with
   ``SHEBAO_RENDER_PROCESSES=1``, a queue of the run's own, the same storage folder) and warms each
   up with jobs until its log shows one done (imports, the database pool, the rendering process
   and its fonts);
2. records one ``document`` job per company through the service (``request_document``, payment
   notice of the month) and commits;
3. dispatches them all with ``ArqDispatcher`` and times from the first dispatch until every row is
   finished (the rows' ``finished_at``; the database is polled);
4. checks that every job succeeded on its first attempt, once, and that its PDF is in the folder
   with the size and digest the row says; then stops the workers.

Reported: notices per second for each N (median over the runs), their ratio (target: at least
1.7x with two workers), how the jobs were shared between the workers, and the cost of one notice
measured in this process (gather from the database, HTML, PDF): what bounds the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from settlement import _create_database, _drop_database, _truncate  # the same fresh database

TARGET = 1.7
REGION = "tianjin"
MONTH = "2026-10"
REDIS = os.environ.get("SHEBAO_BENCH_REDIS", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(sys.executable).parent / "shebao"
DONE_LINE = re.compile(r"job run_job (?:succeeded|failed) in")


# --- set-up ------------------------------------------------------------------------------------


async def _seed(app_url: str, companies: int) -> uuid.UUID:
    """An agency with ``companies`` Tianjin client companies of 20-50 people, settled for MONTH."""
    from sqlalchemy import insert
    from stdnum.cn import ric

    from shebao.platform.companies.models import ClientCompany
    from shebao.platform.core.ids import new_id
    from shebao.platform.core.month import Month
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.demo import synthetic_credit_code
    from shebao.platform.jobs.runner import run_job
    from shebao.platform.jobs.service import get_job
    from shebao.platform.people.models import Enrollment, Person
    from shebao.platform.regions.registry import registry
    from shebao.platform.settlement.batch import start_region_settlement
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor
    from shebao.platform.tenancy.service import create_agency

    rng = random.Random(20261124)
    region = registry().get(REGION)
    lists = region.fields.coded_lists
    households = [v.code for v in lists["household_types"].values]
    forms = [v.code for v in lists["employment_forms"].values]
    figures = registry().book(REGION).at(Month.parse(MONTH))
    floor, ceiling = int(figures.number("base.floor")), int(figures.number("base.ceiling"))
    engine = make_engine(app_url)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        new = await create_agency(session, "benchdocs", "基准测试人力资源有限公司", "admin", "Bench12345!")
        await session.commit()
        agency_id = new.agency.id
    serial = 0
    async with sessionmaker() as session:
        await bind_actor(session, Actor.system(agency_id))
        company_rows, person_rows, enrollment_rows = [], [], []
        for n in range(companies):
            company_id = new_id()
            company_rows.append(
                {
                    "agency_id": agency_id,
                    "id": company_id,
                    "name": f"天津基准{n:04d}科技有限公司",
                    "credit_code": synthetic_credit_code(rng),
                    "region_code": REGION,
                    "legal_rep_name": "张三",
                    "industry_class": 1 + n % 8,
                    "industry_grade": (80, 100, 120)[n % 3],
                }
            )
            for i in range(rng.randint(20, 50)):
                serial += 1
                born = date(1970, 1, 1) + timedelta(days=serial * 7 % 12000)
                body = f"120104{born:%Y%m%d}{serial % 999 + 1:03d}"
                id_number = body + ric.calc_check_digit(body + "0")
                person_id = new_id()
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
                        "id": new_id(),
                        "person_id": person_id,
                        "company_id": company_id,
                        "region_code": REGION,
                        "start_month": Month(2025, 1 + i % 12),
                        "household_type": households[i % len(households)],
                        "employment_form": forms[0] if i % 7 else forms[i % len(forms)],
                        "monthly_base": Decimal(rng.randint(floor, ceiling)).quantize(Decimal("0.01")),
                    }
                )
        for model, rows in ((ClientCompany, company_rows), (Person, person_rows), (Enrollment, enrollment_rows)):
            await session.execute(insert(model), rows)
        await session.commit()
    modes = [m.code for m in region.settlement.modes]
    mode = "with_change" if "with_change" in modes else modes[0]
    async with sessionmaker() as session:
        await bind_actor(session, Actor.system(agency_id))
        job = await start_region_settlement(session, REGION, Month.parse(MONTH), mode, on=date(2026, 11, 24))
        await session.commit()
    status = await run_job(sessionmaker, agency_id, job.id)
    async with sessionmaker() as session:
        await bind_actor(session, Actor.system(agency_id))
        settled = await get_job(session, job.id)
    await engine.dispose()
    if status != "succeeded" or settled.result["refused"]:
        raise SystemExit(f"settlement: {status} {settled.result} {settled.problems}")
    print(f"seeded {companies} companies, {serial} people, settled {MONTH}", file=sys.stderr)
    return agency_id


# --- workers -----------------------------------------------------------------------------------


class Workers:
    """Real ``shebao worker`` processes, each in a process group of its own (its rendering process
    with it), as tests/conftest.py starts them."""

    def __init__(self, app_url: str, storage: Path, logs: Path, count: int):
        self.queue = f"shebao:bench:{uuid.uuid4().hex[:8]}"
        self.logs = [logs / f"{self.queue.rsplit(':', 1)[1]}-{k}.log" for k in range(count)]
        env = {
            **os.environ,
            "SHEBAO_DATABASE_URL": app_url,
            "SHEBAO_REDIS_URL": REDIS,
            "SHEBAO_QUEUE_NAME": self.queue,
            "SHEBAO_STORAGE_DIR": str(storage),
            "SHEBAO_RENDER_PROCESSES": "1",
            "SHEBAO_WORKER_METRICS_PORT": "0",
        }
        self.procs = []
        for log in self.logs:
            with log.open("wb") as out:
                self.procs.append(
                    subprocess.Popen(
                        [str(WORKER), "worker"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                        cwd=ROOT,
                    )
                )

    def cpu_seconds(self) -> tuple[float, float, float]:
        """Seconds so far: CPU of the worker processes, CPU of their rendering processes, and the time
        the rendering processes waited for a CPU while ready to run (``/proc/PID/schedstat``)."""
        groups, own, render, waited = {p.pid for p in self.procs}, 0, 0, 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                pid = int(stat.parent.name)
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) not in groups:  # the process group; utime and stime are fields 11 and 12
                    continue
                if pid in groups:
                    own += int(fields[11]) + int(fields[12])
                else:
                    render += int(fields[11]) + int(fields[12])
                    waited += int((stat.parent / "schedstat").read_text().split()[1])
        tick = os.sysconf("SC_CLK_TCK")
        return own / tick, render / tick, waited / 1e9

    def done_counts(self) -> list[int]:
        return [len(DONE_LINE.findall(log.read_text(errors="replace"))) for log in self.logs]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything left of the group (the rendering process)
            proc.wait(timeout=15)
        for log in self.logs:
            if "Traceback" in log.read_text(errors="replace"):
                raise SystemExit(f"a worker failed, see {log}")


# --- one run -----------------------------------------------------------------------------------


async def _request(sessionmaker, agency_id: uuid.UUID, company_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    from shebao.platform.core.month import Month
    from shebao.platform.documents.jobs import request_document
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor

    async with sessionmaker() as session:
        await bind_actor(session, Actor.system(agency_id))
        jobs = [await request_document(session, "payment_notice", c, Month.parse(MONTH)) for c in company_ids]
        await session.commit()
    return [j.id for j in jobs]


async def _finished(sessionmaker, agency_id: uuid.UUID, job_ids: list[uuid.UUID], limit: float) -> list:
    """Poll (a count, cheap: the machine has few cores) until every job is finished; then their rows."""
    from sqlalchemy import func, select

    from shebao.platform.jobs.models import Job, JobStatus
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor

    finished = Job.status.in_([JobStatus.SUCCEEDED, JobStatus.FAILED])
    deadline = time.monotonic() + limit
    async with sessionmaker() as session:
        await bind_actor(session, Actor.system(agency_id))
        while True:
            count = await session.scalar(select(func.count()).where(Job.id.in_(job_ids), finished))
            await session.commit()  # a fresh snapshot for the next poll
            if count == len(job_ids):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"jobs not finished after {limit:.0f} s")
            await asyncio.sleep(1)  # the clock stops at the rows' finished_at, not at this poll
        return list((await session.scalars(select(Job).where(Job.id.in_(job_ids)))).all())


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK"), sum(values[:8]) / os.sysconf("SC_CLK_TCK")


def _check(rows, storage: Path, count: int) -> None:
    """Every job succeeded once, on its first attempt, and its PDF is where the row says."""
    from shebao.platform.jobs.models import JobStatus

    assert len(rows) == count, (len(rows), count)
    for row in rows:
        assert row.status is JobStatus.SUCCEEDED and row.attempts == 1, (row.id, row.status, row.attempts, row.problems)
        pdf = (storage / row.result["key"]).read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) == row.result["size"], row.id
        assert hashlib.sha256(pdf).hexdigest() == row.result["sha256"], row.id


async def _run(app_url, agency_id, company_ids, count: int, workers_n: int, storage: Path, logs: Path) -> dict:
    from shebao.platform.core.clock import utcnow
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.workers.dispatch import ArqDispatcher
    from shebao.workers.settings import WorkerSettings

    engine = make_engine(app_url)
    sessionmaker = make_sessionmaker(engine)
    workers = Workers(app_url, storage, logs, workers_n)
    dispatcher = ArqDispatcher(None, workers.queue, REDIS)
    try:
        # Warm-up: as many jobs as the workers take at once, until each worker has done one.
        warm = company_ids[: WorkerSettings.max_jobs * workers_n]
        for _ in range(5):
            ids = await _request(sessionmaker, agency_id, warm)
            for job_id in ids:
                await dispatcher.dispatch(agency_id, job_id)
            _check(await _finished(sessionmaker, agency_id, ids, 600), storage, len(ids))
            await asyncio.sleep(1)  # the last log lines written
            if all(workers.done_counts()):
                break
        else:
            raise SystemExit(f"a worker never took a warm-up job: {workers.done_counts()}")
        before = workers.done_counts()
        ids = await _request(sessionmaker, agency_id, company_ids[:count])
        cpu, machine = workers.cpu_seconds(), _machine_busy()
        started = utcnow()
        for job_id in ids:
            await dispatcher.dispatch(agency_id, job_id)
        rows = await _finished(sessionmaker, agency_id, ids, 3600)
        seconds = (max(r.finished_at for r in rows) - started).total_seconds()
        cpu = [b - a for a, b in zip(cpu, workers.cpu_seconds(), strict=True)]
        machine = [b - a for a, b in zip(machine, _machine_busy(), strict=True)]
        _check(rows, storage, count)
        await asyncio.sleep(1)
        shares = [a - b for a, b in zip(workers.done_counts(), before, strict=True)]
        assert sum(shares) >= count, (shares, count)  # (a sweep may deliver a finished job again: skipped)
    finally:
        await dispatcher.close()
        workers.stop()
        await engine.dispose()
    return {
        "workers": workers_n,
        "seconds": seconds,
        "per_second": count / seconds,
        "shares": shares,
        "worker_cpu": cpu[0] / count,  # CPU seconds a notice: the worker processes (gather, store, queue)
        "render_cpu": cpu[1] / count,  # ... and their rendering processes (WeasyPrint)
        # The rendering processes' time: rendering, ready but waiting for a CPU (the machine is busy),
        # and the rest, idle for want of work (what more workers or a better pipeline could use).
        "render_busy": cpu[1] / (seconds * workers_n),
        "render_waiting": cpu[2] / (seconds * workers_n),
        "machine_busy": machine[0] / machine[1],
    }


# --- what one notice costs ---------------------------------------------------------------------


async def _one_notice_cost(app_url: str, agency_id: uuid.UUID, company_ids: list[uuid.UUID], runs: int) -> dict:
    """Gather, HTML and PDF of one notice in this process, timed (CPU seconds: the work itself)."""
    from shebao.platform.core.month import Month
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.documents.gather import gather
    from shebao.platform.documents.render import render_html, render_pdf
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor

    engine = make_engine(app_url)
    sessionmaker = make_sessionmaker(engine)
    out: dict[str, list[float]] = {"gather": [], "html": [], "pdf": []}
    for n in range(runs + 1):  # the first one warms up (fonts, statement caches)
        company = company_ids[n % len(company_ids)]
        cpu = time.process_time()
        async with sessionmaker() as session:
            await bind_actor(session, Actor.system(agency_id))
            data = await gather(session, "payment_notice", company, Month.parse(MONTH))
        gathered = time.process_time()
        html = render_html(data)
        built = time.process_time()
        render_pdf(html)
        rendered = time.process_time()
        if n:
            out["gather"].append(gathered - cpu)
            out["html"].append(built - gathered)
            out["pdf"].append(rendered - built)
    await engine.dispose()
    return {k: statistics.median(v) for k, v in out.items()}


def _company_ids(app_url: str, agency_id: uuid.UUID) -> list[uuid.UUID]:
    async def load():
        from sqlalchemy import select

        from shebao.platform.companies.models import ClientCompany
        from shebao.platform.db.engine import make_engine, make_sessionmaker
        from shebao.platform.tenancy.context import Actor
        from shebao.platform.tenancy.filters import bind_actor

        engine = make_engine(app_url)
        async with make_sessionmaker(engine)() as session:
            await bind_actor(session, Actor.system(agency_id))
            ids = list((await session.scalars(select(ClientCompany.id).order_by(ClientCompany.name))).all())
        await engine.dispose()
        return ids

    return asyncio.run(load())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=200, help="companies, one notice each per run")
    parser.add_argument("--runs", type=int, default=2, help="runs of each worker count, alternating")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when two workers give under {TARGET}x")
    args = parser.parse_args()
    name, owner, app = _create_database()
    results: list[dict] = []
    try:
        agency_id = asyncio.run(_seed(app, args.notices))
        _truncate(owner, tables=False)  # vacuumed, analyzed and checkpointed before the runs
        company_ids = _company_ids(app, agency_id)
        with tempfile.TemporaryDirectory(prefix="shebao-bench-docs-") as folder:
            storage, logs = Path(folder) / "files", Path(folder) / "logs"
            storage.mkdir()
            logs.mkdir()
            order = [n for k in range(args.runs) for n in ((1, 2) if k % 2 == 0 else (2, 1))]
            for workers_n in order:
                result = asyncio.run(_run(app, agency_id, company_ids, args.notices, workers_n, storage, logs))
                print(
                    f"{workers_n} worker(s): {result['seconds']:.1f} s, {result['per_second']:.2f} notices/s, "
                    f"jobs per worker {result['shares']}, CPU s a notice: worker {result['worker_cpu']:.3f}, "
                    f"rendering {result['render_cpu']:.3f}; rendering processes busy {result['render_busy']:.0%}, "
                    f"waiting for a CPU {result['render_waiting']:.0%}, "
                    f"machine busy {result['machine_busy']:.0%}",
                    file=sys.stderr,
                )
                results.append(result)
        cost = asyncio.run(_one_notice_cost(app, agency_id, company_ids, 5))
    finally:
        _drop_database(name)
    rate = {n: statistics.median(r["per_second"] for r in results if r["workers"] == n) for n in (1, 2)}
    print(f"\n{args.notices} payment notices ({REGION}, 20-50 people each), {args.runs} run(s) of each\n")
    print(
        "| workers | notices/s (median) | runs: seconds | jobs per worker | CPU s a notice: worker, render "
        "| render processes: busy, waiting for a CPU | machine busy |"
    )
    print("|---:|---:|---|---|---|---|---|")
    for n in (1, 2):
        mine = [r for r in results if r["workers"] == n]
        seconds = ", ".join(f"{r['seconds']:.1f}" for r in mine)
        shares = "; ".join("/".join(map(str, r["shares"])) for r in mine)
        cpu = "; ".join(f"{r['worker_cpu']:.3f}, {r['render_cpu']:.2f}" for r in mine)
        render = "; ".join(f"{r['render_busy']:.0%}, {r['render_waiting']:.0%}" for r in mine)
        busy = ", ".join(f"{r['machine_busy']:.0%}" for r in mine)
        print(f"| {n} | {rate[n]:.2f} | {seconds} | {shares} | {cpu} | {render} | {busy} |")
    ratio = rate[2] / rate[1]
    print(f"\ntwo workers / one = {ratio:.2f}x (target {TARGET}x)")
    print(
        f"one notice in this process, CPU seconds: gather {cost['gather']:.3f}, HTML {cost['html']:.3f}, "
        f"PDF {cost['pdf']:.3f}"
    )
    if args.check and ratio < TARGET:
        sys.exit(1)


if __name__ == "__main__":
    main()
