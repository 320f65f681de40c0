"""``shebao import``: a batch workbook (报盘) from the command line, through the same staged import as
``POST /imports``: upload, check (the preview is printed), and with ``--confirm`` the drafts. Thin:
the check and confirm jobs are the API's durable jobs, run here in the foreground."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from shebao.graphql.cli_settle import run_as_agency
from shebao.platform.db.preflight import StartupError
from shebao.platform.errors import Problem, ShebaoError
from shebao.platform.regions.api import DeclarationKind

SHOWN_ROW_PROBLEMS = 50  # the rest are in the error report (--error-report)


def _print_preview(row, lang: str) -> None:
    click.echo(f"import {row.id}: {row.filename} ({row.region_code}, {row.kind.value}) {row.status.value}")
    for p in row.problems or []:
        click.echo(f"  file: {p['code']} {Problem.stored(p).message(lang)}")
    summary = row.summary or {}
    if summary:
        click.echo(
            f"  rows read {summary.get('rows_read')}, valid {summary.get('rows_valid')}, "
            f"failed {summary.get('rows_failed')}; head count {summary.get('head_count')}, "
            f"total declared wage {summary.get('total_wage')}"
        )
    for p in row.notices or []:
        click.echo(f"  notice: {Problem.stored(p).message(lang)}")
    problems = row.row_problems or []
    for p in problems[:SHOWN_ROW_PROBLEMS]:
        where = f"row {p['row']}" + (f" column {p['letter']}" if p.get("letter") else "")
        click.echo(f"  {where}: {p['code']} {Problem.stored(p).message(lang)}")
    if len(problems) > SHOWN_ROW_PROBLEMS:
        click.echo(f"  ... and {len(problems) - SHOWN_ROW_PROBLEMS} more problems (see --error-report)")


def register(main: click.Group, settings_of, fail) -> None:
    @main.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--agency", "agency_code", required=True, help="The agency's code.")
    @click.option("--kind", required=True, type=click.Choice([k.value for k in DeclarationKind]))
    @click.option("--company", default=None, help="The client company the file is for: id, credit code or unit number.")
    @click.option("--region", "region_code", default=None, help="An agency-wide file (its rows name their companies).")
    @click.option("--confirm", is_flag=True, help="Make every valid row a draft declaration when the check passes.")
    @click.option("--skip-failed-rows", is_flag=True, help="With --confirm: leave the failed rows out.")
    @click.option(
        "--error-report",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write the failed rows, with the reason beside each, to this .xlsx.",
    )
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", help="Language of the messages.")
    def import_cmd(
        path, agency_code, kind, company, region_code, confirm, skip_failed_rows, error_report, lang
    ) -> None:
        """Check PATH (an .xlsx of the region's template) and print its preview; --confirm makes the drafts."""
        from shebao.platform.companies.service import find_company
        from shebao.platform.imports import service
        from shebao.platform.imports.models import ImportStatus
        from shebao.platform.jobs.runner import run_job
        from shebao.platform.jobs.service import get_job
        from shebao.platform.storage.factory import storage_for

        settings = settings_of()
        if (company is None) == (region_code is None):
            raise click.UsageError("give --company (a company's file) or --region (an agency-wide file)")
        if skip_failed_rows and not confirm:
            raise click.UsageError("--skip-failed-rows goes with --confirm")
        storage = storage_for(settings)
        context = {"storage": storage}

        async def run(session, sessionmaker, actor):
            async def latest(import_id):
                await session.commit()  # end the snapshot: the job wrote in its own session
                session.expire_all()  # and read its columns again, not the identity map's
                return await service.get_import(session, import_id)

            company_id = (await find_company(session, company, region_code)).id if company else None
            started = await service.upload(
                session, storage, path.read_bytes(), path.name, kind, company_id=company_id, region_code=region_code
            )
            row = started.workbook_import
            await session.commit()
            if started.job is None:
                click.echo(f"the same file was uploaded before: import {row.id} ({row.status.value})")
            else:
                await run_job(sessionmaker, actor.agency_id, started.job.id, context=context)
            row = await latest(row.id)
            _print_preview(row, lang)
            if error_report is not None and row.report_key:
                data = await asyncio.to_thread(storage.get, row.report_key)
                error_report.write_bytes(data)
                click.echo(f"error report written to {error_report}")
            if row.status is ImportStatus.REJECTED:
                return 1
            if not confirm:
                return 0
            job = (await service.confirm(session, row.id, skip_failed_rows=skip_failed_rows)).job
            await session.commit()
            status = await run_job(sessionmaker, actor.agency_id, job.id, context=context)
            row = await latest(row.id)
            if row.status is not ImportStatus.CONFIRMED:  # refused: nothing was written
                _print_preview(row, lang)
                problems = (await get_job(session, job.id)).problems or []
                if problems:
                    raise ShebaoError([Problem.stored(p) for p in problems])
                raise click.ClickException(f"the import is {row.status.value}, not confirmed ({status})")
            click.echo(f"confirmed ({status}): {row.declarations} draft declarations")
            return 0

        try:
            code = asyncio.run(run_as_agency(settings, agency_code, run))
        except (ShebaoError, ValueError, StartupError) as exc:
            raise fail(exc) from None
        if code:
            raise SystemExit(code)  # a rejected file: the preview above says why
