"""Operations: liveness (/health), readiness (/ready), metrics (/metrics), request ids and JSON logs.

* ``/health`` answers as long as the process serves HTTP; it never touches the database, so a
  database outage does not make an orchestrator restart every API process at once.
* ``/ready`` checks the database (``SELECT 1``), Redis (``PING``) when ``SHEBAO_REDIS_URL`` is set,
  and the file store (the folder is writable; on S3 ``HEAD`` of the bucket): 200 with each check,
  or 503 naming the dependency that failed.
* ``/metrics`` is the Prometheus text format (the series: ``shebao.graphql.metrics``): requests by
  method, route template and status, a duration histogram with fixed buckets, requests in progress,
  the jobs run in this process (every job on the embedded default) and, with Redis, the job queue's
  depth. The counters live in the process (one set per API process; Prometheus sums over the pods).
  Each ``shebao worker`` serves its own job series (``shebao.workers.metrics_server``).
* Every HTTP request gets a request id: the caller's ``X-Request-ID`` (printable, at most 64
  characters, as :func:`shebao.graphql.context.request_id` reads it) or a new one. It is put back
  into the request's headers (so the GraphQL context and the audit log see the same id), returned
  in the response's ``X-Request-ID``, and held in :data:`request_id_var` for the log lines written
  while the request runs. Jobs take it from their ``request_id`` keyword argument
  (``shebao.workers.settings``).
* ``SHEBAO_LOG_FORMAT=json`` writes one JSON object a line to stderr (time, level, logger,
  message, request_id and any extra fields), uvicorn's own lines included; ``text`` (the default,
  for the demo) writes plain lines and leaves uvicorn's start-up lines as they are. In both, the
  access line is ``shebao.access`` (method, path, route, status, duration, request id) in place of
  uvicorn's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from litestar import Litestar, Response, get
from litestar.datastructures import State
from litestar.logging.config import BaseLoggingConfig
from sqlalchemy import text

from shebao.graphql.metrics import CONTENT_TYPE, JOB_METRICS, Metrics, queue_depth_lines
from shebao.platform.config import Settings
from shebao.platform.storage.factory import storage_for

log = logging.getLogger("shebao.observability")
access_log = logging.getLogger("shebao.access")

# --- request ids -------------------------------------------------------------------------------

request_id_var: ContextVar[str | None] = ContextVar("shebao_request_id", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()


@contextlib.contextmanager
def bound_request_id(rid: str | None) -> Iterator[str | None]:
    """Log lines written inside the block carry ``rid``."""
    token = request_id_var.set(rid)
    try:
        yield rid
    finally:
        request_id_var.reset(token)


def normalize_request_id(given: str | None) -> str:
    """The rule of :func:`shebao.graphql.context.request_id`: a printable id up to 64 characters, or a new one."""
    return given[:64] if given and given.isprintable() else uuid.uuid4().hex


# --- logs ----------------------------------------------------------------------------------------

_RECORD_FIELDS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of the message
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get() or getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = request_id_var.get() or "-"
        return super().format(record)


class _Redirect(logging.Filter):
    """Put on a uvicorn logger: its records go to Shebao's handler instead of uvicorn's own.

    uvicorn configures its loggers (``dictConfig``) after the app is built and replaces their
    handlers; it keeps their filters, so this is how ``shebao serve`` gets JSON from uvicorn too.
    """

    def __init__(self, handler: logging.Handler | None):
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        if self.handler is not None:
            self.handler.handle(record)
        return False


_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")
HANDLER_NAME = "shebao"


def configure_logging(fmt: str = "text", *, level: int = logging.INFO, stream=None) -> logging.Handler | None:
    """Set up logging for a Shebao process (``shebao serve``, ``shebao worker``); safe to call again.

    ``json``: a handler on the root logger writing JSON lines to stderr, with uvicorn's loggers
    routed to it. ``text``: a plain handler on the root logger, unless logging is already set up
    (an embedding application, pytest); uvicorn keeps its own start-up lines. Either way uvicorn's
    access line gives way to ``shebao.access`` (with the request id, route and duration).
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.name == HANDLER_NAME]:
        root.removeHandler(handler)
    for name in _UVICORN:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, _Redirect)]:
            logger.removeFilter(old)
    if fmt != "json" and root.handlers:
        return None
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.name = HANDLER_NAME
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("uvicorn.access").addFilter(_Redirect(None))  # shebao.access says more
    if fmt == "json":
        logging.captureWarnings(True)
        logging.getLogger("uvicorn").addFilter(_Redirect(handler))
        logging.getLogger("uvicorn.error").addFilter(_Redirect(handler))
    return handler


def _log_uncaught(logger: logging.Logger, scope, tb: list[str]) -> None:
    logger.exception("Uncaught exception (%s %s)", scope.get("method", scope["type"]), scope["path"])


