"""The award on PostgreSQL: one statement for a whole batch of awards (the batch is gathered by
loyalty.ledger.award_batch.AwardBatcher).

The ledger's one set-based special path: it writes entries, balances, the tier upgrade and
activity rows itself, in SQL, instead of through loyalty.ledger.entries/balances/activity,
because the award API's throughput is that one round trip (bench/award). It states the same
rules: the entry timing of loyalty.ledger.timing, the ceiling of loyalty.ledger.ceiling
(`fits_sql`), the upgrade-only tier move of loyalty.ledger.balances.credit, the activity rows
the SQLite path (loyalty.ledger.award_batch_sqlite) writes. tests/web/test_award_api.py runs
both paths against the same assertions.

Why batches: PostgreSQL's cost for an award is mostly starting up the statement's plan (a
dozen nodes, each insert's triggers), not the rows it writes; one statement for the awards that
arrived together pays that once (group commit, done by the application). A request never waits
for a batch to fill: whatever arrived in the same event-loop turn goes now.

Guarantees are the single award's (loyalty.earning.award), per request: each request gets the
row its own checks produce, duplicates within a batch or across batches meet the same unique
index (`ON CONFLICT DO NOTHING`), and a batch that fails as a whole (it wrote nothing: one
statement is atomic) is retried one request at a time, so one request's problem is never
another's. The balance ceiling is checked per award against the customers' locked rows; an
award refused there writes nothing and never stops the others (`over_limit` in its row).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from loyalty import sql
from loyalty.db_retry import retry_on_lost_connection
from loyalty.ledger.ceiling import fits_sql
from loyalty.models import API_AWARDABLE_CATEGORIES
from loyalty.outbox.intents import CUSTOMER_SYNC_AND_FLOW_JOBS_SQL

if TYPE_CHECKING:
    from loyalty.ledger.award_batch import BatchAward


_AWARDABLE = ", ".join(f"'{category}'" for category in sorted(API_AWARDABLE_CATEGORIES))
# The jobs an award owes, for the shop of each awarded row (the shared sub-select, keyed by
# row): the syncs, and Shopify Flow's "points earned" (an award can always announce one).
_SYNC_JOBS = CUSTOMER_SYNC_AND_FLOW_JOBS_SQL.replace("$1", "d.shop_id")
_FITS = fits_sql("t.approved", "t.pending", row="l")

# $1…$9 are parallel arrays, one element per award; `n` is each award's position.
AWARD_BATCH_SQL = f"""
WITH req AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                         $6::timestamptz[], $7::bigint[], $8::text[], $9::text[])
        WITH ORDINALITY AS r(shop_id, rule_public_id, shopify_customer_id, email_key,
                             entry_public_id, now, api_key_id, actor_type, actor_id, n)
), key AS (
    -- The shop's settings, read here rather than trusted from the caller; and the API key,
    -- re-checked atomically with the award: a key authenticated from the process cache but
    -- revoked since, or a shop uninstalled since, awards nothing.
    SELECT req.n, s.points_expiry_days,
           s.uninstalled_at IS NULL AND (req.api_key_id IS NULL OR EXISTS (
               SELECT 1 FROM api_key k
               WHERE k.id = req.api_key_id AND k.shop_id = s.id AND k.revoked_at IS NULL)) AS ok
    FROM req JOIN shop s ON s.id = req.shop_id
), rule AS (
    SELECT req.n, r.id, r.action, r.category, r.points, r.is_active, r.approval_time_days
    FROM req JOIN earning_rule r ON r.shop_id = req.shop_id AND r.public_id = req.rule_public_id
), matched AS (
    SELECT req.n, c.id FROM req JOIN customer c
        ON c.shop_id = req.shop_id AND c.shopify_customer_id = req.shopify_customer_id
    UNION ALL
    SELECT req.n, c.id FROM req JOIN customer c
        ON c.shop_id = req.shop_id AND c.email_key = req.email_key
), cust AS (
    SELECT DISTINCT ON (m.n) m.n, c.id, c.is_excluded, c.vip_tier_id,
           COALESCE(t.points_multiplier, 1.00) AS multiplier,
           COALESCE(t.points_required, -1) AS tier_required
    FROM matched m JOIN customer c ON c.id = m.id LEFT JOIN vip_tier t ON t.id = c.vip_tier_id
    ORDER BY m.n, c.id
), granted AS (
    SELECT req.n, req.shop_id, req.entry_public_id, req.now, req.rule_public_id,
           req.actor_type, req.actor_id, rule.id AS rule_id, rule.action,
           rule.points AS base_points, rule.approval_time_days, key.points_expiry_days,
           cust.id AS customer_id, cust.vip_tier_id, cust.multiplier, cust.tier_required,
           round(rule.points * cust.multiplier)::int AS points  -- numeric: ties round up
    FROM req JOIN key ON key.n = req.n JOIN rule ON rule.n = req.n JOIN cust ON cust.n = req.n
    WHERE key.ok AND rule.is_active AND rule.category IN ({_AWARDABLE}) AND NOT cust.is_excluded
), locked AS MATERIALIZED (
    -- The balance ceiling (loyalty.ledger.ceiling), checked against the customers' rows as
    -- they are now: locked, in one order, before anything is written, a row reads as last
    -- committed (a concurrent award's credit included), not as of the statement's snapshot.
    SELECT c.id, c.points_balance, c.lifetime_points, c.pending_points
    FROM customer c WHERE c.id IN (SELECT customer_id FROM granted)
    ORDER BY c.id FOR NO KEY UPDATE
), counted AS (
    -- What each award would credit; nothing for one that will meet the unique index (the
    -- customer has the rule already, or an earlier award of this batch gives it), so that it
    -- answers "already awarded" and takes no room from the others.
    SELECT g.n, g.customer_id,
           CASE WHEN g.approval_time_days > 0 THEN 0 ELSE g.points END AS approved,
           CASE WHEN g.approval_time_days > 0 THEN g.points ELSE 0 END AS pending,
           row_number() OVER (PARTITION BY g.customer_id, g.rule_id ORDER BY g.n) = 1
               AND NOT EXISTS (
                   SELECT 1 FROM earning_history_entry e
                   WHERE e.customer_id = g.customer_id AND e.dedupe_key = 'rule:' || g.rule_id
               ) AS fresh
    FROM granted g
), fits AS (
    -- A customer's awards in request order, while their running total fits; the rest are
    -- refused here (the batcher retries them one at a time, as if they had come alone).
    SELECT t.n FROM (
        SELECT c.n, c.customer_id,
               sum(CASE WHEN c.fresh THEN c.approved ELSE 0 END) OVER w AS approved,
               sum(CASE WHEN c.fresh THEN c.pending ELSE 0 END) OVER w AS pending
        FROM counted c WINDOW w AS (PARTITION BY c.customer_id ORDER BY c.n)
    ) t JOIN locked l ON l.id = t.customer_id
    WHERE {_FITS}
), ins AS (
    INSERT INTO earning_history_entry (
        public_id, shop_id, customer_id, rule_id, action, base_points, points_multiplier,
        points, points_remaining, status, points_given_at, points_due_at, points_expiry_at,
        dedupe_key, created_at, updated_at)
    SELECT entry_public_id, shop_id, customer_id, rule_id, action, base_points, multiplier,
           points,
           CASE WHEN approval_time_days > 0 THEN 0 ELSE points END,  -- a lot to spend once given
           CASE WHEN approval_time_days > 0 THEN 'pending' ELSE 'approved' END,
           CASE WHEN approval_time_days > 0 THEN NULL ELSE now END,
           CASE WHEN approval_time_days > 0
                THEN now + make_interval(days => approval_time_days) END,
           CASE WHEN approval_time_days = 0 AND points_expiry_days IS NOT NULL
                THEN now + make_interval(days => points_expiry_days) END,
           'rule:' || rule_id, now, now
    FROM granted WHERE n IN (SELECT n FROM fits)
    ORDER BY customer_id, rule_id  -- one lock order for every batch
    ON CONFLICT (customer_id, dedupe_key) DO NOTHING
    RETURNING public_id, points, status, points_given_at, points_due_at, points_expiry_at
), done AS (
    SELECT g.*, ins.points AS awarded, ins.status, ins.points_given_at, ins.points_due_at,
           ins.points_expiry_at
    FROM ins JOIN granted g ON g.entry_public_id = ins.public_id
), moved AS (
    SELECT customer_id, min(shop_id) AS shop_id, min(tier_required) AS tier_required,
           min(vip_tier_id) AS old_tier_id, max(now) AS now, min(entry_public_id) AS entry_id,
           sum(CASE WHEN status = 'approved' THEN awarded ELSE 0 END) AS approved,
           sum(CASE WHEN status = 'pending' THEN awarded ELSE 0 END) AS pending
    FROM done GROUP BY customer_id
), bal AS (
    -- `x = x + n`: a concurrent award to the same customer waits on the row and adds to the
    -- value it finds. Awards only ever upgrade the tier (to the highest the new lifetime
    -- points reach above the one held); downgrades belong to expiry and adjustments.
    UPDATE customer c SET
        points_balance = c.points_balance + m.approved,
        lifetime_points = c.lifetime_points + m.approved,
        pending_points = c.pending_points + m.pending,
        vip_tier_id = COALESCE((
            SELECT t.id FROM vip_tier t
            WHERE t.shop_id = m.shop_id AND t.points_required <= c.lifetime_points + m.approved
              AND t.points_required > m.tier_required
            ORDER BY t.points_required DESC LIMIT 1), c.vip_tier_id),
        updated_at = m.now
    FROM moved m WHERE c.id = m.customer_id
    RETURNING c.id, c.vip_tier_id, m.old_tier_id, m.shop_id, m.now, m.entry_id
), logged AS (
    INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
    SELECT d.shop_id, d.customer_id, 'points_awarded', d.actor_type, d.actor_id,
           jsonb_build_object('entry_id', d.entry_public_id, 'rule_id', d.rule_public_id,
                              'points', d.awarded, 'status', d.status),
           d.now
    FROM done d
    UNION ALL
    SELECT b.shop_id, b.id, 'vip_tier_changed', 'system', NULL,
           jsonb_build_object('from_tier_id', b.old_tier_id, 'to_tier_id', b.vip_tier_id,
                              'entry_id', b.entry_id),
           b.now
    FROM bal b WHERE b.vip_tier_id IS DISTINCT FROM b.old_tier_id
), intents AS (
    INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
    SELECT d.shop_id, d.customer_id, jobs.job, jsonb_build_object('entry_id', d.entry_public_id),
           d.now, 0
    FROM done d CROSS JOIN LATERAL ({_SYNC_JOBS}) AS jobs
    RETURNING shop_id, job
)
SELECT req.n, key.ok AS key_ok, rule.id AS rule_pk, rule.action, rule.category, rule.is_active,
       rule.points AS base_points, cust.id AS customer_pk, cust.is_excluded, cust.multiplier,
       done.entry_public_id IS NOT NULL AS inserted,
       granted.n IS NOT NULL AND fits.n IS NULL AS over_limit,
       done.awarded AS points, done.status,
       done.points_given_at, done.points_due_at, done.points_expiry_at,
       (SELECT array_agg(DISTINCT i.job) FROM intents i WHERE i.shop_id = req.shop_id) AS jobs
FROM req
LEFT JOIN key ON key.n = req.n
LEFT JOIN rule ON rule.n = req.n
LEFT JOIN cust ON cust.n = req.n
LEFT JOIN granted ON granted.n = req.n
LEFT JOIN fits ON fits.n = req.n
LEFT JOIN done ON done.n = req.n
ORDER BY req.n
"""


async def run_awards(awards: Sequence[BatchAward]) -> list[dict[str, Any]]:
    """Run `awards` as one statement; one result row per award, in order."""
    return await sql.fetch_all(
        AWARD_BATCH_SQL,
        [a.shop_id for a in awards],
        [a.rule_public_id for a in awards],
        [a.shopify_customer_id for a in awards],
        [a.email_key for a in awards],
        [a.entry_public_id for a in awards],
        [a.now for a in awards],
        [a.api_key_id for a in awards],
        [a.actor_type for a in awards],
        [a.actor_id for a in awards],
    )


_WRITTEN_SQL = "SELECT count(*) AS n FROM earning_history_entry WHERE public_id = ANY($1::text[])"


async def run_awards_retried(awards: Sequence[BatchAward]) -> list[dict[str, Any]]:
    """`run_awards`, run once more on a fresh connection when the connection was lost and the
    statement provably wrote nothing: asyncpg never sent it, or (lost after sending) none of
    the awards' entry ids exists. That check is a proof because the statement is atomic and
    everything it writes (balance, activity, intents) follows from an inserted entry. Should a
    lost statement still commit after the check (a backend that outlived its client), the rerun
    meets the unique index and answers "already awarded": never a second award."""

    async def nothing_written() -> bool:
        row = await sql.fetch_one(_WRITTEN_SQL, [award.entry_public_id for award in awards])
        return row is not None and row["n"] == 0

    return await retry_on_lost_connection(lambda: run_awards(awards), not_executed=nothing_written)
