"""Work being retried: a shop's pending intents of some jobs whose last attempt failed
(`last_error` set, not yet delivered nor given up). While there are any, the admin shows the
integration (Shopify's metafield syncs, which have no status row of their own) as failing, with
the newest reason and when the next attempt is due. Scoped to one shop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from loyalty.jobs import JobName
from loyalty.models import OutboxIntent


@dataclass(frozen=True, slots=True)
class Retrying:
    count: int  # pending intents whose last attempt failed
    error: str | None  # why the newest hold began
    retry_at: datetime | None  # when that held work is due again


async def retrying(*, shop_id: int, jobs: Sequence[JobName]) -> Retrying:
    query = OutboxIntent.filter(
        shop_id=shop_id,
        job__in=[str(job) for job in jobs],
        completed_at__isnull=True,
        last_error__isnull=False,
    )
    # The newest hold ends last: its error is the latest the integration answered.
    newest = await query.order_by("-claimed_until", "-id").first()
    if newest is None:
        return Retrying(0, None, None)
    return Retrying(await query.count(), newest.last_error, newest.claimed_until)
