"""The Litestar application: GraphQL at /graphql (GraphiQL in a browser), health at /health,
and the declaration attachments (graphql/files.py)."""

from __future__ import annotations

from contextlib import asynccontextmanager

from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from sqlalchemy import text
from strawberry.litestar import make_graphql_controller

from shebao.graphql.context import AuthFailure, get_context
from shebao.graphql.files import download_attachment, upload_attachment
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


@get("/health")
async def health(state: State) -> dict:
    async with state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {"status": "ok"}


def create_app(settings: Settings | None = None, *, check_database: bool = True) -> Litestar:
    settings = settings or Settings.from_env()
    registry()  # a broken region plugin stops start-up here, naming the plugin
    if check_database:
        prepare_database(settings)

    @asynccontextmanager
    async def database(app: Litestar):
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        try:
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
    return Litestar(
        route_handlers=[controller, health, upload_attachment, download_attachment],
        lifespan=[database],
        state=State({"settings": settings}),
        exception_handlers={AuthFailure: _auth_failure},
        request_max_body_size=MAX_BODY,
    )


def app_from_env() -> Litestar:
    """A uvicorn factory (``uvicorn --factory shebao.graphql.app:app_from_env``) for process managers."""
    return create_app(Settings.from_env())
