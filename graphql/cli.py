"""The ``shebao`` command line. Each command parses its options and calls the platform."""

from __future__ import annotations

import asyncio
import os
import sys

import click

from shebao.platform.config import ConfigError, Settings
from shebao.platform.db.preflight import StartupError
from shebao.platform.errors import ShebaoError
from shebao.platform.regions.registry import PluginError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _fail(exc: Exception) -> click.ClickException:
    if isinstance(exc, ShebaoError):
        return click.ClickException(
            "\n".join(f"{p.code} {p.field or '-'}: {p.message('zh')} / {p.message('en')}" for p in exc.problems)
        )
    return click.ClickException(str(exc))


@click.group()
def main() -> None:
    """Shebao (社保): social-insurance work of HR outsourcing agencies."""


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from shebao.graphql.app import create_app

    try:
        app = create_app(settings)
    except (StartupError, PluginError) as exc:
        raise _fail(exc) from None
    click.echo(f"Shebao on http://{host}:{port}/graphql (GraphiQL in a browser)")
    uvicorn.run(app, host=host, port=port, log_level="info")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the API. PostgreSQL must be migrated first (`shebao migrate`)."""
    _serve(_settings(), host, port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Seed and print the login, then exit.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Seed a demo agency on the embedded default (SQLite, in-process jobs) and serve it."""
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.db.preflight import prepare_database
    from shebao.platform.demo import seed_demo

    settings = _settings()
    try:
        prepare_database(settings)
    except StartupError as exc:
        raise _fail(exc) from None

    async def seed():
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await seed_demo(session)
        finally:
            await engine.dispose()

    login = asyncio.run(seed())
    click.echo("")
    click.echo("  Demo agency ready" + ("" if login.created else " (existing data kept; new password)"))
    click.echo(f"  agency code: {login.agency_code}")
    click.echo(f"  username:    {login.username}")
    click.echo(f"  password:    {login.password}")
    click.echo(f"  GraphiQL:    http://{host}:{port}/graphql")
    click.echo(
        '  first query: mutation { login(input: {agencyCode: "demo", username: "admin", password: "…"}) '
        "{ token errors { code message } } }"
    )
    click.echo("")
    if not no_serve:
        _serve(settings, host, port)


@main.command()
def migrate() -> None:
    """Bring the database schema to the current revision (as the owner role on PostgreSQL)."""
    from shebao.platform.db.migrate import current_revision, upgrade

    settings = _settings()
    upgrade(settings.migrations_url)
    click.echo(f"database at revision {current_revision(settings.migrations_url)}")


@main.command()
def worker() -> None:
    """Run an arq worker (needs SHEBAO_REDIS_URL)."""
    from arq.worker import run_worker

    from shebao.workers.settings import WorkerSettings, redis_settings

    settings = _settings()
    run_worker(WorkerSettings, redis_settings=redis_settings(), queue_name=settings.queue_name)


