"""Expiry and "expiring soon" notices on PostgreSQL, set-based: a round of thousands of lots (or
notices) is one statement after one locking statement, not a transaction per customer.

The rules are loyalty.lifecycle.expiry's (its docstring); this module states them in SQL:
- the round's customers are locked first, in id order (`FOR NO KEY UPDATE`, as every spending
  path locks the customer before its lots), so a concurrent redemption, reversal or expiry run
  either finished before (and the lots are re-read as it left them) or waits for this one;
- each lot still open and past its date, and not already expired (dedupe key
  `expiry:<lot public id>`, unique per customer), gets its `points_expired` entry; per customer,
  in expiry order, an entry takes `min(lot, what the balance still holds)` (a running sum), so
  the balance never goes below zero; the lots are emptied, the balances debited by one atomic
  `points_balance - n` per customer, and one activity row and the customer-sync intents
  written per lot, all in the same statement (so in the same transaction);
- a notice claims the customer with the same conditional update as the per-customer path
  (`expiring_soon_notified_at` null or older than the window), so only one run sends it.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.models import ActorType
from loyalty.outbox.intents import customer_sync_jobs_sql

# The round's customers, locked in id order before anything is read for them.
_LOCK_SQL = """
SELECT id FROM customer WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE
"""

# $1 shop, $2 now, $3 the round's lot ids (in expiry order), $4 a new public id for each, $5 the
# entries' action and activity kind, $6 the intents' event (the caller's names).
_EXPIRE_SQL = """
WITH lots AS (
    SELECT l.id, l.public_id, l.customer_id, l.rule_id, l.points_remaining AS remaining,
           l.points_expiry_at, n.new_id
    FROM unnest($3::bigint[], $4::text[]) AS n(lot_id, new_id)
    JOIN earning_history_entry l ON l.id = n.lot_id
    WHERE l.shop_id = $1 AND l.status = 'approved' AND l.points_remaining > 0
      AND l.points_expiry_at <= $2
      AND NOT EXISTS (
          SELECT 1 FROM earning_history_entry x
          WHERE x.customer_id = l.customer_id AND x.dedupe_key = 'expiry:' || l.public_id)
    FOR UPDATE OF l
), amounts AS (
    -- What the balance still holds after the customer's earlier lots: a running sum, capped.
    SELECT lots.*,
           LEAST(SUM(remaining) OVER w, GREATEST(c.points_balance, 0))
           - LEAST(SUM(remaining) OVER w - remaining, GREATEST(c.points_balance, 0)) AS amount
    FROM lots JOIN customer c ON c.id = lots.customer_id
    WINDOW w AS (PARTITION BY lots.customer_id ORDER BY lots.points_expiry_at, lots.id)
), inserted AS (
    INSERT INTO earning_history_entry (
        public_id, shop_id, customer_id, rule_id, action, base_points, points_multiplier,
        points, status, points_given_at, dedupe_key, note, reversed_entry_id, created_at,
        updated_at, points_remaining)
    SELECT new_id, $1, customer_id, rule_id, $5::text, -remaining, 1.00, -amount,
           'approved', $2, 'expiry:' || public_id,
           CASE WHEN amount < remaining THEN format(
               '%s points expired; the balance held only %s (the other %s were already spent)',
               remaining, amount, remaining - amount) END,
           id, $2, $2, 0
    FROM amounts ORDER BY customer_id, points_expiry_at, id
    ON CONFLICT (customer_id, dedupe_key) DO NOTHING
    RETURNING id, public_id, customer_id, reversed_entry_id, base_points, points
), emptied AS (
    UPDATE earning_history_entry l SET points_remaining = 0, updated_at = $2
    FROM inserted WHERE l.id = inserted.reversed_entry_id AND l.points_remaining > 0
), debited AS (
    UPDATE customer c SET points_balance = c.points_balance - t.taken, updated_at = $2
    FROM (SELECT customer_id, SUM(-points) AS taken FROM inserted GROUP BY customer_id) t
    WHERE c.id = t.customer_id AND t.taken > 0
), done AS (
    SELECT i.id, i.public_id, i.customer_id, i.points, -i.base_points AS expired,
           a.public_id AS lot_public_id
    FROM inserted i JOIN amounts a ON a.id = i.reversed_entry_id
), logged AS (
    INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
    SELECT $1, customer_id, $5::text, '{system}', NULL,
           jsonb_build_object('entry_id', public_id, 'expired_entry_id', lot_public_id,
                              'points', points, 'expired', expired),
           $2
    FROM done ORDER BY id
), intents AS (
    INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
    SELECT $1, done.customer_id, jobs.job,
           jsonb_build_object('event', $6::text, 'entry_id', done.public_id,
                              'expired_entry_id', done.lot_public_id),
           $2, 0
    FROM done CROSS JOIN ({jobs}) AS jobs
    ORDER BY done.id
    RETURNING job
)
SELECT (SELECT count(*) FROM inserted) AS expired,
       (SELECT array_agg(DISTINCT job) FROM intents) AS jobs
