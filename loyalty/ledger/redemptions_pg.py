"""A redemption's writes on PostgreSQL in one statement: the debit, the lots drawn oldest first,
the redemption row, its `reward_redeemed` activity row and its intents.

The ledger's second special path, as loyalty.ledger.award_batch_pg is the award's: it states in
SQL the rules that `spend_points` (loyalty.ledger.redemptions), `spend_lots`
(loyalty.ledger.lots), `record` (loyalty.ledger.activity) and loyalty.outbox.intents carry out
statement by statement on SQLite, because each statement was a round trip made while holding
the customer's row lock and a pooled connection, on a machine where every round trip waits for
the web process and the backend to be scheduled (bench/redeem). loyalty.rewards.redeem calls
it; tests/loyalty/rewards and tests/web/public_api/test_rewards_purchase.py run both paths
against the same assertions.

Guarantees (the caller holds the customer's row lock, taken by an earlier statement of the same
transaction, so this statement's snapshot already sees every change committed before the lock;
one statement that also took the lock would read the lots as they were before its lock wait,
and two simultaneous redemptions would draw the same lot):
- the debit is conditional (`points_balance >= points`); when it does not happen nothing else
  is written (every write reads the debit's row) and the result is None;
- the lots give their points oldest first (`points_given_at`, then id), each at most what it
  holds; points no lot held are listed under lot 0, as `spend_points` lists them;
- the redemption, the activity row, the code intent and the customer-sync intents (the jobs the
  shop's integrations owe, loyalty.outbox.intents' sub-select) commit with the debit or not at
  all; a code or idempotency key already taken meets its unique index and the whole statement
  writes nothing (IntegrityError).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from loyalty import sql
from loyalty.jobs import JobName
from loyalty.ledger.redemptions import NO_LOT
from loyalty.outbox.intents import CUSTOMER_SYNC_JOBS_SQL

# $1 shop, $2 customer, $3 points, $4 now; the rest are the redemption's own values
# (PgRedemption's order).
REDEEM_SQL = f"""
WITH debit AS (
    UPDATE customer SET
        points_balance = points_balance - $3,
        redeemed_points = redeemed_points + $3,
        updated_at = $4
    WHERE id = $2 AND points_balance >= $3
    RETURNING points_balance
), lot AS (
    SELECT e.id, e.points_given_at, e.points_remaining,
           sum(e.points_remaining) OVER (
               ORDER BY e.points_given_at, e.id ROWS UNBOUNDED PRECEDING
           ) - e.points_remaining AS before
    FROM earning_history_entry e
    WHERE e.customer_id = $2 AND e.status = 'approved' AND e.points_remaining > 0
      AND EXISTS (SELECT 1 FROM debit)
), taken AS (
    SELECT id, points_given_at, least(points_remaining, $3 - before)::int AS take
    FROM lot WHERE before < $3
), spend AS (
    UPDATE earning_history_entry e SET points_remaining = e.points_remaining - t.take
    FROM taken t WHERE e.id = t.id
), spent AS (
    -- [[lot id, points], …] in the order taken, then what no lot held under lot 0.
    SELECT coalesce(jsonb_agg(jsonb_build_array(id, take) ORDER BY points_given_at, id), '[]')
           || CASE WHEN $3 > coalesce(sum(take), 0)
                   THEN jsonb_build_array(jsonb_build_array({NO_LOT}, $3 - coalesce(sum(take), 0)))
                   ELSE '[]' END AS lots
    FROM taken
), redemption AS (
    INSERT INTO redemption (
        public_id, shop_id, customer_id, reward_id, kind, points_spent, value, currency_code,
        code, status, shopify_status, spent_lots, redeemed_at, expires_at, idempotency_key,
        created_at, updated_at
    )
    SELECT $5, $1, $2, $6, $7, $3, $8, $9, $10, 'active', 'pending', spent.lots, $4, $11, $12,
           $18, $18
    FROM debit, spent
    RETURNING id, spent_lots
), activity AS (
    INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
    SELECT $1, $2, 'reward_redeemed', $13, $14, $15::jsonb, $4 FROM redemption
), intents AS (
    INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
    SELECT $1, $2, jobs.job, jobs.payload, $4, 0
    FROM redemption, (
        SELECT '{JobName.SYNC_REWARD_CODES}' AS job, $16::jsonb AS payload
        UNION ALL
        SELECT sync.job, $17::jsonb FROM ({CUSTOMER_SYNC_JOBS_SQL}) AS sync
    ) AS jobs
    RETURNING job
)
SELECT (SELECT points_balance FROM debit) AS balance_after,
       (SELECT id FROM redemption) AS id,
       (SELECT spent_lots FROM redemption) AS spent_lots,
       (SELECT array_agg(job) FROM intents) AS jobs
"""


@dataclass(frozen=True, slots=True)
class PgRedemption:
    """What the caller builds the redemption and its view from (all of it chosen by the caller
    but the row's id)."""

    public_id: str
    shop_id: int
    customer_id: int
    reward_id: int
    kind: str
    points: int
    value: Decimal
    currency_code: str | None
    code: str | None
    now: datetime
    stamp: datetime  # the row's created_at and updated_at
    expires_at: datetime | None
    idempotency_key: str | None
    actor_type: str
    actor_id: str | None
    activity: dict[str, object]  # the activity row's data
    code_intent: dict[str, object]  # the code intent's payload
    sync_reason: dict[str, object]  # the customer-sync intents' payload


@dataclass(frozen=True, slots=True)
class PgRedeemed:
    id: int
    balance_after: int
    spent_lots: list[list[int]]
    jobs: list[str]


async def redeem_pg(r: PgRedemption) -> PgRedeemed | None:
    """Write the redemption (see the module); None when the balance does not cover it (nothing
    written). Raises IntegrityError when its code or idempotency key is taken."""
    row = await sql.fetch_one(
        REDEEM_SQL,
        r.shop_id,
        r.customer_id,
        r.points,
        r.now,
        r.public_id,
        r.reward_id,
        r.kind,
        r.value,
        r.currency_code,
        r.code,
        r.expires_at,
        r.idempotency_key,
        r.actor_type,
        r.actor_id,
        json.dumps(r.activity),
        json.dumps(r.code_intent),
        json.dumps(r.sync_reason),
        r.stamp,
    )
    if row is None or row["balance_after"] is None:
        return None
    lots = row["spent_lots"]
    return PgRedeemed(
        id=int(row["id"]),
        balance_after=int(row["balance_after"]),
        spent_lots=json.loads(lots) if isinstance(lots, str) else list(lots),
        jobs=sorted(set(row["jobs"] or ())),
    )
