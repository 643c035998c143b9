"""Re-sync every customer of a shop to Shopify metafields and the enabled marketing platforms,
started by the merchant from the admin (after connecting a platform, or to repair drift).

One statement owes a sync of each customer everywhere it is shown (the same intents a change
to one customer writes), and a shop-level activity row records who asked and how many
intents that made. The intents share the request's timestamp, so progress is the number of
them still pending: the jobs that deliver them complete them as they go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.errors import ConflictError
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import Activity, ActorType, Customer, OutboxIntent, Shop
from loyalty.outbox.intents import CUSTOMER_SYNC_JOBS_SQL

RESYNC_REQUESTED = "customers_resync_requested"

_OWE_ALL_SQL = f"""
INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
SELECT $1, c.id, jobs.job, $2, $3, 0
FROM customer c CROSS JOIN ({CUSTOMER_SYNC_JOBS_SQL}) AS jobs
WHERE c.shop_id = $1 AND c.redacted_at IS NULL
"""


@dataclass(frozen=True, slots=True)
class ResyncStatus:
    requested_at: datetime | None  # None: never asked for
    customers: int
    total: int  # intents the request made
    remaining: int  # still to deliver
    retrying: int  # of those, how many failed at least once and wait for a retry
    last_error: str | None

    @property
    def done(self) -> int:
        return self.total - self.remaining

    @property
    def in_progress(self) -> bool:
        return self.remaining > 0


@dataclass(frozen=True, slots=True)
class ResyncStarted:
    status: ResyncStatus
    jobs: list[str]  # to notify after commit


async def request_resync(
    *, shop: Shop, staff_user_id: str | None, now: datetime | None = None
) -> ResyncStarted:
    """Owe a sync of every customer (redacted ones excepted). Raises ConflictError while the
    previous re-sync still has updates to deliver, so a double click never doubles the work."""
    now = now or utcnow()
    async with in_transaction():
        # One request at a time per shop (PostgreSQL; SQLite has one writer anyway).
        await Shop.filter(id=shop.id).select_for_update(no_key=True).first()
        current = await resync_status(shop=shop)
        if current.in_progress:
            raise ConflictError(
                f"A re-sync is already running: {current.remaining} of {current.total} "
                "updates are still to be sent"
            )
        customers = await Customer.filter(shop=shop, redacted_at__isnull=True).count()
        await sql.execute(_OWE_ALL_SQL, shop.id, json.dumps({"reason": "bulk_resync"}), now)
        # Counted, not taken from the statement: asyncpg reports no row count for an
        # INSERT … SELECT through Tortoise. The request's timestamp is its intents' identity.
        total = await OutboxIntent.filter(shop_id=shop.id, created_at=now).count()
        data = {"customers": customers, "intents": total}
        actor = (ActorType.STAFF, staff_user_id)
        await record(ActivityRow(shop.id, None, RESYNC_REQUESTED, now, data, *actor))
        rows = await sql.fetch_all(CUSTOMER_SYNC_JOBS_SQL, shop.id) if total else []
    status = ResyncStatus(now, customers, total, total, 0, None)
    return ResyncStarted(status=status, jobs=sorted({row["job"] for row in rows}))


async def resync_status(*, shop: Shop) -> ResyncStatus:
    """How far the shop's latest re-sync has got."""
    latest = (
        await Activity.filter(shop_id=shop.id, customer_id__isnull=True, kind=RESYNC_REQUESTED)
        .order_by("-created_at", "-id")
        .first()
    )
    if latest is None:
        return ResyncStatus(None, 0, 0, 0, 0, None)
    pending = OutboxIntent.filter(
        shop_id=shop.id, completed_at__isnull=True, created_at=latest.created_at
    )
    total = int(latest.data.get("intents", 0))
    remaining = min(await pending.count(), total)
    failing = await pending.filter(last_error__isnull=False).order_by("-id").first()
    return ResyncStatus(
        requested_at=latest.created_at,
        customers=int(latest.data.get("customers", 0)),
        total=total,
        remaining=remaining,
        retrying=await pending.filter(last_error__isnull=False).count(),
        last_error=failing.last_error if failing is not None else None,
    )
