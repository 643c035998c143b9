"""Re-assigning a shop's customers to VIP tiers after the tiers change, set-based.

A customer's tier is the highest tier whose `points_required` their lifetime points reach (or
none). For every customer whose tier changes, one statement set moves the tier, writes a
`vip_tier_changed` activity row (actor: the staff user) and owes the customer-sync jobs, all
inside the caller's transaction, with no per-customer round trips. `reassign_in_chunks` does
the whole shop a chunk of customers per transaction (the tier placement job,
loyalty.tiers.placement).

Part of the ledger because it writes activity rows; it writes them inside its own statements
(not through loyalty.ledger.activity) because a tier change can move every customer of a shop,
and a row per customer through the ORM would be the per-customer round trips this avoids.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.db import dialect
from loyalty.models import ActorType
from loyalty.outbox.intents import CUSTOMER_SYNC_JOBS_SQL

ACTIVITY_KIND = "vip_tier_changed"


@dataclass(frozen=True, slots=True)
class TierReassignment:
    customers_moved: int
    jobs: list[str]  # distinct customer-sync jobs owed, to notify after commit


# The tier `{row}`'s lifetime points earn. $1 is the shop, $2 a tier to treat as gone (or -1).
_TARGET_TIER_SQL = """(
    SELECT t.id FROM vip_tier t
    WHERE t.shop_id = $1 AND t.id <> $2 AND t.points_required <= {row}.lifetime_points
    ORDER BY t.points_required DESC LIMIT 1
)"""

# Each tier's band of lifetime points: from its threshold up to the next tier's. $1 is the shop,
# $2 a tier to treat as gone (or -1). Thresholds are unique per shop, so the bands never overlap;
# a customer below every band earns no tier. (A join on five bands, not a sorted sub-select per
# customer: a big shop's million customers are judged in one pass.)
_PG_BANDS_SQL = """
    SELECT t.id, t.points_required AS low,
           LEAD(t.points_required) OVER (ORDER BY t.points_required) AS high
    FROM vip_tier t WHERE t.shop_id = $1 AND t.id <> $2
"""

# PostgreSQL: one statement for the customers with ids in ($8, $9]: the bands find who moves,
# then each of those is locked and placed on their lifetime points as the lock left them (FOR
# UPDATE re-reads a row an award changed meanwhile).
# $3 now, $4 actor type, $5 staff user id, $6 reason, $7 the changed tier's public id.
_PG_REASSIGN_SQL = f"""
WITH bands AS ({_PG_BANDS_SQL}), changed AS (
    SELECT c.id, c.vip_tier_id AS from_tier_id FROM customer c
    LEFT JOIN bands b ON c.lifetime_points >= b.low
                     AND (b.high IS NULL OR c.lifetime_points < b.high)
    WHERE c.shop_id = $1 AND c.id > $8 AND c.id <= $9
      AND c.vip_tier_id IS DISTINCT FROM b.id
    FOR UPDATE OF c
), moved AS (
    UPDATE customer c SET vip_tier_id = {_TARGET_TIER_SQL.format(row="c")}, updated_at = $3
    FROM changed WHERE c.id = changed.id
    RETURNING c.id, changed.from_tier_id, c.vip_tier_id AS to_tier_id
), logged AS (
    INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
    SELECT $1, moved.id, '{ACTIVITY_KIND}', $4::text, $5::text,
           jsonb_build_object('from_tier_id', moved.from_tier_id, 'to_tier_id', moved.to_tier_id,
                              'from_tier', ft.name, 'to_tier', tt.name,
                              'reason', $6::text, 'vip_tier_id', $7::text),
           $3
    FROM moved
    LEFT JOIN vip_tier ft ON ft.id = moved.from_tier_id
    LEFT JOIN vip_tier tt ON tt.id = moved.to_tier_id
), intents AS (
    INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
    SELECT $1, moved.id, jobs.job,
           jsonb_build_object('reason', $6::text, 'vip_tier_id', $7::text), $3, 0
    FROM moved CROSS JOIN ({CUSTOMER_SYNC_JOBS_SQL}) AS jobs
    RETURNING job
)
SELECT (SELECT count(*) FROM moved) AS moved,
       (SELECT array_agg(DISTINCT job) FROM intents) AS jobs
