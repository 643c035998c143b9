"""The dispatcher's timing: urgent kinds (a reward's code) are queued at once and undeferred,
the rest gathered for a moment and deferred. Real database (the dispatcher sweeps at start)."""

from __future__ import annotations

import asyncio
from typing import Any

from loyalty.jobs import JobName
from loyalty.jobs.follow_ups import job_defers
from loyalty.outbox.dispatch import OutboxDispatcher
from loyalty.settings import Settings
from tests.loyalty.sync.harness import RecordingQueue

CODES = JobName.SYNC_REWARD_CODES
METAFIELDS = JobName.SYNC_SHOPIFY_METAFIELDS


class WatchedQueue(RecordingQueue):
    """A RecordingQueue that says when a job arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()

    async def enqueue(
        self, job: JobName, *, job_id: str, defer_seconds: float = 0, **kwargs: Any
    ) -> None:
        await super().enqueue(job, job_id=job_id, defer_seconds=defer_seconds, **kwargs)
        self.arrived.set()


async def queued(queue: WatchedQueue, count: int, *, within: float = 2.0) -> None:
    async with asyncio.timeout(within):
        while len(queue.jobs) < count:
            queue.arrived.clear()
            await queue.arrived.wait()


class TestUrgentKinds:
    async def test_a_reward_code_is_queued_at_once_and_not_deferred(
        self, db: str, settings: Settings
    ) -> None:
        """A redemption owes its code and its metafields: the code's job is queued as soon as
        the dispatcher wakes, with no defer, while the metafields wait for the gather delay
        (here longer than the test) and keep their defer."""
        queue = WatchedQueue()
        dispatcher = OutboxDispatcher(
            queue, delay=30.0, job_defer=1.0, sweep_interval=3600, job_defers=job_defers(settings)
        )
        dispatcher.start()
        try:
            await asyncio.sleep(0.05)  # the start's sweep: nothing owed
            dispatcher.notify(7, [str(METAFIELDS), str(CODES)])
            await queued(queue, 1)
            await asyncio.sleep(0.1)  # nothing else follows it
            assert [(job.job, job.defer_seconds, job.kwargs) for job in queue.jobs] == [
                (CODES, 0, {"shop_id": 7})
            ]
            dispatcher.notify(7, [str(CODES)])  # another one while the metafields gather
            await queued(queue, 2)
            assert queue.jobs[1].job == CODES
        finally:
            await dispatcher.stop()

    async def test_the_rest_is_gathered_then_deferred(self, db: str, settings: Settings) -> None:
        """Without an urgent kind, notifications gather for the delay into one job per kind
        and shop, deferred by the kind's defer."""
        queue = WatchedQueue()
        dispatcher = OutboxDispatcher(
            queue, delay=0.2, job_defer=1.0, sweep_interval=3600, job_defers=job_defers(settings)
        )
        dispatcher.start()
        try:
            await asyncio.sleep(0.05)
            for _ in range(5):
                dispatcher.notify(7, [str(METAFIELDS)])
            await asyncio.sleep(0.1)
            assert queue.jobs == []  # still gathering
            await queued(queue, 1)
            await asyncio.sleep(0.3)
            assert [(job.job, job.defer_seconds) for job in queue.jobs] == [(METAFIELDS, 1.0)]
        finally:
            await dispatcher.stop()
