"""Owned claims on intents: a run claims pending intents under its token, and only that token can
renew, end or release them.

Every statement here is one statement, conditional on `claimed_by = token AND completed_at IS
NULL`: a run whose claim lapsed and was taken over (a slow or dead worker) changes nothing when
it later completes, fails or releases, so it can never clear another run's fresh claim or end
an intent another run is delivering. A run never holds an intent twice: it claims only intents
no live claim holds, and `ClaimedIntent`s are keyed by id.

`attempts` counts real delivery attempts that failed (`fail`), never claims or hand-backs. An
intent still failing once its window (`retry_from`, or `created_at`) is `window` old is
dead-lettered by that failure: completed with outcome `dead`, `dead_at` and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import Q

from loyalty import sql
from loyalty.db import dialect
from loyalty.jobs import JobName
from loyalty.models import IntentOutcome, OutboxIntent


@dataclass(frozen=True, slots=True)
class ClaimedIntent:
    id: int
    customer_id: int | None
    payload: dict[str, Any]
    attempts: int  # real delivery attempts that failed so far


@dataclass(frozen=True, slots=True)
class DeadIntent:
    id: int
    customer_id: int | None
    error: str


CLAIM_FOR = timedelta(minutes=2)  # leases and claims; renewed well before they lapse

_CLAIM_SQL = """
UPDATE outbox_intent SET claimed_by = $3, claimed_until = $4
WHERE id IN (
    SELECT id FROM outbox_intent
    WHERE job = $1 AND shop_id = $2 AND completed_at IS NULL
      AND (claimed_until IS NULL OR claimed_until < $5) AND {customers}
    ORDER BY id LIMIT $7 {lock}
)
RETURNING id, customer_id, payload, attempts
"""
# customer_key: the customer's id, 0 for the shop-level intents (customer_id NULL). Several runs
# may claim at once on PostgreSQL; SKIP LOCKED keeps them from waiting on each other (leases
# already keep them on different customers). SQLite has one writer, so a sub-select is exclusive.
# The shop-level key adds `customer_id IS NULL` only when it is asked for.
_CUSTOMERS = {
    "postgres": "customer_id = ANY($6::bigint[])",
    "sqlite": "customer_id IN (SELECT value FROM json_each($6))",
}
_SHOP_LEVEL = {  # $6 still named, so PostgreSQL knows its type
    "postgres": "customer_id IS NULL AND 0 = ANY($6::bigint[])",
    "sqlite": "customer_id IS NULL AND 0 IN (SELECT value FROM json_each($6))",
}
_LOCK = {"postgres": "FOR UPDATE SKIP LOCKED", "sqlite": ""}
# On PostgreSQL, customers alone (every take of a customer job) are looked up one by one,
# LATERAL, by (job, shop_id, customer_id) = idx_intent_pending_customer's whole key. As
# `customer_id = ANY(…)` the cached generic plan, trusting statistics that lag the table's churn,
# used only (job, shop_id) and filtered every owed intent of the job: 13,283 rows read for 50
# claimed, 4.3 ms (0.46 ms so), and in bench/award 20-29% of PostgreSQL's time (issue 18).
_CLAIM_CUSTOMERS_PG = """
UPDATE outbox_intent SET claimed_by = $3, claimed_until = $4
WHERE id IN (
    SELECT o.id FROM unnest($6::bigint[]) AS k(customer_id) CROSS JOIN LATERAL (
        SELECT i.id FROM outbox_intent i
        WHERE i.job = $1 AND i.shop_id = $2 AND i.customer_id = k.customer_id
          AND i.completed_at IS NULL AND (i.claimed_until IS NULL OR i.claimed_until < $5)
        FOR UPDATE SKIP LOCKED
    ) AS o
    ORDER BY o.id LIMIT $7
)
RETURNING id, customer_id, payload, attempts
"""
# (dialect, customers asked, shop level asked) → the statement
_CLAIM_SQL_BY_KIND = {
    (name, customers, shop_level): _CLAIM_SQL.format(
        customers="(("
        + ") OR (".join(
            part
            for part, wanted in ((_CUSTOMERS[name], customers), (_SHOP_LEVEL[name], shop_level))
            if wanted
        )
        + "))",
        lock=_LOCK[name],
    )
    for name in ("postgres", "sqlite")
    for customers in (True, False)
    for shop_level in (True, False)
    if customers or shop_level
} | {("postgres", True, False): _CLAIM_CUSTOMERS_PG}


def id_list(ids: list[int]) -> Any:
    """A list of ids as one bound value: an array on PostgreSQL, JSON for SQLite's json_each."""
    return ids if dialect() == "postgres" else json.dumps(ids)


async def claim(
    *,
    job: JobName,
    shop_id: int,
    token: str,
    customer_keys: list[int],
    until: datetime,
    now: datetime,
    limit: int = 5000,
) -> list[ClaimedIntent]:
    """Claim the pending intents of `job` for these customers that no live claim (and no
    hold) covers, oldest first. Only the lease holder of a customer should call this."""
    if not customer_keys:
        return []
    shop_level = 0 in customer_keys
    statement = _CLAIM_SQL_BY_KIND[dialect(), len(customer_keys) > shop_level, shop_level]
    rows = await sql.fetch_all(
        statement,
        str(job),
        shop_id,
        token,
        until,
        now,
        id_list(customer_keys),
        limit,
    )
    claimed = {
        row["id"]: ClaimedIntent(
            id=row["id"],
            customer_id=row["customer_id"],
            payload=_as_dict(row["payload"]),
            attempts=row["attempts"],
        )
        for row in rows
    }
    return [claimed[key] for key in sorted(claimed)]


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, (str, bytes)):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return dict(value or {})