"""

# SQLite: one writer at a time, so a few set-based statements in the caller's transaction see
# the same customers. Activity rows and intents are written before the tiers move, while the
# old tier is still there to read. (SQLite counts every bound value against the placeholders a
# statement uses, so each statement takes exactly its own.)
_SQLITE_CHANGED = f"""
WITH target AS (
    SELECT c.id, c.vip_tier_id AS from_tier_id, {_TARGET_TIER_SQL.format(row="c")} AS to_tier_id
    FROM customer c WHERE c.shop_id = $1 AND c.id > {{low}} AND c.id <= {{high}}
), changed AS (SELECT * FROM target WHERE from_tier_id IS NOT to_tier_id)
"""

# $3, $4: the customer ids (low, high] each statement takes.
_SQLITE_COUNT_SQL = (
    _SQLITE_CHANGED.format(low="$3", high="$4") + "SELECT count(*) AS n FROM changed"
)

# $3 now, $4 actor type, $5 staff user id, $6 reason, $7 the changed tier's public id.
_SQLITE_ACTIVITY_SQL = f"""
{_SQLITE_CHANGED.format(low="$8", high="$9")}
INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
SELECT $1, changed.id, '{ACTIVITY_KIND}', $4, $5,
       json_object('from_tier_id', changed.from_tier_id, 'to_tier_id', changed.to_tier_id,
                   'from_tier', ft.name, 'to_tier', tt.name,
                   'reason', $6, 'vip_tier_id', $7),
       $3
FROM changed
LEFT JOIN vip_tier ft ON ft.id = changed.from_tier_id
LEFT JOIN vip_tier tt ON tt.id = changed.to_tier_id
"""

# $3 now, $4 reason, $5 the changed tier's public id.
_SQLITE_INTENTS_SQL = f"""
{_SQLITE_CHANGED.format(low="$6", high="$7")}
INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
SELECT $1, changed.id, jobs.job, json_object('reason', $4, 'vip_tier_id', $5), $3, 0
FROM changed CROSS JOIN ({CUSTOMER_SYNC_JOBS_SQL}) AS jobs
"""

# $3 now, $4 and $5 the ids (low, high]. SQLite resolves a sub-select's outer reference by
# table name, not by an UPDATE alias.
_SQLITE_UPDATE_SQL = f"""
UPDATE customer SET vip_tier_id = {_TARGET_TIER_SQL.format(row="customer")}, updated_at = $3
WHERE shop_id = $1 AND id > $4 AND id <= $5
  AND vip_tier_id IS NOT {_TARGET_TIER_SQL.format(row="customer")}
