"""Approving pending points when they fall due (`points_due_at`).

Per entry, one transaction: the entry goes pending → approved (a conditional update on
`status = 'pending'`, which is also what makes a second run, or a concurrent one, change
nothing), is stamped `points_given_at`, becomes a lot to spend (`points_remaining`) with the
shop's expiry counted from now; the customer's points move from pending to current and lifetime
(atomic `x = x ± n`); the tier is recalculated; a `points_approved` activity row and the
customer-sync intents (carrying the "points approved" event) are written. An entry rejected
meanwhile (its order cancelled) is left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.customers.tier import recalculate_tier
from loyalty.lifecycle import LifecycleRun
from loyalty.models import Activity, ActorType, Shop
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.sync.events import APPROVED

# Served by the partial index on pending entries by due date (migration 0005).
_DUE_SQL = """
SELECT id FROM earning_history_entry
WHERE status = 'pending' AND points_due_at <= $1 AND shop_id = $2
ORDER BY points_due_at, id LIMIT $3
"""

_APPROVE_SQL = """
UPDATE earning_history_entry
SET status = 'approved', points_given_at = $2, points_remaining = points,
    points_expiry_at = $3, updated_at = $2
WHERE id = $1 AND status = 'pending'
RETURNING public_id, shop_id, customer_id, points
"""

_CREDIT_SQL = """
UPDATE customer SET
    points_balance = points_balance + $2,
    lifetime_points = lifetime_points + $2,
    pending_points = CASE WHEN pending_points > $2 THEN pending_points - $2 ELSE 0 END,
    updated_at = $3
WHERE id = $1
"""


async def approve_due(
    *, shop_id: int, now: datetime | None = None, limit: int = 500
) -> LifecycleRun:
    """Approve the shop's pending entries due by `now`, oldest due first (`limit` per run;
    `more` says whether another run is owed). Nothing for an uninstalled shop."""
    now = now or utcnow()
    run = LifecycleRun()
    shop = await Shop.get_or_none(id=shop_id)
    if shop is None or shop.uninstalled_at is not None:
        return run
    due = await sql.fetch_all(_DUE_SQL, now, shop_id, limit)
    expiry = timedelta(days=shop.points_expiry_days) if shop.points_expiry_days else None
    for row in due:
        jobs = await approve_entry(
            entry_id=int(row["id"]), expires_at=now + expiry if expiry else None, now=now
        )
        if jobs is not None:
            run.done += 1
            run.jobs.update(jobs)
    run.more = len(due) == limit
    return run


async def approve_entry(
    *, entry_id: int, expires_at: datetime | None, now: datetime
) -> list[str] | None:
    """Approve one pending entry; returns the sync jobs owed, or None when it was no longer
    pending (approved, rejected or reversed meanwhile)."""
    async with in_transaction():
        approved = await sql.fetch_one(_APPROVE_SQL, entry_id, now, expires_at)
        if approved is None:
            return None
        customer_id, points = int(approved["customer_id"]), int(approved["points"])
        await sql.execute(_CREDIT_SQL, customer_id, points, now)
        shop_id = int(approved["shop_id"])
        await Activity.create(
            shop_id=shop_id,
            customer_id=customer_id,
            kind="points_approved",
            actor_type=ActorType.SYSTEM,
            data={"entry_id": approved["public_id"], "points": points},
            created_at=now,
        )
        await recalculate_tier(customer_id=customer_id, reason="points_approved", now=now)
        return await write_customer_sync_intents(
            shop_id=shop_id,
            customer_id=customer_id,
            reason={"event": APPROVED, "entry_id": approved["public_id"]},
            now=now,
        )
