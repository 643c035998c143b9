"""After commit: push owed jobs to the queue; periodically: sweep for intents left behind.

`notify` is synchronous and costs a set insert, so the request path never waits on Redis. The
background loop gathers notifications for a moment and enqueues one job per (kind, shop),
which is what turns a burst of awards into one sync. A kind whose defer is 0 (`job_defers`: the
reward codes, which a shopper waits for at checkout) is urgent: it is enqueued as soon as the
loop wakes, neither gathered nor deferred (the queue's job id still coalesces a burst into one
job). If the queue is down, the intents stay in the database and the next sweep dispatches
them; the sweep also re-queues webhook deliveries stored but never handled.

The outbox sits below the services that own other owed work (stored webhooks, customer
backfills): the sweep is handed their finders (`Owed`, wired in loyalty.jobs.sweep) rather
than importing them, so no import points up out of the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from loyalty.background import finish_or_cancel
from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.outages import OutageLog
from loyalty.outbox import leases
from loyalty.outbox.intents import due_groups
from loyalty.outbox.queue import JobQueue

log = logging.getLogger(__name__)

# Finds the shops owed one more job: called with (now, grace), returns shop ids.
OwedShops = Callable[[datetime, timedelta], Awaitable[Iterable[int]]]
Owed = Mapping[JobName, OwedShops]

LAPSED_LEASE_KEPT = timedelta(hours=1)  # then a dead run's lease row is deleted by the sweep


def coalescing_job_id(job: str, shop_id: int, *, window_seconds: float = 1.0) -> str:
    """One job id per (kind, shop, time window): repeats within the window are dropped by the
    queue, while a later window always gets through even if an earlier job is still running."""
    return f"{job}:{shop_id}:{int(time.time() // window_seconds)}"


async def sweep(
    queue: JobQueue,
    *,
    owed: Owed | None = None,
    grace: timedelta = timedelta(seconds=5),
    defer_seconds: float = 0,
) -> int:
    """Enqueue a job for every (kind, shop) with intents nobody is working on, and for every
    shop one of the `owed` finders names (e.g. `process_webhooks` for webhook deliveries
    stored but not handled). Deletes sync leases dead runs left behind. Idempotent."""
    now = utcnow()
    await leases.forget_lapsed(before=now - LAPSED_LEASE_KEPT)
    groups = await due_groups(created_before=now - grace, now=now)
    for owed_job, find in (owed or {}).items():
        groups += [(str(owed_job), shop_id) for shop_id in await find(now, grace)]
    for job, shop_id in groups:
        await queue.enqueue(
            JobName(job),
            job_id=coalescing_job_id(job, shop_id),
            defer_seconds=defer_seconds,
            shop_id=shop_id,
        )
    if groups:
        log.info("outbox sweep dispatched %d job(s)", len(groups))
    return len(groups)


class _QueueDownError(Exception):
    """An enqueue failed; already logged (once per outage) by the dispatcher."""


class _WatchedQueue:
    """The dispatcher's queue, reporting each enqueue's outcome to the outage log: one WARNING
    when enqueueing starts failing and one when it works again, however many requests meet
    the outage."""

    def __init__(self, queue: JobQueue, health: OutageLog) -> None:
        self._queue = queue
        self._health = health

    async def enqueue(
        self, job: JobName, *, job_id: str, defer_seconds: float = 0, **kwargs: Any
    ) -> None:
        try:
            await self._queue.enqueue(job, job_id=job_id, defer_seconds=defer_seconds, **kwargs)
        except Exception as exc:  # Redis down: the sweep re-dispatches from the database
            self._health.failed(exc)
            raise _QueueDownError from exc
        self._health.succeeded()


class OutboxDispatcher:
    def __init__(
        self,
        queue: JobQueue,
        *,
        delay: float = 0.2,
        job_defer: float = 1.0,
        sweep_interval: float = 15.0,
        job_defers: Mapping[str, float] | None = None,
        owed: Owed | None = None,
    ) -> None:
        self.queue = queue
        self.health = OutageLog(
            log,
            down="job queue unreachable (%s); jobs are left to the outbox sweep, which "
            "dispatches them from the database once the queue is back",
            back="job queue back after %.1f s",
        )
        self._watched = _WatchedQueue(queue, self.health)
        self._delay = delay
        self._job_defer = job_defer
        # Per-kind defers (the marketing syncs wait longer, so a burst becomes one write per
        # customer); the coalescing window is as long as the defer, so one job per window.
        self._job_defers = dict(job_defers or {})
        self._sweep_interval = sweep_interval
        self._owed = owed
        self._pending: set[tuple[str, int]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-dispatcher")

    async def stop(self, *, grace: float = 10.0) -> None:
        """Finish the step in progress, then end the loop. Never cancelled mid-query: a
        cancellation landing inside a database call can leave SQLite's connection lock held."""
        self._stopping = True
        self._wake.set()
        await finish_or_cancel(self._task, grace=grace)

    def notify(self, shop_id: int, jobs: Iterable[str]) -> None:
        """Called after a commit that wrote intents. Never blocks, never raises."""
        for job in jobs:
            self._pending.add((job, shop_id))
        self._wake.set()

    def _defer(self, job: str) -> float:
        return self._job_defers.get(job, self._job_defer)

    async def flush(self, *, urgent_only: bool = False) -> int:
        """Enqueue everything notified so far (only the urgent kinds: `urgent_only`). A queue
        failure is logged, not raised."""
        if urgent_only:
            pending = {(job, shop) for job, shop in self._pending if self._defer(job) == 0}
            self._pending -= pending
        else:
            pending, self._pending = self._pending, set()
        sent = 0
        for job, shop_id in sorted(pending):
            defer = self._defer(job)
            try:
                await self._watched.enqueue(
                    JobName(job),
                    job_id=coalescing_job_id(job, shop_id, window_seconds=max(1.0, defer)),
                    defer_seconds=defer,
                    shop_id=shop_id,
                )
                sent += 1
            except _QueueDownError:  # logged by `health`; the sweep re-dispatches
                pass
        return sent

    async def sweep(self) -> int:
        try:
            return await sweep(self._watched, owed=self._owed, defer_seconds=self._job_defer)
        except _QueueDownError:  # logged by `health`
            return 0
        except Exception as exc:
            log.warning("outbox sweep failed (%s); retrying in %ss", exc, self._sweep_interval)
            return 0

    async def run(self) -> None:
        """The background loop, until `stop()`. Sweeps once at start (recovering work from
        before a restart), then on every interval."""
        await self.sweep()
        next_sweep = time.monotonic() + self._sweep_interval
        gathered: float | None = None  # when the burst being gathered is flushed
        while not self._stopping:
            timeout = max(0.0, min(next_sweep, gathered or next_sweep) - time.monotonic())
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that lands
            # as the event fires, and the loop would then outlive the app's shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            self._wake.clear()  # before any await: a notify from here on wakes the next pass
            if self._stopping:
                break
            await self.flush(urgent_only=True)  # a shopper waits on these: at once
            if self._pending and gathered is None:
                gathered = time.monotonic() + self._delay  # gather a burst into one job a shop
            if gathered is not None and time.monotonic() >= gathered:
                gathered = None
                await self.flush()
            if time.monotonic() >= next_sweep:
                await self.sweep()
                next_sweep = time.monotonic() + self._sweep_interval
