"""The ledger's sums per 15-minute UTC bucket over a window (points issued, points expired),
read from summary rows instead of the window's entries: what the admin's 30-day figures and
chart are made of (loyalty.reports.dashboard).

A shop's rollup (loyalty.models.ledger_rollup) holds the sums of its entries with
`id <= watermark`; a read adds the entries above the watermark from an id range, so the
answer is the live aggregate, exactly:

- An entry below the watermark that changes or is deleted later moves its bucket's sums
  through the ledger's triggers (migration 0019), for entries of the last 35 days; a window
  reaching further back than `RECENT_DAYS` is summed from the ledger instead.
- The watermark only moves over entries no open transaction can still add to: on PostgreSQL
  a read takes a candidate (the highest id, and the transactions of this database running
  then) and a later read moves the watermark to it once they have all ended (an id is taken
  and its row written by one statement, so a transaction holding a lower id was running);
  SQLite has one writer at a time, and the refresh is that writer.
- Entries are bucketed by `created_at` whatever their id, so a backdated entry above the
  watermark lands in its own bucket.

A read writes at most one small transaction (moving the watermark, summing the entries it
passes, dropping buckets older than any window); a compare-and-set on the state row's
`version` makes concurrent reads move it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.db import dialect
from loyalty.models import EarningHistoryEntry, EarningStatus

BUCKET_SECONDS = 900
# Buckets of entries at most this old are kept exact by the triggers; migration 0019 says 35.
RECENT_DAYS = 34
_DAY_BUCKETS = 86400 // BUCKET_SECONDS
# A new rollup starts this far before the window asked for (a timezone change moves it).
_LEAD_BUCKETS = 2 * _DAY_BUCKETS
# Where a new rollup's watermark starts: below the first entry created this long before its
# first bucket (ids follow creation; this leaves room for entries written a week late).
_BACKDATED_BUCKETS = 7 * _DAY_BUCKETS
# The ledger action of an expiry entry (written by the expiry job with negative points).
EXPIRED_ACTION = "points_expired"

BUCKET_EXPR = {
    "postgres": "FLOOR(EXTRACT(EPOCH FROM created_at) / 900)::bigint",
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff+00:00' (UTC): the first 19 characters are the time.
    "sqlite": "CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) / 900",
}
_SUMS = """
SELECT {bucket} AS bucket,
       SUM(CASE WHEN points > 0 AND status <> $3 THEN points ELSE 0 END) AS issued,
       SUM(CASE WHEN action = $4 THEN -points ELSE 0 END) AS expired
FROM earning_history_entry
WHERE id > $1 AND id <= $5 AND shop_id = $2
GROUP BY 1
"""
# The sums of the entries the watermark passes, added to their buckets in one statement.
_ADD_SUMS = """
INSERT INTO ledger_rollup (shop_id, bucket, issued, expired)
SELECT $2, bucket, issued, expired FROM ({sums}) AS passed WHERE bucket >= $6
ON CONFLICT (shop_id, bucket) DO UPDATE SET
    issued = ledger_rollup.issued + excluded.issued,
    expired = ledger_rollup.expired + excluded.expired
