"""Approving pending points when they fall due (`points_due_at`).

Per entry, one transaction: the entry goes pending → approved (a conditional update on
`status = 'pending'`, which is also what makes a second run, or a concurrent one, change
nothing), is stamped `points_given_at`, becomes a lot to spend (`points_remaining`) with the
shop's expiry counted from now; the customer's points move from pending to current and lifetime
(atomic `x = x ± n`); the tier is recalculated; a `points_approved` activity row and the
customer-sync intents (carrying the "points approved" event) are written. An entry rejected
meanwhile (its order cancelled) is left alone.

An entry whose points would take the customer past the balance ceiling
(loyalty.ledger.ceiling) is rejected instead: nothing is credited, its points leave the
pending balance, a `points_refused` activity and a WARNING say why, and no later run meets it.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.db import dialect
from loyalty.ledger import approvals_pg
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.balances import approve_pending_points, release_pending_points
from loyalty.ledger.ceiling import BalanceLimitReached, record_refusal
from loyalty.ledger.entries import approve_pending, reject_pending
from loyalty.ledger.tiers import recalculate_tier
from loyalty.ledger.timing import lot_expiry
from loyalty.lifecycle import LifecycleRun
from loyalty.models import Shop
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.sync.events import APPROVED

# Served by the partial index on pending entries by due date (migration 0005).
_DUE_SQL = """
SELECT id FROM earning_history_entry
WHERE status = 'pending' AND points_due_at <= $1 AND shop_id = $2
ORDER BY points_due_at, id LIMIT $3
"""

TIER_REASON = "points_approved"  # why an approval moved the tier (activity and intents)
_REFUSED_NOTE = "Rejected: the points would take the balance past its ceiling"


async def approve_due(
    *, shop_id: int, now: datetime | None = None, limit: int = 10_000
) -> LifecycleRun:
    """Approve the shop's pending entries due by `now`, oldest due first (`limit` per run;
    `more` says whether another run is owed). Nothing for an uninstalled shop."""
    now = now or utcnow()
    run = LifecycleRun()
    shop = await Shop.get_or_none(id=shop_id)
    if shop is None or shop.uninstalled_at is not None:
        return run
    due = [int(row["id"]) for row in await sql.fetch_all(_DUE_SQL, now, shop_id, limit)]
    run.more = len(due) == limit
    expires_at = lot_expiry(now, shop.points_expiry_days)
    if dialect() == "postgres":
        run.done, jobs, due = await approvals_pg.approve_entries(
            shop_id=shop_id,
            entry_ids=due,
            expires_at=expires_at,
            event=APPROVED,
            reason=TIER_REASON,
            now=now,
        )
        run.jobs.update(jobs)
    for entry_id in due:
        owed = await approve_entry(entry_id=entry_id, expires_at=expires_at, now=now)
        if owed is not None:
            run.done += 1
            run.jobs.update(owed)
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
    approved = await approve_pending(entry_id, now=now, expires_at=expires_at)
    if approved is None:
        return None
    customer_id, points = int(approved["customer_id"]), int(approved["points"])
    if not await approve_pending_points(customer_id=customer_id, points=points, now=now):
        raise BalanceLimitReached(points)  # the savepoint undoes the approval
    shop_id = int(approved["shop_id"])
    data = {"entry_id": approved["public_id"], "points": points}
    await record(ActivityRow(shop_id, customer_id, "points_approved", now, data))
    await recalculate_tier(customer_id=customer_id, reason=TIER_REASON, now=now)
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
    rejected = await reject_pending(entry_id, note=_REFUSED_NOTE, now=now)
    if rejected is None:
        return
    customer_id, points = int(rejected["customer_id"]), int(rejected["points"])
    shop_id = int(rejected["shop_id"])
    await release_pending_points(customer_id=customer_id, points=points, now=now)
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
