"""The Litestar application: GraphQL at /graphql (GraphiQL in a browser), the declaration
attachments and job files (graphql/files.py), batch workbooks
(graphql/imports_http.py), and /health, /ready and /metrics (graphql/observability.py)."""

from __future__ import annotations

from contextlib import asynccontextmanager

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from strawberry.litestar import make_graphql_controller

from shebao.graphql.context import AuthFailure, get_context
from shebao.graphql.dispatch import job_dispatcher
from shebao.graphql.files import download_attachment, download_job_file, download_job_item_file, upload_attachment
from shebao.graphql.imports_http import ROUTES as WORKBOOK_ROUTES
from shebao.graphql.observability import ROUTES as OPERATIONS_ROUTES
from shebao.graphql.observability import ShebaoLoggingConfig, configure_logging, instrument
from shebao.graphql.schema import build_schema
from shebao.platform.config import Settings
from shebao.platform.db.engine import make_engine, make_sessionmaker
from shebao.platform.db.preflight import prepare_database
from shebao.platform.regions.registry import registry

MAX_BODY = 1_000_000


def _auth_failure(request: Request, exc: AuthFailure) -> Response:
    problem = exc.error.problems[0]
    return Response(
        {"data": None, "errors": [{"message": problem.message(exc.lang), "extensions": {"code": problem.code.value}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def create_app(settings: Settings | None = None, *, check_database: bool = True) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_format)
    registry()  # a broken region plugin stops start-up here, naming the plugin
    if check_database:
        prepare_database(settings)

    @asynccontextmanager
    async def database(app: Litestar):
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        try:
            async with job_dispatcher(settings, app.state.sessionmaker) as dispatcher:
                app.state.dispatcher = dispatcher
                yield
        finally:
            await engine.dispose()

    controller = make_graphql_controller(
        build_schema(settings),
        path="/graphql",
        context_getter=get_context,
        graphql_ide="graphiql",
        allow_queries_via_get=False,
    )
    app = Litestar(
        route_handlers=[
            controller,
            upload_attachment,
            download_attachment,
            download_job_file,
            download_job_item_file,
            *WORKBOOK_ROUTES,
            *OPERATIONS_ROUTES,
        ],
        lifespan=[database],
        state=State({"settings": settings}),
        exception_handlers={AuthFailure: _auth_failure},
        request_max_body_size=MAX_BODY,
        logging_config=ShebaoLoggingConfig(),  # logs are set up by configure_logging above
    )
    return instrument(app, settings)  # request ids, access log, metrics


def app_from_env() -> Litestar:
    """A uvicorn factory (``uvicorn --factory shebao.graphql.app:app_from_env``) for process managers."""
    return create_app(Settings.from_env())
