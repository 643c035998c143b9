"""Which loyalty events each platform has (or may have): at most one copy per event.

An event is recorded `accepted` the moment the platform answers 2xx, in its own statement, so
whatever happens to the rest of its intent (a later event fails, the worker dies) it is never
sent again. On a platform that does not document dedupe by our id, an event is recorded
`unconfirmed` *before* its request leaves, and stays so when the answer is lost or the worker
dies with the request in flight: not lost (the platform probably has it), never re-sent
automatically, and re-sent only when the merchant asks (`resend_unconfirmed`). An error answer
removes the mark (`forget`): the platform did not take it, so it is retried.
"""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.jobs import PROFILE_SYNC_JOBS
from loyalty.models import DeliveryStatus, EventDelivery, OutboxIntent, Platform
from loyalty.outbox.claims import reopened

log = logging.getLogger(__name__)

_RECORD_SQL = """
INSERT INTO event_delivery (shop_id, platform, event_key, intent_id, status, at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (shop_id, platform, event_key) DO UPDATE
SET status = excluded.status, intent_id = excluded.intent_id, at = excluded.at
"""


async def recorded(*, shop_id: int, platform: Platform, keys: list[str]) -> set[str]:
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
    platform: Platform,
    key: str,
    intent_id: int,
    status: DeliveryStatus,
    now: datetime,
) -> None:
    await sql.execute(_RECORD_SQL, shop_id, str(platform), key, intent_id, str(status), now)


async def forget(*, shop_id: int, platform: Platform, key: str) -> None:
    """The platform answered that it did not take the event (4xx, 429, 5xx): it may be sent
    again. Only an unconfirmed record is removed; an accepted one stays."""
    await EventDelivery.filter(
        shop_id=shop_id,
        platform=str(platform),
        event_key=key,
        status=DeliveryStatus.UNCONFIRMED,
    ).delete()


async def unconfirmed_count(*, shop_id: int, platform: Platform | None = None) -> int:
    query = EventDelivery.filter(shop_id=shop_id, status=DeliveryStatus.UNCONFIRMED)
    if platform is not None:
        query = query.filter(platform=str(platform))
    return await query.count()


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
