"""Approving pending points when they fall due (`points_due_at`).

Per entry, one transaction: the entry goes pending → approved (a conditional update on
`status = 'pending'`, which is also what makes a second run, or a concurrent one, change
nothing), is stamped `points_given_at`, becomes a lot to spend (`points_remaining`) with the
shop's expiry counted from now; the customer's points move from pending to current and lifetime
(atomic `x = x ± n`); the tier is recalculated; a `points_approved` activity row and the
customer-sync intents (carrying the "points approved" event) are written. An entry rejected
meanwhile (its order cancelled) is left alone.

An entry whose points would take the customer past the balance ceiling
(loyalty.earning.ceiling) is rejected instead: nothing is credited, its points leave the
pending balance, a `points_refused` activity and a WARNING say why, and no later run meets it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.earning.ceiling import BalanceLimitReached, fits_sql, record_refusal
from loyalty.lifecycle import LifecycleRun
from loyalty.models import Activity, ActorType, Shop
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.sync.events import APPROVED
from loyalty.tiers.placement import recalculate_tier

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

# No row returned: the credit would pass the balance ceiling (loyalty.earning.ceiling).
_CREDIT_SQL = f"""
UPDATE customer SET
    points_balance = points_balance + $2,
    lifetime_points = lifetime_points + $2,
    pending_points = CASE WHEN pending_points > $2 THEN pending_points - $2 ELSE 0 END,
    updated_at = $3
WHERE id = $1 AND {fits_sql("$2")}
RETURNING id
"""

_REJECT_SQL = """
UPDATE earning_history_entry SET status = 'rejected', note = $3, updated_at = $2
WHERE id = $1 AND status = 'pending'
RETURNING public_id, shop_id, customer_id, points
"""

_REFUSED_NOTE = "Rejected: the points would take the balance past its ceiling"

_UNPEND_SQL = """
UPDATE customer SET
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
    pending (approved, rejected or reversed meanwhile) or was refused at the balance ceiling
    (then rejected instead, see `_refuse`)."""
    async with in_transaction():
        try:
            async with in_transaction():  # a savepoint: a refused credit rolls back alone
                return await _approve(entry_id, expires_at, now)
        except BalanceLimitReached:
            await _refuse(entry_id, now)
            return None


async def _approve(entry_id: int, expires_at: datetime | None, now: datetime) -> list[str] | None:
    approved = await sql.fetch_one(_APPROVE_SQL, entry_id, now, expires_at)
    if approved is None:
        return None
    customer_id, points = int(approved["customer_id"]), int(approved["points"])
    if await sql.fetch_one(_CREDIT_SQL, customer_id, points, now) is None:
        raise BalanceLimitReached(points)  # the savepoint undoes the approval
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


async def _refuse(entry_id: int, now: datetime) -> None:
    """The entry's points cannot be credited (the balance ceiling): it is rejected, so no run
    meets it again, and its points leave the pending balance; nothing is credited. One
    `points_refused` activity says why; the customer's pending points changed, so the syncs
    are owed (as for a rejection by cancellation)."""
    rejected = await sql.fetch_one(_REJECT_SQL, entry_id, now, _REFUSED_NOTE)
    if rejected is None:
        return
    customer_id, points = int(rejected["customer_id"]), int(rejected["points"])
    shop_id = int(rejected["shop_id"])
    await sql.execute(_UNPEND_SQL, customer_id, points, now)
    await record_refusal(
        shop_id=shop_id,
        customer_id=customer_id,
        points=points,
        data={"source": "approval", "entry_id": rejected["public_id"]},
        now=now,
    )
    await write_customer_sync_intents(
        shop_id=shop_id,
        customer_id=customer_id,
        reason={"entry_id": rejected["public_id"]},
        now=now,
    )
