"""Where dispatched jobs go: arq on Redis in production, this process in the embedded default.

Both implement `JobQueue`. A repeated `job_id` is a no-op while that job is waiting, which is
what coalesces bursts. Nothing here imports arq: `ArqJobQueue` wraps whatever object has arq's
`enqueue_job` (an `ArqRedis` pool from the web lifespan or a worker's `ctx["redis"]`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from loyalty.jobs import JobName

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    async def enqueue(
        self, job: JobName, *, job_id: str, defer_seconds: float = 0, **kwargs: Any
    ) -> None: ...


class EnqueuesJobs(Protocol):
    async def enqueue_job(self, function: str, *args: Any, **kwargs: Any) -> Any: ...


class ArqJobQueue:
    def __init__(self, redis: EnqueuesJobs) -> None:
        self._redis = redis

    async def enqueue(
        self, job: JobName, *, job_id: str, defer_seconds: float = 0, **kwargs: Any
    ) -> None:
        await self._redis.enqueue_job(
            str(job), _job_id=job_id, _defer_by=defer_seconds or None, **kwargs
        )


# A job as this queue runs it: called with the queue itself (for the job's follow-ups) and the
# job's keyword arguments; the process's dependencies are bound already (loyalty.jobs.in_process).
QueuedJob = Callable[..., Awaitable[Any]]


class InProcessJobQueue:
    """Runs jobs as tasks of this event loop, with arq's semantics where they matter here:
    an id already waiting is not queued twice, and a failing job is logged, not raised into the
    caller. A job's follow-ups come back to this queue, so they run as jobs too. Lost on
    restart by design: the outbox sweep finds the work again."""

    def __init__(self, functions: Mapping[JobName, QueuedJob]) -> None:
        self._functions = functions
        self._waiting: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def enqueue(
        self, job: JobName, *, job_id: str, defer_seconds: float = 0, **kwargs: Any
    ) -> None:
        if job_id in self._waiting:
            return
        self._waiting.add(job_id)
        task = asyncio.create_task(
            self._run(job_id, self._functions[job], defer_seconds, kwargs), name=f"job:{job_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, job_id: str, function: QueuedJob, defer: float, kwargs: dict[str, Any]
    ) -> None:
        try:
            if defer:
                await asyncio.sleep(defer)
        finally:
            # Free the id once the job starts: a change committed while it runs may queue
            # a follow-up, so nothing waits for the sweep.
            self._waiting.discard(job_id)
        try:
            await function(self, **kwargs)
        except Exception:
            log.exception("in-process job %s failed; the outbox sweep will retry it", job_id)

    async def drain(self, *, grace: float | None = None) -> None:
        """Wait for every queued job, including ones queued meanwhile (tests, shutdown). Past
        `grace` seconds the rest are cancelled: every job is resumable from the database."""
        try:
            async with asyncio.timeout(grace):
                while self._tasks:
                    await asyncio.gather(*list(self._tasks), return_exceptions=True)
        except TimeoutError:
            log.warning(
                "%d in-process job(s) still running at shutdown: cancelled", len(self._tasks)
            )
            await self.close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._tasks.clear()
        self._waiting.clear()
