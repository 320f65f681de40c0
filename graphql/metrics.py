"""Prometheus series of a Shebao process, in the text exposition format (0.0.4).

``prometheus_client`` is not a dependency, so the few series are kept here, per process
(Prometheus scrapes every pod and sums):

* :class:`Metrics`: HTTP requests by method, route template and status, their duration and the
  requests in progress (one per API app, updated by ``shebao.graphql.observability``'s middleware);
* :class:`JobMetrics`: recorded jobs run by this process (the arq worker, or the API on the
  embedded default): how many by kind and outcome, how long they took, how many run now, and how
  many the sweeper dispatched again. :data:`JOB_METRICS` is the process's one collector; the
  runner (``shebao.platform.jobs.runner.run_job``) reports to it as a ``JobObserver``;
* the queue's depth, read from Redis at each scrape.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from importlib.metadata import PackageNotFoundError, version

log = logging.getLogger("shebao.observability")

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Jobs take from a tenth of a second (one document) to hours (a large region): 0.1 s .. 6 h.
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
QUEUE_DEPTH_TIMEOUT = 3.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _version() -> str:
    try:
        return version("shebao")
    except PackageNotFoundError:
        return "unknown"


def process_lines(started: float) -> list[str]:
    """The build and the process's start time: every Shebao process exposes them."""
    return [
        "# HELP shebao_build_info Shebao's version.",
        "# TYPE shebao_build_info gauge",
        f'shebao_build_info{{version="{_label(_version())}"}} 1',
        "# HELP process_start_time_seconds Start time of the process since the epoch, in seconds.",
        "# TYPE process_start_time_seconds gauge",
        f"process_start_time_seconds {started:.3f}",
    ]


class Histogram:
    """Cumulative buckets, sum and count per label set (the caller holds the lock)."""

    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.buckets: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = defaultdict(float)
        self.counts: dict[tuple[str, ...], int] = defaultdict(int)

    def observe(self, key: tuple[str, ...], seconds: float) -> None:
        buckets = self.buckets.setdefault(key, [0] * len(self.bounds))
        for i, bound in enumerate(self.bounds):
            if seconds <= bound:
                buckets[i] += 1
        self.sums[key] += seconds
        self.counts[key] += 1

    def lines(self, name: str, label_names: tuple[str, ...]) -> list[str]:
        out = []
        for key, counted in sorted(self.buckets.items()):
            labels = ",".join(f'{n}="{_label(v)}"' for n, v in zip(label_names, key, strict=True))
            for bound, n in zip(self.bounds, counted, strict=True):
                out.append(f'{name}_bucket{{{labels},le="{_number(bound)}"}} {n}')
            out.append(f'{name}_bucket{{{labels},le="+Inf"}} {self.counts[key]}')
            out.append(f"{name}_sum{{{labels}}} {self.sums[key]:.6f}")
            out.append(f"{name}_count{{{labels}}} {self.counts[key]}")
        return out


class Metrics:
    """Request counters and a duration histogram, safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self._durations = Histogram(BUCKETS)
        self._in_progress = 0
        self.started = time.time()

    def started_request(self) -> None:
        with self._lock:
            self._in_progress += 1

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        with self._lock:
            self._in_progress -= 1
            self._requests[(method, route, str(status))] += 1
            self._durations.observe((method, route), seconds)

    def render(self, extra: list[str] | None = None) -> str:
        with self._lock:
            requests, in_progress = dict(self._requests), self._in_progress
            durations = self._durations.lines("shebao_http_request_duration_seconds", ("method", "route"))
        lines = [
            *process_lines(self.started),
            "# HELP shebao_http_requests_total HTTP requests answered, by method, route template and status.",
            "# TYPE shebao_http_requests_total counter",
        ]
        for (method, route, status), n in sorted(requests.items()):
            lines.append(
                f'shebao_http_requests_total{{method="{method}",route="{_label(route)}",status="{status}"}} {n}'
            )
        lines += [
            "# HELP shebao_http_requests_in_progress HTTP requests being answered.",
            "# TYPE shebao_http_requests_in_progress gauge",
            f"shebao_http_requests_in_progress {in_progress}",
            "# HELP shebao_http_request_duration_seconds Time to answer an HTTP request.",
            "# TYPE shebao_http_request_duration_seconds histogram",
            *durations,
        ]
        lines += extra or []
        return "\n".join(lines) + "\n"


class JobMetrics:
    """What the recorded jobs run by this process did (a ``JobObserver`` of the runner).

    Outcomes as ``run_job`` reports them: ``succeeded`` and ``failed`` (the handler ran; timed),
    ``abandoned`` (too many attempts: failed without running) and ``skipped`` (not claimed: the job
    was finished, or running elsewhere, when this delivery came).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outcomes: dict[tuple[str, str], int] = defaultdict(int)
        self._durations = Histogram(JOB_BUCKETS)
        self._running: dict[str, int] = defaultdict(int)
        self._redispatched = 0

    def job_started(self, kind: str) -> None:
        with self._lock:
            self._running[kind] += 1

    def job_finished(self, kind: str, outcome: str, seconds: float | None = None) -> None:
        """``seconds`` is given for a run announced by :meth:`job_started`, never otherwise."""
        with self._lock:
            self._outcomes[(kind, outcome)] += 1
            if seconds is not None:
                self._running[kind] -= 1
                self._durations.observe((kind,), seconds)

    def redispatched(self, count: int) -> None:
        with self._lock:
            self._redispatched += count

    def lines(self) -> list[str]:
        with self._lock:
            outcomes, running, redispatched = dict(self._outcomes), dict(self._running), self._redispatched
            durations = self._durations.lines("shebao_job_duration_seconds", ("kind",))
        lines = [
            "# HELP shebao_jobs_total Recorded jobs this process took from the queue, by kind and outcome.",
            "# TYPE shebao_jobs_total counter",
        ]
        for (kind, outcome), n in sorted(outcomes.items()):
            lines.append(f'shebao_jobs_total{{kind="{_label(kind)}",outcome="{_label(outcome)}"}} {n}')
        lines += [
            "# HELP shebao_job_duration_seconds Time to run a job (claimed to recorded outcome).",
            "# TYPE shebao_job_duration_seconds histogram",
            *durations,
            "# HELP shebao_jobs_running Jobs this process is running now.",
            "# TYPE shebao_jobs_running gauge",
        ]
        lines += [f'shebao_jobs_running{{kind="{_label(kind)}"}} {n}' for kind, n in sorted(running.items())]
        lines += [
            "# HELP shebao_jobs_redispatched_total Jobs the sweeper dispatched again (left queued or silent).",
            "# TYPE shebao_jobs_redispatched_total counter",
            f"shebao_jobs_redispatched_total {redispatched}",
        ]
        return lines


JOB_METRICS = JobMetrics()  # this process's jobs (a worker, or the embedded API)


async def queue_depth_lines(redis, queue_name: str) -> list[str]:
    """The number of jobs waiting in the arq queue (a sorted set); nothing when Redis does not answer."""
    try:
        depth = await asyncio.wait_for(redis.zcard(queue_name), QUEUE_DEPTH_TIMEOUT)
    except Exception as exc:
        log.warning("queue depth unavailable: %s: %s", type(exc).__name__, exc)
        return []
    return [
        "# HELP shebao_queue_depth Jobs waiting in the queue.",
        "# TYPE shebao_queue_depth gauge",
        f'shebao_queue_depth{{queue="{_label(queue_name)}"}} {depth}',
    ]
