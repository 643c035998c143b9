"""The outbox sweep wired to everything owed: intents, stored webhooks, customer backfills.

The outbox cannot import the webhook inbox or the Shopify backfill (they sit above it), so
this module, at the top of the core, hands their "owed" finders to the outbox's sweep. Use
`sweep` and `OutboxDispatcher` from here; the outbox's own take the finders as a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from loyalty.jobs.names import JobName
from loyalty.outbox import dispatch
from loyalty.outbox.queue import JobQueue
from loyalty.shopify.backfill import owed_backfills
from loyalty.webhooks.inbox import owed_shops


async def _unhandled_webhooks(now: datetime, grace: timedelta) -> Iterable[int]:
    """Shops with webhook deliveries stored but not handled (never queued, or claimed by a
    worker that died)."""
    return await owed_shops(received_before=now - grace, now=now)


async def _unfinished_backfills(now: datetime, grace: timedelta) -> Iterable[int]:
    return await owed_backfills()


OWED: Mapping[JobName, dispatch.OwedShops] = {
    JobName.PROCESS_WEBHOOKS: _unhandled_webhooks,
    JobName.BACKFILL_CUSTOMERS: _unfinished_backfills,
}


async def sweep(
    queue: JobQueue, *, grace: timedelta = timedelta(seconds=5), defer_seconds: float = 0
) -> int:
    """The outbox sweep (loyalty.outbox.dispatch.sweep) over everything owed."""
    return await dispatch.sweep(queue, owed=OWED, grace=grace, defer_seconds=defer_seconds)


class OutboxDispatcher(dispatch.OutboxDispatcher):
    """The outbox dispatcher whose sweep also finds stored webhooks and backfills owed."""

    def __init__(self, queue: JobQueue, **options: Any) -> None:
        options.setdefault("owed", OWED)
        super().__init__(queue, **options)
