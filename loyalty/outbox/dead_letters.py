"""Dead letters: intents given up after their retry window (or refused outright by a platform),
kept completed with `dead_at` and why, until the merchant retries them.

A retry makes them pending again with a new window (`retry_from`) and no attempts; events their
platform already accepted stay skipped (loyalty.outbox.deliveries), so a retry sends only what
never arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.queryset import QuerySet

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import OutboxIntent
from loyalty.outbox.claims import reopened


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    job: str
    customer_id: int | None
    dead_at: datetime
    attempts: int
    last_error: str | None


def _dead(shop_id: int, job: JobName | None) -> QuerySet[OutboxIntent]:
    query = OutboxIntent.filter(shop_id=shop_id, dead_at__isnull=False)
    return query.filter(job=str(job)) if job is not None else query


async def dead_letters(
    *, shop_id: int, job: JobName | None = None, limit: int = 100
) -> list[DeadLetter]:
    """The shop's dead letters, newest first."""
    rows = await _dead(shop_id, job).order_by("-dead_at", "-id").limit(limit)
    return [
        DeadLetter(r.id, r.job, r.customer_id, r.dead_at, r.attempts, r.last_error)
        for r in rows
        if r.dead_at is not None
    ]


async def dead_letter_count(*, shop_id: int, job: JobName | None = None) -> int:
    return await _dead(shop_id, job).count()


async def retry_dead_letters(
    *, shop_id: int, job: JobName | None = None, now: datetime | None = None
) -> int:
    """Make the shop's dead letters (of `job`, or all) pending again, each with a new retry
    window starting now. Returns how many; a second call finds none. The caller notifies the
    dispatcher (or the sweep finds them)."""
    return int(await _dead(shop_id, job).update(**reopened(now or utcnow())))
