"""Which loyalty events each platform has (or may have): at most one copy per event.

An event is recorded `accepted` the moment the platform answers 2xx, in its own statement, so
whatever happens to the rest of its intent (a later event fails, the worker dies) it is never
sent again. When the answer to an event was lost on a platform that does not document dedupe
by our id, it is recorded `unconfirmed`: not lost (the platform probably has it), never re-sent
automatically, and re-sent only when the merchant asks (`resend_unconfirmed`).
The admin shows each platform's unconfirmed events (`unconfirmed_summary`) so the merchant can
ask. Every query here is scoped to one shop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.jobs import PROFILE_SYNC_JOBS
from loyalty.models import DeliveryStatus, EventDelivery, OutboxIntent, Platform
from loyalty.outbox.claims import reopened
from loyalty.outbox.dead_letters import DeadLetterCustomer, named_customers

log = logging.getLogger(__name__)

NEWEST = 20  # how many of a platform's unconfirmed events the admin lists

_RECORD_SQL = """
INSERT INTO event_delivery (shop_id, platform, event_key, intent_id, status, at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (shop_id, platform, event_key) DO UPDATE
SET status = excluded.status, intent_id = excluded.intent_id, at = excluded.at
"""


async def recorded(*, shop_id: int, platform: str, keys: list[str]) -> set[str]:
    """The keys among `keys` the platform already has, or may have: skip them."""
    if not keys:
        return set()
    found = await EventDelivery.filter(
        shop_id=shop_id, platform=str(platform), event_key__in=keys
    ).values_list("event_key", flat=True)
    return {str(key) for key in found}


async def record(
    *,
    shop_id: int,
    platform: str,  # a Platform, or FLOW (loyalty.sync.flow_triggers)
    key: str,
    intent_id: int,
    status: DeliveryStatus,
    now: datetime,
) -> None:
    await sql.execute(_RECORD_SQL, shop_id, str(platform), key, intent_id, str(status), now)


async def unconfirmed_count(*, shop_id: int, platform: Platform | None = None) -> int:
    query = EventDelivery.filter(shop_id=shop_id, status=DeliveryStatus.UNCONFIRMED)
    if platform is not None:
        query = query.filter(platform=str(platform))
    return await query.count()


@dataclass(frozen=True, slots=True)
class UnconfirmedEvent:
    key: str
    customer_id: int | None  # the customer of the intent that sent it (None: since deleted)
    at: datetime  # when the answer was lost


@dataclass(frozen=True, slots=True)
class UnconfirmedSummary:
    """A platform's unconfirmed events as the admin shows them: how many, the newest, and who."""

    platform: Platform
    count: int
    newest: list[UnconfirmedEvent]
    customers: dict[int, DeadLetterCustomer]  # by our customer id


async def unconfirmed_events(
    *, shop_id: int, platform: Platform, limit: int = NEWEST
) -> list[UnconfirmedEvent]:
    """The shop's unconfirmed events on `platform`, newest first."""
    rows = (
        await EventDelivery.filter(
            shop_id=shop_id, platform=str(platform), status=DeliveryStatus.UNCONFIRMED
        )
        .order_by("-at", "-id")
        .limit(limit)
    )
    intent_ids = {row.intent_id for row in rows}
    owners: dict[int, int | None] = (
        dict(
            await OutboxIntent.filter(shop_id=shop_id, id__in=intent_ids).values_list(
                "id", "customer_id"
            )
        )
        if intent_ids
        else {}
    )
    return [UnconfirmedEvent(row.event_key, owners.get(row.intent_id), row.at) for row in rows]


async def unconfirmed_summary(
    *, shop_id: int, platform: Platform, limit: int = NEWEST
) -> UnconfirmedSummary:
    newest = await unconfirmed_events(shop_id=shop_id, platform=platform, limit=limit)
    customers = await named_customers(shop_id, {event.customer_id for event in newest})
    # The count needs no query when the list is not full: it is the whole of it.
    count = (
        len(newest)
        if len(newest) < limit
        else await unconfirmed_count(shop_id=shop_id, platform=platform)
    )
    return UnconfirmedSummary(platform, count, newest, customers)


async def resend_unconfirmed(
    *, shop_id: int, platform: Platform | None = None, now: datetime | None = None
) -> int:
    """The merchant asks for the shop's unconfirmed events to be sent again (accepting that a
    platform which did get them shows them twice). Each event's intent is made pending again
    with a fresh retry window; events the platform accepted stay skipped. Returns how many
    events will be re-sent. Idempotent: a second call finds none."""
    now = now or utcnow()
    query = EventDelivery.filter(shop_id=shop_id, status=DeliveryStatus.UNCONFIRMED)
    if platform is not None:
        query = query.filter(platform=str(platform))
    async with in_transaction():
        rows = await query.values_list("id", "platform", "intent_id")
        if not rows:
            return 0
        await EventDelivery.filter(id__in=[row_id for row_id, _, _ in rows]).delete()
        for name in sorted({str(p) for _, p, _ in rows}):
            job = PROFILE_SYNC_JOBS[Platform(name)]
            intent_ids = sorted({i for _, p, i in rows if p == name})
            await OutboxIntent.filter(
                Q(completed_at__isnull=False) | Q(claimed_by__isnull=True),
                id__in=intent_ids,
                shop_id=shop_id,
                job=str(job),
            ).update(**reopened(now))
    log.info("shop %s: %d unconfirmed event(s) queued to be sent again", shop_id, len(rows))
    return len(rows)
