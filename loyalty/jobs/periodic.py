"""The embedded default's clock: runs the periodic jobs (loyalty.jobs.registry.PERIODIC_JOBS) in
the web process when there is no arq worker, each once at start and then every interval.

One process, one loop, one job at a time: no two passes of a scheduler ever overlap, which is
what the workers' Redis locks give the arq crons. A failing pass is logged and tried again at
its next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from loyalty.background import finish_or_cancel

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    interval: float  # seconds
    run: Callable[[], Awaitable[object]]


class PeriodicRunner:
    def __init__(self, jobs: Sequence[Periodic]) -> None:
        self._jobs = list(jobs)
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def jobs(self) -> tuple[Periodic, ...]:
        return tuple(self._jobs)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="periodic-jobs")

    async def stop(self, *, grace: float = 10.0) -> None:
        """Let the pass in progress finish (never cancelled mid-query), then end the loop."""
        self._stopping = True
        self._wake.set()
        await finish_or_cancel(self._task, grace=grace)

    async def run(self) -> None:
        next_at = {job.name: time.monotonic() for job in self._jobs}
        while not self._stopping and self._jobs:
            now = time.monotonic()
            for job in self._jobs:
                if self._stopping:
                    return
                if next_at[job.name] <= now:
                    try:
                        await job.run()
                    except Exception:
                        log.exception(
                            "periodic job %s failed; next try in %ss", job.name, job.interval
                        )
                    next_at[job.name] = time.monotonic() + job.interval
            sleep_for = max(0.0, min(next_at.values()) - time.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(sleep_for):
                    await self._wake.wait()
