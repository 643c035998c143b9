"""Points expiry, per lot at its `points_expiry_at`, and the "expiring soon" notice.

Expiry, under the customer's row lock (so spending, reversals and a concurrent expiry run see
each other; the lots are re-read under it, so a spend that committed since the round read them
is not expired again):
- the customer's lots past their date, oldest first, each get a ledger entry (action
  `points_expired`, status approved, `reversed_entry` = the lot, dedupe key
  `expiry:<lot id>` unique per customer: a lot expires once however often this runs) and the
  lot's `points_remaining` drops to 0;
- never below zero: an entry takes at most what the balance still holds. `base_points` is what
  the lot had left (negative), `points` what left the balance; a shortfall (points spent
  without drawing on lots) is noted;
- lifetime points and the tier are left alone: lifetime points count what was ever earned;
- an activity row and the customer-sync intents (one "points expired" event per lot).

Notice: customers (not excluded) with lots expiring within the next 7 days get one "points
expiring soon" event per 7 days: `expiring_soon_notified_at` moves with a conditional update,
so only one run ever sends a given notice.

A round reads its lots (or notices) with one query; on PostgreSQL it then writes them all in
one transaction of two statements (loyalty.ledger.expiry_pg, the same rules in SQL: a big
shop's day is thousands of customers); on SQLite (one writer, small shops) a transaction per
customer, below.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.clock import isoformat_z, parse_db_datetime, utcnow
from loyalty.db import dialect
from loyalty.ledger import expiry_pg
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.balances import debit
from loyalty.ledger.entries import NewEntry, insert_entry, taking_back
from loyalty.ledger.lots import empty_lot
from loyalty.lifecycle import LifecycleRun
from loyalty.models import Customer, EarningHistoryEntry, Shop
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.sync.events import EXPIRED, EXPIRING_SOON
from loyalty.sync.state import shop_zone

ACTION = "points_expired"
NOTICE_WINDOW = timedelta(days=7)

# A round takes the `limit` lots that fell due first (so a customer's older lots always go
# before their newer ones, whichever round they fall in), read in expiry order from the open-lot
# index (migration 0017), then grouped by customer. Cutting the round in customer order instead
# made PostgreSQL walk every open lot of the shop looking for due ones (seconds a round on a big
# shop, bench/scale).
_EXPIRED_LOTS_SQL = """
SELECT id, public_id, customer_id, rule_id, points_remaining FROM (
    SELECT id, public_id, customer_id, rule_id, points_remaining, points_expiry_at
    FROM earning_history_entry
    WHERE shop_id = $1 AND status = 'approved' AND points_remaining > 0
      AND points_expiry_at <= $2
    ORDER BY points_expiry_at, id
    LIMIT $3
) AS due
ORDER BY customer_id, points_expiry_at, id
"""

_EXPIRING_SOON_SQL = """
SELECT e.customer_id, SUM(e.points_remaining) AS points, MIN(e.points_expiry_at) AS first_expiry
FROM earning_history_entry e JOIN customer c ON c.id = e.customer_id
WHERE e.shop_id = $1 AND e.status = 'approved' AND e.points_remaining > 0
  AND e.points_expiry_at > $2 AND e.points_expiry_at <= $3
  AND NOT c.is_excluded AND c.redacted_at IS NULL
  AND (c.expiring_soon_notified_at IS NULL OR c.expiring_soon_notified_at <= $4)