"""
_DB_NOW = {
    "postgres": "SELECT EXTRACT(EPOCH FROM now())::bigint AS now, "
    "(SELECT MAX(id) FROM earning_history_entry) AS top",
    "sqlite": "SELECT CAST(strftime('%s', 'now') AS INTEGER) AS now, "
    "(SELECT MAX(id) FROM earning_history_entry) AS top",
}
_STATE = (
    "SELECT since_bucket, watermark, candidate, candidate_running, version "
    "FROM ledger_rollup_state WHERE shop_id = $1"
)
# The transactions of this database holding an xid (so possibly an id of the ledger), not ours.
_RUNNING = (
    "SELECT backend_xid::text AS xid FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
)
_NO_END = 2**62  # an id range with no upper end
Rows = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class BucketSums:
    issued: int
    expired: int


def bucket_of(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp()) // BUCKET_SECONDS


def bucket_start(bucket: int) -> datetime:
    return datetime.fromtimestamp(bucket * BUCKET_SECONDS, UTC)


async def window_sums(*, shop_id: int, start: datetime) -> dict[int, BucketSums]:
    """Sums per bucket for the shop's entries created at or after `start` (a quarter hour)."""
    first = bucket_of(start)
    clock = await sql.fetch_one(_DB_NOW[dialect()]) or {}
    db_now, top = int(clock["now"]), int(clock["top"] or 0)
    if first < db_now // BUCKET_SECONDS - RECENT_DAYS * _DAY_BUCKETS:
        since = await first_entry_id_since(bucket_start(first))  # older than the triggers keep
        after = since - 1 if since is not None else top
        return _add({}, await _ledger_sums(shop_id, first, after=after))
    state = await sql.fetch_one(_STATE, shop_id)
    if state is None or first < int(state["since_bucket"]):
        await _start(shop_id, since=first - _LEAD_BUCKETS, state=state, top=top)
        state = await sql.fetch_one(_STATE, shop_id)
        assert state is not None
    await _refresh(shop_id, state, db_now=db_now, top=top)
    state = await sql.fetch_one(_STATE, shop_id)
    assert state is not None
    rows = await sql.fetch_all(
        "SELECT bucket, issued, expired FROM ledger_rollup WHERE shop_id = $1 AND bucket >= $2",
        shop_id,
        first,
    )
    sums = _add({}, rows)
    return _add(sums, await _ledger_sums(shop_id, first, after=int(state["watermark"])))


async def _ledger_sums(shop_id: int, first: int, *, after: int, upto: int = _NO_END) -> Rows:
    rows = await sql.fetch_all(
        _SUMS.format(bucket=BUCKET_EXPR[dialect()]),
        after,
        shop_id,
        str(EarningStatus.REJECTED),
        EXPIRED_ACTION,
        upto,
    )
    return [row for row in rows if int(row["bucket"]) >= first]


def _add(sums: dict[int, BucketSums], rows: Rows) -> dict[int, BucketSums]:
    for row in rows:
        bucket = int(row["bucket"])
        old = sums.get(bucket, BucketSums(0, 0))
        sums[bucket] = BucketSums(
            old.issued + int(row["issued"] or 0), old.expired + int(row["expired"] or 0)
        )
    return sums


async def _start(shop_id: int, *, since: int, state: dict[str, Any] | None, top: int) -> None:
    """A new, empty rollup from bucket `since` (replacing one that starts later), its
    watermark below the first entry created a week before that bucket: the first read sums
    the window from the ledger, and its refresh (or, on PostgreSQL, the next read's) takes it
    in. Ids follow `created_at` (entries are appended as they happen); the week's margin is
    for an entry written late, before the rollup existed. Once it exists, any entry written
    later, whatever its `created_at`, is above the watermark and counted in its bucket."""
    first_id = await first_entry_id_since(bucket_start(since - _BACKDATED_BUCKETS))
    watermark = first_id - 1 if first_id is not None else top
    now = datetime.now(UTC)
    async with in_transaction():
        if state is not None:
            taken = await sql.execute(
                "DELETE FROM ledger_rollup_state WHERE shop_id = $1 AND version = $2",
                shop_id,
                state["version"],
            )
            if not taken:
                return  # another read replaced it
        created = await sql.fetch_all(  # RETURNING: an INSERT's row count is not reported
            "INSERT INTO ledger_rollup_state (shop_id, since_bucket, watermark, version, "
            "refreshed_at) VALUES ($1, $2, $3, 0, $4) ON CONFLICT (shop_id) DO NOTHING "
            "RETURNING shop_id",
            shop_id,
            since,
            watermark,
            now,
        )
        if created:  # whatever an earlier rollup of this shop left goes with it
            await sql.execute("DELETE FROM ledger_rollup WHERE shop_id = $1", shop_id)


