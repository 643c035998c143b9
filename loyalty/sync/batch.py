"""One run of a customer-sync handler: the intents it holds, grouped by customer, and how they
end.

- Whole customers: the claimed batch is extended with the same customers' other pending intents
  of the kind, so each customer is written once per run however many changes are queued for
  them (with the dispatcher's defer, a burst of changes becomes one profile write).
- Claims are renewed while the run works (`renew`), so a long run paced by a partner's limits
  is never taken for a dead one and handed to a second worker.
- Progress is committed as it is made (`done`): an intent completed is never re-sent, even if
  the run dies a moment later; what a dead run was in the middle of is re-sent with the same
  event keys, which the platforms deduplicate.
- A run has a time budget (`out_of_time`); past it, the rest is handed back (`hand_back`) for
  another run, so no job outlives the worker's job timeout.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.outbox.intents import (
    ClaimedIntent,
    claim_customer_intents,
    complete_intents,
    extend_claims,
    give_up_intents,
    release_intents,
)

CLAIM_FOR = timedelta(minutes=2)  # process_intents' claim; renewed well before it lapses
RENEW_EVERY = 30.0  # seconds
# After this many attempts an intent is given up on (about a day at the outbox's backoff).
MAX_ATTEMPTS = 30


@dataclass
class SyncRun:
    job: JobName
    shop_id: int
    intents: list[ClaimedIntent]
    deadline: float  # time.monotonic() past which the run hands back what is left
    finished: set[int] = field(default_factory=set)
    _renewed: float = field(default_factory=time.monotonic)

    @classmethod
    async def start(
        cls, *, job: JobName, shop_id: int, intents: list[ClaimedIntent], deadline: float
    ) -> SyncRun:
        customer_ids = sorted({i.customer_id for i in intents if i.customer_id is not None})
        more = await claim_customer_intents(
            job=job, shop_id=shop_id, customer_ids=customer_ids, claim_for=CLAIM_FOR
        )
        run = cls(job, shop_id, sorted([*intents, *more], key=lambda i: i.id), deadline)
        await run._give_up_stale()
        return run

    async def _give_up_stale(self) -> None:
        stale = [i.id for i in self.intents if i.attempts > MAX_ATTEMPTS]
        if stale:
            await give_up_intents(stale, error=f"given up after {MAX_ATTEMPTS} attempts")
            self.finished.update(stale)

    def by_customer(self) -> dict[int | None, list[ClaimedIntent]]:
        grouped: dict[int | None, list[ClaimedIntent]] = defaultdict(list)
        for intent in self.intents:
            if intent.id not in self.finished:
                grouped[intent.customer_id].append(intent)
        return dict(grouped)

    def open_ids(self) -> list[int]:
        return [i.id for i in self.intents if i.id not in self.finished]

    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    async def renew(self) -> None:
        if time.monotonic() - self._renewed >= RENEW_EVERY:
            await extend_claims(self.open_ids(), until=utcnow() + CLAIM_FOR)
            self._renewed = time.monotonic()

    async def done(self, intents: list[ClaimedIntent]) -> None:
        ids = [i.id for i in intents if i.id not in self.finished]
        await complete_intents(ids)
        self.finished.update(ids)

    async def give_up(self, intents: list[ClaimedIntent], *, error: str) -> None:
        ids = [i.id for i in intents if i.id not in self.finished]
        await give_up_intents(ids, error=error)
        self.finished.update(ids)

    async def hand_back(self, *, error: str, retry_at: datetime | None = None) -> None:
        """Keep what is left pending, held until `retry_at` (now: the sweep's next pass)."""
        ids = self.open_ids()
        await release_intents(ids, error=error, retry_at=retry_at or utcnow())
        self.finished.update(ids)