"""

# $1 shop, $2 now, $3 the claim's cutoff (a notice older than this may be sent again), $4 the
# notice's stamp; then one array per field: customer, points, expiry day, days left; $9 the
# activity kind and the intents' event.
_NOTIFY_SQL = """
WITH notice AS (
    SELECT * FROM unnest($5::bigint[], $6::bigint[], $7::text[], $8::int[])
        AS n(customer_id, points, expires_at, days)
), claimed AS (
    UPDATE customer c SET expiring_soon_notified_at = $2
    FROM notice
    WHERE c.id = notice.customer_id AND c.shop_id = $1
      AND (c.expiring_soon_notified_at IS NULL OR c.expiring_soon_notified_at <= $3)
    RETURNING c.id
), sent AS (
    SELECT n.* FROM notice n JOIN claimed ON claimed.id = n.customer_id
), logged AS (
    INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
    SELECT $1, customer_id, $9::text, '{system}', NULL,
           jsonb_build_object('points', points, 'expires_at', expires_at,
                              'days_until_expiry', days, 'notice', $4::text),
           $2
    FROM sent ORDER BY customer_id
), intents AS (
    INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
    SELECT $1, sent.customer_id, jobs.job,
           jsonb_build_object('event', $9::text, 'points', sent.points,
                              'expires_at', sent.expires_at,
                              'days_until_expiry', sent.days, 'notice', $4::text),
           $2, 0
    FROM sent CROSS JOIN ({jobs}) AS jobs
    ORDER BY sent.customer_id
    RETURNING job
)
SELECT (SELECT count(*) FROM claimed) AS sent, (SELECT array_agg(DISTINCT job) FROM intents) AS jobs
"""


@cache
def _statement(template: str, event: str) -> str:
    return template.format(jobs=customer_sync_jobs_sql(event), system=ActorType.SYSTEM)


async def expire_lots(
    *, shop_id: int, lots: list[dict[str, Any]], action: str, event: str, now: datetime
) -> tuple[int, list[str]]:
    """Expire these due lots (rows with `id` and `customer_id`) in one transaction, each with an
    entry of `action` and intents carrying `event`: how many expired, the sync jobs owed."""
    if not lots:
        return 0, []
    customers = sorted({int(row["customer_id"]) for row in lots})
    lot_ids = [int(row["id"]) for row in lots]
    new_ids = [ids.new_public_id(ids.EARNING_ENTRY) for _ in lots]
    async with in_transaction():
        await sql.execute(_LOCK_SQL, customers)
        row = await sql.fetch_one(
            _statement(_EXPIRE_SQL, event), shop_id, now, lot_ids, new_ids, action, event
        )
    assert row is not None
    return int(row["expired"]), sorted(row["jobs"] or ())


async def send_notices(
    *,
    shop_id: int,
    notices: list[dict[str, Any]],
    now: datetime,
    cutoff: datetime,
    stamp: str,
    event: str,
) -> tuple[int, list[str]]:
    """Send these notices (`customer_id`, `points`, `expires_at`, `days_until_expiry`) to the
    customers no other run has notified since `cutoff`: how many were sent, the jobs owed."""
    if not notices:
        return 0, []
    customers = sorted(int(n["customer_id"]) for n in notices)
    async with in_transaction():
        await sql.execute(_LOCK_SQL, customers)
        row = await sql.fetch_one(
            _statement(_NOTIFY_SQL, event),
            shop_id,
            now,
            cutoff,
            stamp,
            [int(n["customer_id"]) for n in notices],
            [int(n["points"]) for n in notices],
            [str(n["expires_at"]) for n in notices],
            [int(n["days_until_expiry"]) for n in notices],
            event,
        )
    assert row is not None
    return int(row["sent"]), sorted(row["jobs"] or ())
