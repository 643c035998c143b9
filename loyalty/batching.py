"""Group commit, generic: what a process asks for in the same event-loop turn runs as one batch.

`TurnBatcher(run)` gathers the items submitted while the loop turns: whatever arrived in the
same turn goes now (a request never waits for a batch to fill), and while `max_in_flight`
batches are running the next one keeps filling, up to `max_batch`. `run(items)` answers one
outcome per item, in order: a value, or an exception that its submitter alone receives. When
`run` itself raises, every item of the batch receives that exception.

The award's batch (loyalty.ledger.award_batch) and the redemption's
(loyalty.rewards.redeem_batch) run on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class TurnBatcher(Generic[T, R]):
    """Batches of `T` run by `run`, each submitter answered with its own `R` (or exception)."""

    def __init__(
        self,
        run: Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]],
        *,
        max_batch: int = 64,
        max_in_flight: int | Callable[[], int] = 4,
    ) -> None:
        """`max_in_flight` may be a function, asked on first use (in the running loop): how
        many batches may run at once can depend on the database, not known at construction."""
        self._run_batch = run
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._slots: asyncio.Semaphore | None = None  # made on first use, in the running loop
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.largest_batch = 0

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if not self._scheduled:
            self._schedule()
        return await future

    def _schedule(self) -> None:
        self._scheduled = True
        task = asyncio.get_running_loop().create_task(self._drain())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        if self._slots is None:
            limit = self._max_in_flight
            self._slots = asyncio.Semaphore(limit() if callable(limit) else limit)
        async with self._slots:  # waiting for a slot is what lets a busy process batch more
            batch, self._waiting = (
                self._waiting[: self._max_batch],
                self._waiting[self._max_batch :],
            )
            self._scheduled = False
            if self._waiting:  # more than one batch arrived at once: the rest go next
                self._schedule()
            await self._run(batch)

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        try:
            outcomes: Sequence[R | BaseException] = await self._run_batch(
                [item for item, _ in batch]
            )
        except Exception as exc:
            outcomes = [exc] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # the caller went away (client disconnected); its outcome stands
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
