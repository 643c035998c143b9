"""Approvals on PostgreSQL, set-based: a round of thousands of due entries is one statement after
one locking statement, not a transaction per entry.

The rules are loyalty.lifecycle.approvals' (its docstring); this module states them in SQL:
- the round's customers are locked first, in id order (`FOR NO KEY UPDATE`, as the paths that
  reject a pending entry lock the customer before the entry), then the entries still pending
  are locked and approved with the same conditional `status = 'pending'`, so a second run, or a
  concurrent one, changes nothing;
- per customer, one atomic `x = x ± n` moves the round's points from pending to current and
  lifetime (the sum of the per-entry moves: pending never below zero);
- the tier moves exactly as recalculating it after each entry would: entry k (in due order)
  takes the customer to the tier `lifetime + running sum` earns, and every step that changes
  it writes its `vip_tier_changed` activity row and intents, as loyalty.ledger.tiers does;
- per entry a `points_approved` activity row and the customer-sync (and Flow) intents, in the
  order the per-entry path writes them (the tier change's before the approval's).

A customer the round's credit would take past the balance ceiling, or whose due entries are not
all credits, is left to the per-entry path (`approve_entry`), which refuses entry by entry:
this statement approves only customers whose whole round fits.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.ledger.ceiling import fits_sql
from loyalty.models import ActorType
from loyalty.outbox.intents import customer_sync_jobs_sql

TIER_CHANGED = "vip_tier_changed"  # loyalty.ledger.tiers' activity kind and event


_LOCK_SQL = """
SELECT c.id FROM customer c
WHERE c.id IN (SELECT e.customer_id FROM earning_history_entry e
               WHERE e.id = ANY($1::bigint[]) AND e.status = 'pending')
ORDER BY c.id FOR NO KEY UPDATE
"""

# The tier `{lifetime}` earns in shop $1 (loyalty.ledger.tiers' rule).
_TIER_FOR = """(
    SELECT t.id FROM vip_tier t WHERE t.shop_id = $1 AND t.points_required <= {lifetime}
    ORDER BY t.points_required DESC LIMIT 1
)"""

# $1 shop, $2 the round's entry ids in due order, $3 now, $4 the lots' expiry (or NULL), $5 the
# approval's activity kind and event, $6 the tier change's reason (the caller's names).
_APPROVE_SQL_TEMPLATE = f"""
WITH due AS (
    SELECT e.id, e.public_id, e.customer_id, e.points, n.ord
    FROM unnest($2::bigint[]) WITH ORDINALITY AS n(entry_id, ord)
    JOIN earning_history_entry e ON e.id = n.entry_id
    WHERE e.shop_id = $1 AND e.status = 'pending'
    FOR UPDATE OF e
), per_customer AS (
    SELECT due.customer_id, SUM(due.points) AS total
    FROM due JOIN customer c ON c.id = due.customer_id
    GROUP BY due.customer_id, c.points_balance, c.lifetime_points, c.pending_points
    HAVING MIN(due.points) >= 0 AND {fits_sql("SUM(due.points)", row="c")}
), lifetimes AS (
    SELECT due.*, c.vip_tier_id AS tier_before_round,
           c.lifetime_points + SUM(due.points) OVER w AS lifetime_after
    FROM due JOIN per_customer p ON p.customer_id = due.customer_id
    JOIN customer c ON c.id = due.customer_id
    WINDOW w AS (PARTITION BY due.customer_id ORDER BY due.ord)
), steps AS (
    SELECT lifetimes.*, {_TIER_FOR.format(lifetime="lifetimes.lifetime_after")} AS tier
    FROM lifetimes
), moves AS (
    SELECT steps.*, LAG(tier, 1, tier_before_round) OVER w AS tier_before,
           LAST_VALUE(tier) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
               AS final_tier
    FROM steps WINDOW w AS (PARTITION BY customer_id ORDER BY ord)
), approved AS (
    UPDATE earning_history_entry e
    SET status = 'approved', points_given_at = $3, points_remaining = e.points,
        points_expiry_at = $4, updated_at = $3
    FROM moves WHERE e.id = moves.id AND e.status = 'pending'
    RETURNING e.id
), credited AS (
    UPDATE customer c SET
        points_balance = c.points_balance + p.total,
        lifetime_points = c.lifetime_points + p.total,
        pending_points = GREATEST(c.pending_points - p.total, 0),
        vip_tier_id = (SELECT m.final_tier FROM moves m WHERE m.customer_id = c.id LIMIT 1),
        updated_at = $3
    FROM per_customer p WHERE c.id = p.customer_id
), tier_moves AS (
    SELECT m.*, ft.name AS from_name, tt.name AS to_name FROM moves m
    LEFT JOIN vip_tier ft ON ft.id = m.tier_before
    LEFT JOIN vip_tier tt ON tt.id = m.tier
    WHERE m.tier IS DISTINCT FROM m.tier_before
), logged AS (
    INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
    SELECT $1, customer_id, kind, '{ActorType.SYSTEM}', NULL, data, $3 FROM (
        SELECT customer_id, ord, 0 AS step, $5::text AS kind,
               jsonb_build_object('entry_id', public_id, 'points', points) AS data
        FROM moves
        UNION ALL
        SELECT customer_id, ord, 1, '{TIER_CHANGED}',
               jsonb_build_object('from_tier_id', tier_before, 'to_tier_id', tier,
                                  'from_tier', from_name, 'to_tier', to_name,
                                  'reason', $6::text)
        FROM tier_moves
    ) AS rows ORDER BY ord, step
), intents AS (
    INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
    SELECT $1, customer_id, job, payload, $3, 0 FROM (
        SELECT customer_id, ord, 0 AS step, jobs.job,
               jsonb_build_object('event', '{TIER_CHANGED}', 'from_tier_id', tier_before,
                                  'to_tier_id', tier, 'from_tier', from_name,
                                  'to_tier', to_name, 'reason', $6::text) AS payload
        FROM tier_moves CROSS JOIN ({customer_sync_jobs_sql(TIER_CHANGED)}) AS jobs
        UNION ALL
        SELECT customer_id, ord, 1, jobs.job,
               jsonb_build_object('event', $5::text, 'entry_id', public_id)
        FROM moves CROSS JOIN ({{approved_jobs}}) AS jobs
    ) AS rows ORDER BY ord, step
    RETURNING job
)
SELECT (SELECT count(*) FROM approved) AS approved,
       (SELECT array_agg(DISTINCT job) FROM intents) AS jobs,
       (SELECT array_agg(id ORDER BY ord) FROM due
        WHERE customer_id NOT IN (SELECT customer_id FROM per_customer)) AS left_over
"""


@cache
def _approve_sql(event: str) -> str:
    return _APPROVE_SQL_TEMPLATE.format(approved_jobs=customer_sync_jobs_sql(event))


async def approve_entries(
    *,
    shop_id: int,
    entry_ids: list[int],
    expires_at: datetime | None,
    event: str,
    reason: str,
    now: datetime,
) -> tuple[int, list[str], list[int]]:
    """Approve these due entries (in due order) in one transaction: how many were approved, the
    distinct sync jobs owed, and the entries left to the per-entry path (their customer's
    round would not fit under the balance ceiling), in due order."""
    if not entry_ids:
        return 0, [], []
    async with in_transaction():
        await sql.execute(_LOCK_SQL, entry_ids)
        row = await sql.fetch_one(
            _approve_sql(event), shop_id, entry_ids, now, expires_at, event, reason
        )
    assert row is not None
    return int(row["approved"]), sorted(row["jobs"] or ()), list(row["left_over"] or ())