async def _refresh(shop_id: int, state: dict[str, Any], *, db_now: int, top: int) -> None:
    """Move the watermark as far as it may go, summing the entries it passes."""
    watermark = int(state["watermark"])
    candidate: int | None = None
    running: str | None = None
    if dialect() == "sqlite":
        target = top
    else:
        target, candidate, running = watermark, state["candidate"], state["candidate_running"]
        if candidate is not None and await _ended(running):
            target, candidate = int(candidate), None  # a new one is taken below
        if candidate is not None:
            return  # the candidate is not usable yet; nothing to do
    since = max(int(state["since_bucket"]), db_now // BUCKET_SECONDS - 33 * _DAY_BUCKETS)
    if dialect() == "sqlite" and target <= watermark and since == int(state["since_bucket"]):
        return
    async with in_transaction():
        taken = await sql.execute(
            "UPDATE ledger_rollup_state SET version = version + 1, refreshed_at = $3 "
            "WHERE shop_id = $1 AND version = $2",
            shop_id,
            state["version"],
            datetime.now(UTC),
        )
        if not taken:
            return  # another read is moving it
        if target > watermark:
            await sql.execute(
                _ADD_SUMS.format(sums=_SUMS.format(bucket=BUCKET_EXPR[dialect()])),
                watermark,
                shop_id,
                str(EarningStatus.REJECTED),
                EXPIRED_ACTION,
                target,
                since,
            )
        if dialect() == "postgres":
            # The highest id first, then who is running: a transaction holding a lower id took
            # it before this one was taken, and writes its row (taking an xid) in the same
            # statement, so it shows in the list unless it has ended.
            highest = await sql.fetch_one("SELECT MAX(id) AS top FROM earning_history_entry")
            candidate = int((highest or {}).get("top") or 0)
            running = ",".join(str(row["xid"]) for row in await sql.fetch_all(_RUNNING))
        await sql.execute(
            "DELETE FROM ledger_rollup WHERE shop_id = $1 AND bucket < $2", shop_id, since
        )
        await sql.execute(
            "UPDATE ledger_rollup_state SET watermark = $2, since_bucket = $3, candidate = $4, "
            "candidate_running = $5 WHERE shop_id = $1",
            shop_id,
            max(target, watermark),
            since,
            candidate,
            running,
        )


async def _ended(running: str | None) -> bool:
    """Whether none of these transactions (xids, comma-separated) is still running."""
    xids = [xid for xid in (running or "").split(",") if xid]
    if not xids:
        return True
    still = {str(row["xid"]) for row in await sql.fetch_all(_RUNNING)}
    return not still.intersection(xids)


async def first_entry_id_since(start: datetime) -> int | None:
    """The first ledger id created at or after `start` (None: nothing since).

    Entries are appended as they happen, so ids grow with `created_at`; a binary search on the
    primary key finds a window's first row in a few index lookups. The ledger deliberately has
    no `created_at` index (every index slows each award), and the dashboard must not scan it.
    """
    last = await _entry_at_or_after(0, descending=True)
    if last is None or last[1] < start:
        return None
    first = await _entry_at_or_after(0)
    assert first is not None
    answer, low, high = last[0], first[0], last[0]
    while low <= high:
        middle = (low + high) // 2
        row = await _entry_at_or_after(middle)
        if row is None or row[0] > high:  # no entry in [middle, high]
            high = middle - 1
        elif row[1] >= start:
            answer, high = row[0], middle - 1
        else:
            low = row[0] + 1
    return answer


async def _entry_at_or_after(
    entry_id: int, *, descending: bool = False
) -> tuple[int, datetime] | None:
    query = EarningHistoryEntry.filter(id__gte=entry_id).order_by("-id" if descending else "id")
    rows = await query.limit(1).values_list("id", "created_at")
    return (int(rows[0][0]), rows[0][1]) if rows else None