@main.command("create-agency")
@click.option("--code", required=True, help="Short code typed at login, e.g. acme-hr.")
@click.option("--name", required=True, help="The agency's full name.")
@click.option("--admin", "admin_username", required=True, help="The administrator's username.")
def create_agency_cmd(code: str, name: str, admin_username: str) -> None:
    """Create an agency and its administrator. Password: SHEBAO_ADMIN_PASSWORD, or a prompt."""
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.tenancy.service import create_agency

    password = os.environ.get("SHEBAO_ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise click.ClickException("set SHEBAO_ADMIN_PASSWORD or run in a terminal to be prompted")
        password = click.prompt("Administrator password", hide_input=True, confirmation_prompt=True)
    settings = _settings()
    if settings.is_sqlite:  # the embedded default migrates itself, as `serve` and `demo` do
        from shebao.platform.db.preflight import prepare_database

        prepare_database(settings)

    async def run():
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                new = await create_agency(session, code, name, admin_username, password)
                await session.commit()
                return new
        finally:
            await engine.dispose()

    try:
        new = asyncio.run(run())
    except ShebaoError as exc:
        raise _fail(exc) from None
    click.echo(f"agency {new.agency.code} created (id {new.agency.id}); administrator: {admin_username}")


@main.group()
def regions() -> None:
    """The region plugins installed beside Shebao."""


@regions.command("list")
def regions_list() -> None:
    """Every region with its plugin and the plugin's version."""
    from shebao.platform.regions.registry import registry

    try:
        loaded = registry().all()
    except PluginError as exc:
        raise _fail(exc) from None
    for item in loaded:
        r = item.region
        kinds = ", ".join(k.kind.value for k in r.kinds)
        modes = ", ".join(m.code for m in r.settlement.modes)
        click.echo(f"{r.code:<16} {r.name_zh}\t{r.name_en:<10} {item.plugin} {item.version or '-':<8} {kinds}; {modes}")


@regions.command("check")
def regions_check() -> None:
    """Load every plugin and check its data as start-up does; print errors and warnings. Exit 1 on errors."""
    from shebao.platform.regions.registry import check_installed

    reports, together = check_installed()
    failed = False
    for report in reports:
        version = f" {report.version}" if report.version else ""
        if report.error:
            failed = True
            click.echo(f"FAIL {report.plugin}{version}: {report.error}")
            continue
        click.echo(f"ok   {report.plugin}{version}: {', '.join(report.findings) or 'no regions'}")
        for code, findings in report.findings.items():
            for finding in findings:
                click.echo(f"     {code}: {finding}")
    if together:
        failed = True
        click.echo(f"FAIL together: {together}")
    if failed:
        raise SystemExit(1)


@main.command()
@click.argument("region")
@click.argument("month")
@click.option("--agency", "agency_code", default=None, help="Apply this agency's policy library (needs the database).")
def rates(region: str, month: str, agency_code: str | None) -> None:
    """The figures in force for REGION in MONTH (YYYY-MM), each with its source and confidence."""
    from shebao.platform.core.month import Month
    from shebao.platform.regions.registry import registry

    try:
        when = Month.parse(month, "month")
        if agency_code is None:
            book = registry().book(registry().get(region, "region").code)
        else:
            book = asyncio.run(_agency_book(agency_code, region))
        figures = book.at(when).all()
    except (ShebaoError, PluginError, StartupError) as exc:
        raise _fail(exc) from None
    r = book.region
    click.echo(f"{r.code} {r.name_zh} ({r.name_en}), {when}" + (f", agency {agency_code}" if agency_code else ""))
    for f in figures:
        value = f"{f.value}{'%' if f.unit.value.startswith('percent') else ''}"
        click.echo(
            f"  {f.name:<36} {value:>10}  {f.unit.value:<15} since {f.since}  {f.layer.label:<8} {f.confidence.value}"
        )
        click.echo(f"  {'':<36} {f.source.reference or f.source.title}" + (f" ({f.note})" if f.note else ""))


async def _agency_book(agency_code: str, region: str):
    from shebao.platform.db.engine import make_engine, make_sessionmaker
    from shebao.platform.db.preflight import prepare_database
    from shebao.platform.policy.service import figure_book
    from shebao.platform.tenancy.context import Actor
    from shebao.platform.tenancy.filters import bind_actor
    from shebao.platform.tenancy.service import get_agency

    settings = _settings()
    prepare_database(settings)
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            agency = await get_agency(session, agency_code)
            await bind_actor(session, Actor.system(agency.id))
            return await figure_book(session, region)
    finally:
        await engine.dispose()


@main.command()
def schema() -> None:
    """Print the GraphQL schema (SDL); `shebao schema > graphql/schema.graphql` updates the committed copy."""
    from shebao.graphql.schema import schema_sdl

    click.echo(schema_sdl(), nl=False)


from shebao.graphql import cli_imports, cli_settle  # noqa: E402  (register `shebao settle`, `shebao import`)

cli_settle.register(main, _settings, _fail)
cli_imports.register(main, _settings, _fail)