GROUP BY e.customer_id
ORDER BY e.customer_id
LIMIT $5
"""


@dataclass(frozen=True, slots=True)
class _Lot:
    id: int
    public_id: str
    rule_id: int | None
    remaining: int


async def expire_due(
    *, shop_id: int, now: datetime | None = None, limit: int = 10_000
) -> LifecycleRun:
    """Expire the shop's lots past their date (`limit` lots per run; `more` when more are
    left). Nothing for an uninstalled shop."""
    now = now or utcnow()
    run = LifecycleRun()
    shop = await Shop.get_or_none(id=shop_id)
    if shop is None or shop.uninstalled_at is not None:
        return run
    rows = await sql.fetch_all(_EXPIRED_LOTS_SQL, shop_id, now, limit)
    run.more = len(rows) == limit
    if dialect() == "postgres":
        expired, jobs = await expiry_pg.expire_lots(
            shop_id=shop_id, lots=rows, action=ACTION, event=EXPIRED, now=now
        )
        run.done, run.jobs = expired, set(jobs)
        return run
    lots: dict[int, list[_Lot]] = defaultdict(list)
    for row in rows:
        lots[int(row["customer_id"])].append(
            _Lot(int(row["id"]), row["public_id"], row["rule_id"], int(row["points_remaining"]))
        )
    for customer_id, customer_lots in lots.items():
        expired, jobs = await _expire_for_customer(shop_id, customer_id, customer_lots, now)
        run.done += expired
        run.jobs.update(jobs)
    return run


async def _expire_for_customer(
    shop_id: int, customer_id: int, lots: list[_Lot], now: datetime
) -> tuple[int, list[str]]:
    jobs: set[str] = set()
    expired = 0
    async with in_transaction():
        customer = await Customer.filter(id=customer_id).select_for_update(no_key=True).first()
        if customer is None:
            return 0, []
        balance = max(customer.points_balance, 0)
        taken = 0
        for lot in await _still_open(lots):
            amount = min(lot.remaining, balance - taken)
            entry_id = await _expire_lot(shop_id, customer_id, lot, amount, now)
            if entry_id is None:  # this lot already expired (an earlier run)
                continue
            taken += amount
            expired += 1
            jobs.update(
                await write_customer_sync_intents(
                    shop_id=shop_id,
                    customer_id=customer_id,
                    reason={
                        "event": EXPIRED,
                        "entry_id": entry_id,
                        "expired_entry_id": lot.public_id,
                    },
                    now=now,
                )
            )
        if taken:
            await debit(customer_id=customer_id, balance=taken, now=now)
    return expired, sorted(jobs)


async def _still_open(lots: list[_Lot]) -> list[_Lot]:
    """The lots as they are now, under the customer's lock: a spend that committed since the
    round read them (a redemption) left less, or nothing, to expire."""
    rows = await EarningHistoryEntry.filter(
        id__in=[lot.id for lot in lots], points_remaining__gt=0
    ).values_list("id", "points_remaining")
    now_left = {int(lot_id): int(left) for lot_id, left in rows}
    return [replace(lot, remaining=now_left[lot.id]) for lot in lots if lot.id in now_left]


async def _expire_lot(
    shop_id: int, customer_id: int, lot: _Lot, amount: int, now: datetime
) -> str | None:
    """The lot's expiry entry (taking `amount` from the balance), the lot emptied and the
    activity row; the entry's public id, or None when the lot had already expired."""
    entry_id = ids.new_public_id(ids.EARNING_ENTRY)
    shortfall = lot.remaining - amount
    note = (
        f"{lot.remaining} points expired; the balance held only {amount} (the other "
        f"{shortfall} were already spent)"
        if shortfall
        else None
    )
    inserted = await insert_entry(
        NewEntry(
            public_id=entry_id,
            shop_id=shop_id,
            customer_id=customer_id,
            rule_id=lot.rule_id,
            action=ACTION,
            base_points=-lot.remaining,
            points=-amount,
            timing=taking_back(now),
            dedupe_key=f"expiry:{lot.public_id}",
            created_at=now,
            points_remaining=0,
            note=note,
            reversed_entry_id=lot.id,
        )
    )
    if inserted is None:
        return None
    await empty_lot(lot.id, now)
    data = {
        "entry_id": entry_id,
        "expired_entry_id": lot.public_id,
        "points": -amount,
        "expired": lot.remaining,
    }
    await record(ActivityRow(shop_id, customer_id, ACTION, now, data))
    return entry_id


async def notify_expiring_soon(
    *, shop_id: int, now: datetime | None = None, limit: int = 10_000
) -> LifecycleRun:
    """One "points expiring soon" notice per customer per 7 days, for points expiring within
    the next 7 days (the figures: points, first expiry date in the shop's timezone, days left)."""
    now = now or utcnow()
    run = LifecycleRun()
    shop = await Shop.get_or_none(id=shop_id)
    if shop is None or shop.uninstalled_at is not None:
        return run
    cutoff = now - NOTICE_WINDOW
    rows = await sql.fetch_all(_EXPIRING_SOON_SQL, shop_id, now, now + NOTICE_WINDOW, cutoff, limit)
    run.more = len(rows) == limit
    zone = shop_zone(shop)
    notices = [_notice(row, zone, now) for row in rows]
    if dialect() == "postgres":
        stamp = isoformat_z(now)
        assert stamp is not None
        sent, jobs = await expiry_pg.send_notices(
            shop_id=shop_id,
            notices=notices,
            now=now,
            cutoff=cutoff,
            stamp=stamp,
            event=EXPIRING_SOON,
        )
        run.done, run.jobs = sent, set(jobs)
        return run
    for payload in notices:
        customer_id = payload.pop("customer_id")
        async with in_transaction():
            claimed = await Customer.filter(
                Q(expiring_soon_notified_at__isnull=True)
                | Q(expiring_soon_notified_at__lte=cutoff),
                id=customer_id,
            ).update(expiring_soon_notified_at=now)
            if not claimed:  # another run sent this notice
                continue
            notice = {k: v for k, v in payload.items() if k != "event"}
            await record(ActivityRow(shop_id, customer_id, EXPIRING_SOON, now, notice))
            run.jobs.update(
                await write_customer_sync_intents(
                    shop_id=shop_id, customer_id=customer_id, reason=payload, now=now
                )
            )
        run.done += 1
    return run


def _notice(row: dict[str, Any], zone: ZoneInfo, now: datetime) -> dict[str, Any]:
    """A notice's payload (and its `customer_id`): the points, the first expiry date in the
    shop's timezone, the days left."""
    first = parse_db_datetime(row["first_expiry"])
    assert first is not None
    local_day = first.astimezone(zone).date()
    return {
        "customer_id": int(row["customer_id"]),
        "event": EXPIRING_SOON,
        "points": int(row["points"]),
        "expires_at": local_day.isoformat(),
        "days_until_expiry": (local_day - now.astimezone(zone).date()).days,
        "notice": isoformat_z(now),
    }