@dataclass
class ShebaoLoggingConfig(BaseLoggingConfig):
    """Litestar's logging, left to :func:`configure_logging`.

    Litestar's default configuration replaces the root logger's handlers with its own text handler
    when the app is built, and logs an uncaught exception only in debug mode. This one configures
    nothing (the ``litestar`` logger propagates to the root, JSON or text) and always logs a server
    error with its traceback; client errors (4xx) are answered without a log line.
    """

    log_exceptions: Literal["always", "debug", "never"] = "always"
    traceback_line_limit: int = -1
    exception_logging_handler: Callable | None = _log_uncaught
    disable_stack_trace: set = field(default_factory=lambda: set(range(400, 500)))

    def configure(self) -> Callable[[str], logging.Logger]:
        return logging.getLogger

    @staticmethod
    def set_level(logger: logging.Logger, level: int) -> None:
        logger.setLevel(level)


# --- metrics (the series themselves: shebao.graphql.metrics) -------------------------------------

UNMATCHED = "<unmatched>"  # no route: one series for every unknown path, never the path itself
QUIET = frozenset({"/health", "/ready", "/metrics"})  # probes and scrapes: access-logged at DEBUG


# --- the middleware ------------------------------------------------------------------------------


class ObservabilityMiddleware:
    """An ASGI middleware around the whole application (unmatched routes and errors included)."""

    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"x-request-id"), None)
        rid = normalize_request_id(given)
        raw_rid = rid.encode("latin-1", errors="replace")
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"x-request-id"]
        scope["headers"].append((b"x-request-id", raw_rid))
        status = 500

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or [])
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", raw_rid))
                message = {**message, "headers": headers}
            await send(message)

        token = request_id_var.set(rid)
        self.metrics.started_request()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template") or UNMATCHED
            self.metrics.observe(scope["method"], route, status, seconds)
            access_log.log(
                logging.DEBUG if scope["path"] in QUIET else logging.INFO,
                "%s %s %s %.1f ms",
                scope["method"],
                scope["path"],
                status,
                seconds * 1000,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            request_id_var.reset(token)


def instrument(app: Litestar, settings: Settings) -> Litestar:
    """Put the middleware around ``app`` (outside Litestar's router, so 404s are counted too)."""
    metrics = Metrics()
    app.state.metrics = metrics
    app.asgi_handler = ObservabilityMiddleware(app.asgi_handler, metrics)
    return app


# --- the endpoints -------------------------------------------------------------------------------

CHECK_TIMEOUT = 3.0


async def _check_database(state: State) -> None:
    async with state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def _redis(url: str):
    from redis.asyncio import Redis

    return Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT)


async def _check_redis(url: str) -> None:
    client = _redis(url)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT)
    except Exception as exc:  # any failure makes the dependency unavailable
        log.warning("readiness check failed: %s: %s", type(exc).__name__, exc)
        # the class only: the message may name hosts, and /ready answers anyone
        return {"status": "error", "error": "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}


@get("/health", include_in_schema=False)
async def health() -> dict:
    """Liveness: the process answers. Deliberately no database call (see /ready)."""
    return {"status": "ok"}


@get("/ready", include_in_schema=False)
async def ready(state: State) -> Response:
    """Readiness: the database answers, Redis does when configured, and the file store takes files."""
    settings: Settings = state.settings
    checks = {"database": await _timed(_check_database(state))}
    if settings.redis_url:
        checks["redis"] = await _timed(_check_redis(settings.redis_url))
    # The file store too: a worker's document or an upload would fail without it (on S3: HEAD bucket).
    checks["storage"] = await _timed(asyncio.to_thread(storage_for(settings).ping))
    failing = [name for name, check in checks.items() if check["status"] != "ok"]
    body = {"status": "unavailable" if failing else "ready", "checks": checks}
    if failing:
        body["failing"] = failing
    return Response(body, status_code=503 if failing else 200, headers={"Cache-Control": "no-store"})


async def _queue_depth(settings: Settings) -> list[str]:
    """The number of jobs waiting in the arq queue (a sorted set), when Redis is configured."""
    if not settings.redis_url:
        return []
    client = _redis(settings.redis_url)
    try:
        return await queue_depth_lines(client, settings.queue_name)
    finally:
        await client.aclose()


@get("/metrics", include_in_schema=False)
async def metrics(state: State) -> Response:
    """Prometheus text exposition (format 0.0.4). Keep it off the public ingress."""
    # The job series count the jobs run in this process: on the embedded default, every job.
    body = state.metrics.render(JOB_METRICS.lines() + await _queue_depth(state.settings))
    return Response(body, media_type=CONTENT_TYPE)


ROUTES = [health, ready, metrics]