"""

# Members of a tier whose displayed details changed: $1 shop, $2 tier, $3 now, $4 reason,
# $5 the tier's public id.
_RESYNC_SQL = f"""
INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
SELECT $1, c.id, jobs.job, {{payload}}, $3, 0
FROM customer c CROSS JOIN ({CUSTOMER_SYNC_JOBS_SQL}) AS jobs
WHERE c.shop_id = $1 AND c.vip_tier_id = $2
"""
_RESYNC_SQL_BY_DIALECT = {
    "postgres": _RESYNC_SQL.format(
        payload="jsonb_build_object('reason', $4::text, 'vip_tier_id', $5::text)"
    ),
    "sqlite": _RESYNC_SQL.format(payload="json_object('reason', $4, 'vip_tier_id', $5)"),
}

_OWED_JOBS_SQL = f"SELECT job FROM ({CUSTOMER_SYNC_JOBS_SQL}) AS jobs ORDER BY job"


EVERY_CUSTOMER = (0, 2**63 - 1)  # customer ids (low, high]: the whole shop

_CHUNK_END_SQL = """
SELECT id FROM customer WHERE shop_id = $1 AND id > $2 ORDER BY id LIMIT 1 OFFSET $3
"""


async def reassign_tiers(
    *,
    shop_id: int,
    staff_user_id: str | None,
    reason: dict[str, str],
    without_tier_id: int | None = None,
    customers: tuple[int, int] = EVERY_CUSTOMER,
    now: datetime | None = None,
) -> TierReassignment:
    """Move every customer of the shop (with an id in `customers`, (low, high]) whose tier no
    longer matches their lifetime points.

    `without_tier_id` re-assigns as if that tier were already deleted. `reason` carries
    `reason` and `vip_tier_id` into the activity data and intent payloads. Call inside a
    transaction (the tier change's, or one per chunk: `reassign_in_chunks`); idempotent (a
    second run moves no one).
    """
    now = now or utcnow()
    target = (shop_id, without_tier_id if without_tier_id is not None else -1)
    why, tier_public_id = reason.get("reason"), reason.get("vip_tier_id")
    actor = str(ActorType.STAFF)
    if dialect() == "postgres":
        row = await sql.fetch_one(
            _PG_REASSIGN_SQL, *target, now, actor, staff_user_id, why, tier_public_id, *customers
        )
        assert row is not None
        return TierReassignment(int(row["moved"]), sorted(row["jobs"] or ()))
    counted = await sql.fetch_one(_SQLITE_COUNT_SQL, *target, *customers)
    moved = int(counted["n"]) if counted else 0
    if not moved:
        return TierReassignment(0, [])
    await sql.execute(
        _SQLITE_ACTIVITY_SQL, *target, now, actor, staff_user_id, why, tier_public_id, *customers
    )
    await sql.execute(_SQLITE_INTENTS_SQL, *target, now, why, tier_public_id, *customers)
    await sql.execute(_SQLITE_UPDATE_SQL, *target, now, *customers)
    return TierReassignment(moved, await _owed_jobs(shop_id))


async def reassign_in_chunks(
    *,
    shop_id: int,
    staff_user_id: str | None,
    reason: dict[str, str],
    chunk: int = 50_000,
    now: datetime | None = None,
    between_chunks: Callable[[], Awaitable[None]] | None = None,
) -> TierReassignment:
    """`reassign_tiers` over the whole shop, `chunk` customers (in id order) per transaction, so
    a big shop's re-placement never holds a million rows locked at once. Each chunk commits
    whole; a run stopped midway leaves the rest to the next run (idempotent).
    `between_chunks` is awaited after each chunk (a job renewing its claim)."""
    moved, jobs = 0, set()
    low = EVERY_CUSTOMER[0]
    while True:
        end = await sql.fetch_one(_CHUNK_END_SQL, shop_id, low, chunk - 1)
        high = int(end["id"]) if end else EVERY_CUSTOMER[1]
        async with in_transaction():
            done = await reassign_tiers(
                shop_id=shop_id,
                staff_user_id=staff_user_id,
                reason=reason,
                customers=(low, high),
                now=now,
            )
        moved += done.customers_moved
        jobs.update(done.jobs)
        if between_chunks is not None:
            await between_chunks()
        if end is None:
            return TierReassignment(moved, sorted(jobs))
        low = high


async def resync_tier_members(
    *, shop_id: int, tier_id: int, reason: dict[str, str], now: datetime | None = None
) -> list[str]:
    """Owe a sync of every member of the tier (its name shows in their synced profiles).
    Call inside the change's transaction; returns the distinct jobs owed."""
    if not await sql.fetch_one(
        "SELECT 1 AS one FROM customer WHERE shop_id = $1 AND vip_tier_id = $2 LIMIT 1",
        shop_id,
        tier_id,
    ):
        return []
    await sql.execute(
        _RESYNC_SQL_BY_DIALECT[dialect()],
        shop_id,
        tier_id,
        now or utcnow(),
        reason.get("reason"),
        reason.get("vip_tier_id"),
    )
    return await _owed_jobs(shop_id)


async def _owed_jobs(shop_id: int) -> list[str]:
    return [row["job"] for row in await sql.fetch_all(_OWED_JOBS_SQL, shop_id)]
