"""Running intents: claim a batch of one kind for one shop, hand it to the kind's handler,
then complete it, or record the failure and hold the batch for a backed-off retry.

Safe to run twice or concurrently: claims are exclusive while they last, handlers push
*current* state (so a repeat is harmless), and completion is conditional.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.outbox.intents import (
    ClaimedIntent,
    claim_intents,
    complete_intents,
    release_intents,
)

log = logging.getLogger(__name__)

D = TypeVar("D")
IntentHandler = Callable[[D, int, list[ClaimedIntent]], Awaitable[None]]

MAX_BACKOFF = timedelta(hours=1)


class RetryLater(Exception):
    """Raised by a handler when the partner asked us to come back later (429 Retry-After)."""

    def __init__(self, reason: str, *, after: timedelta) -> None:
        super().__init__(reason)
        self.after = after


def backoff(attempt: int) -> timedelta:
    """Capped exponential backoff with full jitter: 5 s, 10 s, 20 s … up to an hour."""
    ceiling = min(MAX_BACKOFF.total_seconds(), 5 * 2 ** max(0, attempt - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not crypto


async def process_intents(
    *,
    job: JobName,
    shop_id: int,
    handler: IntentHandler[D],
    deps: D,
    batch_size: int = 200,
    claim_for: timedelta = timedelta(minutes=2),
) -> int:
    """Work through every pending intent of `job` for `shop_id`. Returns how many completed."""
    completed = 0
    while True:
        intents = await claim_intents(
            job=job, shop_id=shop_id, limit=batch_size, claim_for=claim_for
        )
        if not intents:
            return completed
        ids = [intent.id for intent in intents]
        attempt = max(intent.attempts for intent in intents)
        try:
            await handler(deps, shop_id, intents)
        except RetryLater as exc:
            await release_intents(ids, error=str(exc), retry_at=utcnow() + exc.after)
            log.info("%s for shop %s deferred: %s", job, shop_id, exc)
            return completed
        except Exception as exc:
            await release_intents(ids, error=repr(exc), retry_at=utcnow() + backoff(attempt))
            raise
        await complete_intents(ids)
        completed += len(ids)
