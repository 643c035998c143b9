"""Sync leases: at most one run writes a given (job, shop, customer) at a time.

`take` leases, in one statement, up to `limit` of the shop's customers that have claimable
intents of the job and are *due*: their newest pending change is older than the job's quiet
time, or their oldest is older than its max wait (so a burst becomes one write, and a customer
changing all the time is still written). It is an `INSERT … ON CONFLICT DO UPDATE … WHERE
sync_lease.expires_at < now RETURNING`: a live lease is never taken over, a lapsed one (its
holder died) is, atomically on PostgreSQL and on SQLite ≥ 3.35 (in-process jobs on SQLite
interleave at every await, so they need the lease as much as separate workers do).

Only the holder renews or releases (`… WHERE holder = token`). `customer_key` is the customer's
id, or 0 for the shop-level job (whose intents have no customer).

`take_turn`: one live run per (job, shop), under `customer_key` −1 (`TURN_KEY`), held for
`TURN_FOR` and extended by its holder at every batch. A run that finds the turn taken ends at
once: the holder looks for new work after giving the turn back, so nothing waits on it. The
turn is for the worker's sake, not correctness (the customer leases keep writes apart): before
it, each second's job of a busy shop started a run while the last still waited on Shopify's
cost bucket, until they held every worker slot and a reward code waited for one (bench/redeem).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from loyalty import sql
from loyalty.clock import parse_db_datetime
from loyalty.db import dialect
from loyalty.jobs import JobName
from loyalty.models import SyncLease
from loyalty.outbox.claims import id_list

# The shop's customers with claimable intents of the job that no live lease covers (a live
# holder picks up its customers' new changes itself: it looks again after releasing), one row
# each: its key, its first intent, its newest and oldest change. The lease is looked up once per
# customer, by its whole key; on PostgreSQL `OFFSET 0` keeps that look-up a sub-plan probing the
# unique (job, shop_id, customer_key) index, because as an anti-join (on tables whose statistics
# lag their churn, as sync_lease's always do) the cached plan walked every lease entry of the
# job and shop, dead ones included, once per pending intent (bench/award, issue 18). Grouped by
# `customer_id` itself, not by the key: idx_intent_pending_customer (job, shop_id, customer_id)
# hands the intents over in that order, so no sort of the backlog (grouped by COALESCE, a take
# sorted all 10,303 owed intents, 14 ms of its 27, bench/award); NULL is one group, key 0.
_GROUPS = """
    SELECT COALESCE(i.customer_id, 0) AS customer_key, min(i.id) AS first_id,
           max(i.created_at) AS newest, min(i.created_at) AS oldest
    FROM outbox_intent i
    WHERE i.job = $1 AND i.shop_id = $2 AND i.completed_at IS NULL
      AND (i.claimed_until IS NULL OR i.claimed_until < $3)
    GROUP BY i.customer_id
