"""Each ``shebao worker`` serves its own ``GET /metrics`` on ``SHEBAO_WORKER_METRICS_PORT`` (default
9101; 0: none): the jobs it ran (``shebao.graphql.metrics.JOB_METRICS``) and the queue's depth.

A plain asyncio server on the worker's own event loop: a scrape is one short request, so nothing
more is needed (no ASGI server, whose signal handling would compete with arq's). It answers
``GET /metrics`` and ``GET /health``, 404 anything else, and closes each connection after its answer.
A port already taken is logged and the worker runs on without metrics: running jobs matters more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from shebao.graphql.metrics import CONTENT_TYPE, JOB_METRICS, process_lines, queue_depth_lines

log = logging.getLogger("shebao.workers.metrics")

READ_TIMEOUT = 5.0  # a client that sends no request line in this time is dropped
MAX_HEADER_BYTES = 16_384
STARTED = time.time()


async def worker_metrics(redis, queue_name: str) -> str:
    """The worker's exposition: its build and start time, its jobs, the queue's depth."""
    lines = process_lines(STARTED) + JOB_METRICS.lines() + await queue_depth_lines(redis, queue_name)
    return "\n".join(lines) + "\n"


def _response(status: str, body: str, content_type: str = "text/plain; charset=utf-8") -> bytes:
    data = body.encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + data


async def _answer(reader: asyncio.StreamReader, render: Callable[[], Awaitable[str]]) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
    method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
    path = rest.split(" ", 1)[0].split("?", 1)[0]
    if path not in ("/metrics", "/health"):
        return _response("404 Not Found", "not found\n")
    if method != "GET":
        return _response("405 Method Not Allowed", "GET only\n")
    if path == "/health":
        return _response("200 OK", '{"status":"ok"}', "application/json")
    return _response("200 OK", await render(), CONTENT_TYPE)


async def start_metrics_server(
    port: int,
    render: Callable[[], Awaitable[str]],
    host: str = "0.0.0.0",  # noqa: S104  (Prometheus scrapes the pod)
) -> asyncio.Server | None:
    """Serve ``render()`` on ``port``; None when the port is 0 or cannot be bound."""
    if not port:
        return None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(await _answer(reader, render))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # a client gone or too slow: nothing to answer
        except Exception:
            log.warning("worker metrics: answering a scrape failed", exc_info=True)
            with contextlib.suppress(Exception):
                writer.write(_response("500 Internal Server Error", "error\n"))
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    try:
        server = await asyncio.start_server(handle, host, port, limit=MAX_HEADER_BYTES)
    except OSError as exc:
        log.warning("worker metrics not served: port %s: %s", port, exc.strerror or exc)
        return None
    log.info("worker metrics on http://%s:%s/metrics", host, port)
    return server


async def stop_metrics_server(server: asyncio.Server | None) -> None:
    if server is not None:
        server.close()
        await server.wait_closed()
