"""Redemptions' writes on PostgreSQL in one statement: per redemption, the debit, the lots drawn
oldest first, the redemption row, its `reward_redeemed` activity row and its intents; for one
redemption or a batch of them (loyalty.rewards.redeem_batch: the process's concurrent
redemptions, each of another customer).

The ledger's second special path, as loyalty.ledger.award_batch_pg is the award's: it states in
SQL the rules that `spend_points` (loyalty.ledger.redemptions), `spend_lots`
(loyalty.ledger.lots), `record` (loyalty.ledger.activity) and loyalty.outbox.intents carry out
statement by statement on SQLite, because each statement was a round trip made while holding
the customer's row lock and a pooled connection, on a machine where every round trip waits for
the web process and the backend to be scheduled (bench/redeem). loyalty.rewards.redeem calls
it; tests/loyalty/rewards and tests/web/public_api/test_rewards_purchase.py run both paths
against the same assertions.

Guarantees, per redemption, whatever else shares the statement (the caller holds each
customer's row lock, taken by an earlier statement of the same transaction, so this
statement's snapshot already sees every change committed before the lock; one statement that
also took the lock would read the lots as they were before its lock wait, and two simultaneous
redemptions would draw the same lot):
- the debit is conditional (`points_balance >= points`); when it does not happen nothing else
  of that redemption is written (every write reads its debit's row) and its result is None;
- a batch names each customer once (the caller's rule): one statement cannot move a row twice;
- the lots give their points oldest first (`points_given_at`, then id), each at most what it
  holds; points no lot held are listed under lot 0, as `spend_points` lists them;
- the redemption, the activity row, the code intent and the customer-sync intents (the jobs the
  shop's integrations owe, loyalty.outbox.intents' sub-select) commit with the debit or not at
  all; a code or idempotency key already taken meets its unique index and the whole statement
  writes nothing, for any redemption of the batch (IntegrityError).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty import sql
from loyalty.jobs import JobName
from loyalty.ledger.redemptions import NO_LOT
from loyalty.outbox.intents import CUSTOMER_SYNC_AND_FLOW_JOBS_SQL

# A redemption always announces Flow's "Reward redeemed" (its sync reason, points_redeemed, is
# one of loyalty.outbox.flow_triggers' FLOW_EVENTS), so its intents include the Flow job.
_SYNC_JOBS = CUSTOMER_SYNC_AND_FLOW_JOBS_SQL.replace("$1", "q.shop_id")

# $1…$18 are parallel arrays, one element per redemption (PgRedemption's fields); `n` is each
# redemption's position. A batch names each customer at most once: every customer's debit,
# lots and rows are its own, apart from the others'.
REDEEM_SQL = f"""
WITH q AS (
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::timestamptz[],
                         $5::text[], $6::bigint[], $7::text[], $8::numeric[], $9::text[],
                         $10::text[], $11::timestamptz[], $12::text[], $13::text[], $14::text[],
                         $15::jsonb[], $16::jsonb[], $17::jsonb[], $18::timestamptz[])
        WITH ORDINALITY AS r(shop_id, customer_id, points, now, public_id, reward_id, kind,
                             value, currency_code, code, expires_at, idempotency_key,
                             actor_type, actor_id, activity, code_intent, sync_reason, stamp, n)
), debit AS (
    UPDATE customer c SET
        points_balance = c.points_balance - q.points,
        redeemed_points = c.redeemed_points + q.points,
        updated_at = q.now
    FROM q
    WHERE c.id = q.customer_id AND c.points_balance >= q.points
    RETURNING q.n, c.points_balance
), lot AS (
    SELECT q.n, e.id, e.points_given_at, e.points_remaining,
           sum(e.points_remaining) OVER (
               PARTITION BY q.n ORDER BY e.points_given_at, e.id ROWS UNBOUNDED PRECEDING
           ) - e.points_remaining AS before
    FROM debit d JOIN q ON q.n = d.n
    JOIN earning_history_entry e ON e.customer_id = q.customer_id
    WHERE e.status = 'approved' AND e.points_remaining > 0
), taken AS (
    SELECT l.n, l.id, l.points_given_at, least(l.points_remaining, q.points - l.before)::int AS take
    FROM lot l JOIN q ON q.n = l.n WHERE l.before < q.points
), spend AS (
    UPDATE earning_history_entry e SET points_remaining = e.points_remaining - t.take
    FROM taken t WHERE e.id = t.id
), spent AS (
    -- Per redemption, [[lot id, points], …] in the order taken, then what no lot held under
    -- lot 0.
    SELECT d.n,
           coalesce(jsonb_agg(jsonb_build_array(t.id, t.take) ORDER BY t.points_given_at, t.id)
                        FILTER (WHERE t.id IS NOT NULL), '[]')
           || CASE WHEN q.points > coalesce(sum(t.take), 0)
                   THEN jsonb_build_array(
                            jsonb_build_array({NO_LOT}, q.points - coalesce(sum(t.take), 0)))
                   ELSE '[]' END AS lots
    FROM debit d JOIN q ON q.n = d.n LEFT JOIN taken t ON t.n = d.n
    GROUP BY d.n, q.points
), redemption AS (
    INSERT INTO redemption (
        public_id, shop_id, customer_id, reward_id, kind, points_spent, value, currency_code,
        code, status, shopify_status, spent_lots, redeemed_at, expires_at, idempotency_key,
        created_at, updated_at
    )
    SELECT q.public_id, q.shop_id, q.customer_id, q.reward_id, q.kind, q.points, q.value,
           q.currency_code, q.code, 'active', 'pending', spent.lots, q.now, q.expires_at,
           q.idempotency_key, q.stamp, q.stamp
    FROM q JOIN spent ON spent.n = q.n
    ORDER BY q.customer_id
    RETURNING id, public_id, spent_lots
), activity AS (
    INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
    SELECT q.shop_id, q.customer_id, 'reward_redeemed', q.actor_type, q.actor_id, q.activity,
           q.now
    FROM redemption x JOIN q ON q.public_id = x.public_id
), intents AS (
    INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
    SELECT q.shop_id, q.customer_id, jobs.job, jobs.payload, q.now, 0
    FROM redemption x JOIN q ON q.public_id = x.public_id CROSS JOIN LATERAL (
        SELECT '{JobName.SYNC_REWARD_CODES}' AS job, q.code_intent AS payload
        UNION ALL
        SELECT sync.job, q.sync_reason FROM ({_SYNC_JOBS}) AS sync
    ) AS jobs
    RETURNING shop_id, job
)
SELECT q.n, d.points_balance AS balance_after, x.id, x.spent_lots,
       (SELECT array_agg(DISTINCT i.job) FROM intents i WHERE i.shop_id = q.shop_id) AS jobs