"""
_UNLEASED = """NOT EXISTS (
    SELECT 1 FROM sync_lease l
    WHERE l.job = $1 AND l.shop_id = $2 AND l.customer_key = w.customer_key
      AND l.expires_at >= $3 {fence}
)"""
_WAITING = (
    "SELECT w.customer_key, w.first_id, w.newest, w.oldest FROM ("
    + _GROUPS
    + ") AS w WHERE "
    + _UNLEASED
)
_FENCE = {"postgres": "OFFSET 0", "sqlite": ""}
# The take keeps, of the due customers, only the oldest (by first intent) `limit` + L, L the
# job's live leases in the shop: at most L of them can be leased, so the `limit` oldest unleased
# are among them, and only they are sorted (a top-N sort, not the whole backlog) and probed for
# a lease. Before, every due customer was sorted (10,303 of them, 9 ms of a 27 ms take with
# 20,000 intents owed, bench/award) and, earlier still, probed (57 ms, 39% of PostgreSQL's time).
# WHERE true: SQLite needs a WHERE in an INSERT … SELECT before ON CONFLICT (parse ambiguity).
_TAKE_SQL = """
INSERT INTO sync_lease (job, shop_id, customer_key, holder, expires_at)
SELECT $1, $2, due.customer_key, $6, {until}
FROM (
    SELECT w.customer_key, w.first_id FROM (
        {groups}
        HAVING max(i.created_at) <= $4 OR min(i.created_at) <= $5
        ORDER BY first_id
        LIMIT $8 + (
            SELECT count(*) FROM sync_lease s
            WHERE s.job = $1 AND s.shop_id = $2 AND s.expires_at >= $3
        )
    ) AS w
    WHERE {unleased}
    ORDER BY w.first_id LIMIT $8
) AS due
WHERE true
ON CONFLICT (job, shop_id, customer_key) DO UPDATE
SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE sync_lease.expires_at < $3
RETURNING customer_key
"""
# A parameter only in a SELECT list has no type on PostgreSQL (it would insert text).
_TAKE_SQL_BY_DIALECT = {
    name: _TAKE_SQL.format(until=until, groups=_GROUPS, unleased=_UNLEASED.format(fence=fence))
    for name, until, fence in (
        ("postgres", "$7::timestamptz", _FENCE["postgres"]),
        ("sqlite", "$7", _FENCE["sqlite"]),
    )
}


async def take(
    *,
    job: JobName,
    shop_id: int,
    token: str,
    limit: int,
    until: datetime,
    now: datetime,
    quiet: timedelta,
    max_wait: timedelta,
) -> list[int]:
    """Lease up to `limit` due customers of the shop for `job`; returns their keys. Customers
    another live run holds are left alone (the holder picks up their new changes)."""
    rows = await sql.fetch_all(
        _TAKE_SQL_BY_DIALECT[dialect()],
        str(job),
        shop_id,
        now,
        now - quiet,
        now - max_wait,
        token,
        until,
        limit,
    )
    return sorted(int(row["customer_key"]) for row in rows)


TURN_KEY = -1  # no customer's id, nor the shop-level job's 0
TURN_FOR = timedelta(seconds=15)  # a dead holder delays the shop's next run of the job this long

# Taken when free or lapsed, extended when already ours.
_TURN_SQL = """
INSERT INTO sync_lease (job, shop_id, customer_key, holder, expires_at)
VALUES ($1, $2, $5, $3, $4)
ON CONFLICT (job, shop_id, customer_key) DO UPDATE
SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE sync_lease.expires_at < $6 OR sync_lease.holder = excluded.holder
RETURNING customer_key
"""


async def take_turn(*, job: JobName, shop_id: int, token: str, now: datetime) -> bool:
    """Take (or extend) the run's turn for `job` in the shop; False when another live run
    holds it. Given back by `release` with the run's other leases."""
    row = await sql.fetch_one(_TURN_SQL, str(job), shop_id, token, now + TURN_FOR, TURN_KEY, now)
    return row is not None


async def renew(
    *, job: JobName, shop_id: int, token: str, keys: list[int], until: datetime
) -> list[int]:
    """Extend this run's leases; returns the keys it still holds (a lease that lapsed and was
    taken over is gone: its customers must not be written by this run)."""
    if not keys:
        return []
    rows = await sql.fetch_all(
        _RENEW_SQL_BY_DIALECT[dialect()], str(job), shop_id, token, until, id_list(keys)
    )
    return sorted(int(row["customer_key"]) for row in rows)


_RENEW_SQL = """
UPDATE sync_lease SET expires_at = $4
WHERE job = $1 AND shop_id = $2 AND holder = $3 AND {keys}
RETURNING customer_key
"""
_RENEW_SQL_BY_DIALECT = {
    "postgres": _RENEW_SQL.format(keys="customer_key = ANY($5::bigint[])"),
    "sqlite": _RENEW_SQL.format(keys="customer_key IN (SELECT value FROM json_each($5))"),
}


async def release(*, job: JobName, shop_id: int, token: str, keys: list[int] | None = None) -> int:
    """Drop this run's leases (all of them when `keys` is None). Another run's are untouched."""
    query = SyncLease.filter(job=str(job), shop_id=shop_id, holder=token)
    if keys is not None:
        if not keys:
            return 0
        query = query.filter(customer_key__in=keys)
    return int(await query.delete())


_NEXT_DUE_SQL = """
SELECT min(newest) AS newest, min(oldest) AS oldest FROM ({waiting}) AS waiting
"""
_NEXT_DUE_SQL_BY_DIALECT = {
    name: _NEXT_DUE_SQL.format(waiting=_WAITING.format(fence=fence))
    for name, fence in _FENCE.items()
}


async def next_due(
    *, job: JobName, shop_id: int, now: datetime, quiet: timedelta, max_wait: timedelta
) -> datetime | None:
    """When the earliest customer with claimable intents of `job` (and no live lease) becomes
    due: its newest change quiet, or its oldest past the max wait; None when there is none.
    Held intents are left to the sweep, which finds them once their hold ends."""
    row = await sql.fetch_one(_NEXT_DUE_SQL_BY_DIALECT[dialect()], str(job), shop_id, now)
    if row is None:
        return None
    newest, oldest = parse_db_datetime(row["newest"]), parse_db_datetime(row["oldest"])
    if newest is None or oldest is None:
        return None
    return min(newest + quiet, oldest + max_wait)


async def forget_lapsed(*, before: datetime) -> int:
    """Delete leases that lapsed before `before`: left by runs that died, for customers with
    no work since (a lease is otherwise deleted by its holder, or taken over)."""
    return int(await SyncLease.filter(expires_at__lt=before).delete())
