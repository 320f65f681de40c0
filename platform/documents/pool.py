"""The process pool that renders PDFs, and what a process offers its jobs.

WeasyPrint is CPU-bound: rendering on the event loop would stall every other job and request of
the process. Each API or worker process keeps a small pool (``SHEBAO_RENDER_PROCESSES``, default 1)
of spawned processes; only the HTML string goes across, the PDF bytes come back.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from shebao.platform.config import Settings
from shebao.platform.documents.render import render_pdf
from shebao.platform.storage.factory import storage_for


class RenderPool:
    def __init__(self, processes: int = 1):
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:  # started on first use: a process that never renders pays nothing
            context = multiprocessing.get_context("spawn")  # no fork of a process holding an event loop
            self._executor = ProcessPoolExecutor(max_workers=self.processes, mp_context=context)
        return self._executor

    async def pdf(self, html: str) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._pool(), render_pdf, html)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def job_context(settings: Settings) -> dict[str, Any]:
    """What job handlers find in ``run.context``."""
    return {"storage": storage_for(settings), "render": RenderPool(settings.render_processes)}