def _held(token: str, ids: list[int]) -> Any:
    return OutboxIntent.filter(id__in=ids, claimed_by=token, completed_at__isnull=True)


async def renew(*, token: str, ids: list[int], until: datetime) -> int:
    """Extend a live run's claims, so a long run is never mistaken for a dead one."""
    if not ids:
        return 0
    return int(await _held(token, ids).update(claimed_until=until))


async def complete(
    *,
    token: str,
    ids: list[int],
    outcome: IntentOutcome,
    now: datetime,
    detail: str | None = None,
) -> int:
    """End intents this run holds: `delivered`, or `skipped` with the reason in `detail`."""
    if not ids:
        return 0
    return int(
        await _held(token, ids).update(
            completed_at=now,
            claimed_by=None,
            claimed_until=None,
            outcome=outcome,
            outcome_detail=detail,
            last_error=None,
        )
    )


async def hand_back(
    *, token: str, ids: list[int], retry_at: datetime | None = None, error: str | None = None
) -> int:
    """Release intents this run holds, pending, due at `retry_at` (None: at once; a time of
    "now" would leave them not yet due until the clock's next millisecond, as due means
    `claimed_until < now`). Not an attempt: nothing reached the platform for them. `error`
    (if any) is kept as their last."""
    if not ids:
        return 0
    changes: dict[str, Any] = {"claimed_by": None, "claimed_until": retry_at}
    if error is not None:
        changes["last_error"] = error[:2000]
    return int(await _held(token, ids).update(**changes))


_FAIL_SQL = """
UPDATE outbox_intent SET
    attempts = attempts + 1,
    last_error = $3,
    claimed_by = NULL,
    claimed_until = CASE WHEN {expired} THEN NULL ELSE {retry_at} END,
    completed_at = CASE WHEN {expired} THEN {now} END,
    dead_at = CASE WHEN {expired} THEN {now} END,
    outcome = CASE WHEN {expired} THEN 'dead' END
WHERE claimed_by = $1 AND completed_at IS NULL AND {ids}
RETURNING id, customer_id, dead_at
"""
# Inside CASE a parameter has no type on PostgreSQL (it would be text): cast it there.
_FAIL_SQL_BY_DIALECT = {
    "postgres": _FAIL_SQL.format(
        expired="COALESCE(retry_from, created_at) <= $6",
        retry_at="$4::timestamptz",
        now="$5::timestamptz",
        ids="id = ANY($2::bigint[])",
    ),
    "sqlite": _FAIL_SQL.format(
        expired="COALESCE(retry_from, created_at) <= $6",
        retry_at="$4",
        now="$5",
        ids="id IN (SELECT value FROM json_each($2))",
    ),
}


async def fail(
    *,
    token: str,
    ids: list[int],
    error: str,
    retry_at: datetime,
    now: datetime,
    window: timedelta,
) -> list[DeadIntent]:
    """A real delivery attempt failed for these intents: count it, keep why, hold them until
    `retry_at`; those whose retry window has passed are dead-lettered instead (returned)."""
    if not ids:
        return []
    error = error[:2000]
    rows = await sql.fetch_all(
        _FAIL_SQL_BY_DIALECT[dialect()], token, id_list(ids), error, retry_at, now, now - window
    )
    return [
        DeadIntent(row["id"], row["customer_id"], error)
        for row in rows
        if row["dead_at"] is not None
    ]


async def dead_letter(*, token: str, ids: list[int], error: str, now: datetime) -> int:
    """Give up at once on intents no retry can deliver (the platform refused the payload)."""
    if not ids:
        return 0
    return int(
        await _held(token, ids).update(
            completed_at=now,
            dead_at=now,
            outcome=IntentOutcome.DEAD,
            outcome_detail=None,
            claimed_by=None,
            claimed_until=None,
            last_error=error[:2000],
        )
    )


async def hold_pending(
    *, job: JobName, shop_id: int, until: datetime, error: str, now: datetime
) -> int:
    """Hold every pending intent of `job` for the shop that no live claim covers until `until`
    (the platform refused the shop's key, or asked the shop to slow down). Not an attempt."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    shorter_hold = Q(claimed_by__isnull=True, claimed_until__lt=until)
    return int(
        await OutboxIntent.filter(free | shorter_hold, job=str(job), shop_id=shop_id)
        .filter(completed_at__isnull=True)
        .update(claimed_by=None, claimed_until=until, last_error=error[:2000])
    )


def reopened(now: datetime) -> dict[str, Any]:
    """The columns that make a finished intent pending again, due at once, with a new retry
    window from `now` and no attempts (a merchant's retry, or a re-send asked for)."""
    return {
        "completed_at": None,
        "dead_at": None,
        "outcome": None,
        "outcome_detail": None,
        "claimed_by": None,
        "claimed_until": None,
        "attempts": 0,
        "retry_from": now,
    }
