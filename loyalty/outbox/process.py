"""How long failed work waits: the outbox's backoff, and `RetryLater`, which a sync raises when the
platform (or the shop's connection to it) asks for the whole shop's work to wait.

The runs themselves (leases, owned claims, how each ends) are loyalty.sync.batch.
"""

from __future__ import annotations

import random
from datetime import timedelta

MAX_BACKOFF = timedelta(hours=1)


class RetryLater(Exception):
    """The platform asked us to come back later (a 429's wait, a refused key, an outage): the
    run ends, and the shop's pending work of its kind is held for `after`."""

    def __init__(self, reason: str, *, after: timedelta) -> None:
        super().__init__(reason)
        self.after = after


def backoff(attempt: int) -> timedelta:
    """Capped exponential backoff with full jitter: 5 s, 10 s, 20 s … up to an hour, where
    `attempt` counts real delivery attempts that failed (this one included)."""
    ceiling = min(MAX_BACKOFF.total_seconds(), 5 * 2 ** max(0, min(attempt, 30) - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not crypto


def retry_delay(attempt: int, *, asked: timedelta | None = None) -> timedelta:
    """The wait before the next attempt: what the platform asked (`Retry-After`), but never less
    than the backoff for this many failed attempts, so a long refusal is retried less and less
    often (at most hourly) rather than every minute for hours."""
    grown = backoff(attempt)
    return max(asked, grown) if asked is not None else grown
