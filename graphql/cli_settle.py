"""``shebao settle``: settle (or preview) a month from the command line, for one client company or
every company of the agency in a region. Thin: it binds the agency and calls the platform; a
region-wide settle records the same durable job as the API and runs it here, in the foreground."""

from __future__ import annotations

import asyncio
from datetime import date

import click

from shebao.platform.db.preflight import StartupError
from shebao.platform.errors import Problem, ShebaoError


async def run_as_agency(settings, agency_code: str, fn):
    """Run ``fn(session, sessionmaker, actor)`` as the agency's system actor on a prepared database."""
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.db.preflight import prepare_database
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor
    from shebao.platform.tenancy.service import get_agency

    prepare_database(settings)
    engine = make_engine(settings.database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session:
            agency = await get_agency(session, agency_code)
            actor = Actor.system(agency.id, request_id="cli")
            await bind_actor(session, actor)
            return await fn(session, sessionmaker, actor)
    finally:
        await engine.dispose()


def _print_bill(bill, lines: bool) -> None:
    c = bill.company
    click.echo(f"{c.name} ({c.credit_code}) {bill.month}: {len(bill.lines)} lines, preview (nothing stored)")
    for kind, (employer, employee) in bill.totals_by_kind().items():
        click.echo(f"  {kind:<24} employer {employer:>12}  employee {employee:>12}")
    click.echo(f"  {'late fees':<24} {bill.late_fee_total:>21}")
    click.echo(f"  {'total':<24} {bill.total:>21}")
    if lines:
        for b in bill.lines:
            click.echo(f"  {b.person_id} {b.month} " + " | ".join(b.line.explain()))


def register(main: click.Group, settings_of, fail) -> None:
    @main.command()
    @click.option("--agency", "agency_code", required=True, help="The agency's code.")
    @click.option("--region", "region_code", required=True, help="Region code, e.g. tianjin.")
    @click.option("--month", required=True, help="The month to settle, YYYY-MM.")
    @click.option("--company", default=None, help="One client company: id, credit code or unit number.")
    @click.option("--mode", default=None, help="The region's settlement mode (optional when it has one).")
    @click.option("--kind", default=None, help="Per-kind plans (征集计划): settle only this insurance kind.")
    @click.option("--preview", is_flag=True, help="Show the bill without settling (needs --company).")
    @click.option("--lines", is_flag=True, help="With --preview: print every line with its explanation.")
    @click.option("--on", "on", default=None, help="Settlement date the late fees run to (default: today).")
    def settle(agency_code, region_code, month, company, mode, kind, preview, lines, on) -> None:
        """Settle MONTH for one company (--company) or every company of the agency in the region."""
        from shebao.platform.companies.service import find_company
        from shebao.platform.core.month import Month
        from shebao.platform.core.pagination import PageRequest
        from shebao.platform.jobs.runner import run_job
        from shebao.platform.jobs.service import list_items
        from shebao.platform.regions.registry import registry
        from shebao.platform.settlement import batch, service

        settings = settings_of()
        if preview and company is None:
            raise click.UsageError("--preview needs --company")

        async def one(session, sessionmaker, actor):
            when = Month.parse(month, "month")
            day = date.fromisoformat(on) if on else None
            target = await find_company(session, company, registry().get(region_code, "region").code)
            if preview:
                _print_bill(await service.preview(session, target.id, when, on=day), lines)
                return
            rows = await service.settle(session, target.id, when, mode, kind=kind, on=day)
            await session.commit()
            for r in rows:
                click.echo(
                    f"settled {target.name} {r.month} [{r.kind_scope}] {r.mode}: {r.line_count} lines, "
                    f"employer {r.employer_total}, employee {r.employee_total}, late fees {r.late_fee_total}, "
                    f"total {r.total} (settlement {r.id})"
                )

        async def region(session, sessionmaker, actor):
            when = Month.parse(month, "month")
            day = date.fromisoformat(on) if on else None
            job = await batch.start_region_settlement(session, region_code, when, mode, on=day)
            await session.commit()
            click.echo(f"job {job.id}: settling every company in {region_code} for {when} ...")
            status = await run_job(sessionmaker, actor.agency_id, job.id)
            await session.refresh(job)
            after = None
            while True:
                page = await list_items(session, job.id, PageRequest(first=100, after=after))
                for item in page.items:
                    why = "; ".join(f"{p['code']} {Problem.stored(p).message()}" for p in item.problems or [])
                    click.echo(f"  {item.outcome.value:<8} {item.label}" + (f": {why}" if why else ""))
                if not page.has_next_page:
                    break
                after = page.end_cursor
            click.echo(f"job {status}: {job.result or job.problems}")

        try:
            asyncio.run(run_as_agency(settings, agency_code, one if company else region))
        except (ShebaoError, ValueError, StartupError) as exc:
            raise fail(exc) from None