FROM q
LEFT JOIN debit d ON d.n = q.n
LEFT JOIN redemption x ON x.public_id = q.public_id
ORDER BY q.n
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


async def redeem_pg(batch: Sequence[PgRedemption]) -> list[PgRedeemed | None]:
    """Write the redemptions (see the module), one statement for all; per redemption, in
    order, None when the balance does not cover it (nothing of it written). Raises
    IntegrityError, writing nothing at all, when a code or idempotency key is taken."""
    rows = await sql.fetch_all(
        REDEEM_SQL,
        [r.shop_id for r in batch],
        [r.customer_id for r in batch],
        [r.points for r in batch],
        [r.now for r in batch],
        [r.public_id for r in batch],
        [r.reward_id for r in batch],
        [r.kind for r in batch],
        [r.value for r in batch],
        [r.currency_code for r in batch],
        [r.code for r in batch],
        [r.expires_at for r in batch],
        [r.idempotency_key for r in batch],
        [r.actor_type for r in batch],
        [r.actor_id for r in batch],
        [json.dumps(r.activity) for r in batch],
        [json.dumps(r.code_intent) for r in batch],
        [json.dumps(r.sync_reason) for r in batch],
        [r.stamp for r in batch],
    )
    return [_written(row) for row in rows]


def _written(row: dict[str, Any]) -> PgRedeemed | None:
    if row["balance_after"] is None:
        return None
    lots = row["spent_lots"]
    return PgRedeemed(
        id=int(row["id"]),
        balance_after=int(row["balance_after"]),
        spent_lots=json.loads(lots) if isinstance(lots, str) else list(lots),
        jobs=sorted(set(row["jobs"] or ())),
    )
