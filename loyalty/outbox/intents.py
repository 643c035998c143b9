"""Writing, claiming and completing intents. Every function here is one statement."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.db import dialect
from loyalty.jobs import PROFILE_SYNC_JOBS, JobName
from loyalty.models import OutboxIntent

# The jobs a customer change owes, for a shop: metafields always, plus each enabled platform.
# Used as a sub-select inside the writing statement, so no extra round trip reads integrations;
# one scan of the shop's integrations (a CASE, not a branch per platform) keeps the plan small.
_PLATFORM_JOB = " ".join(
    f"WHEN '{platform}' THEN '{job}'" for platform, job in PROFILE_SYNC_JOBS.items()
)
CUSTOMER_SYNC_JOBS_SQL = (
    f"SELECT '{JobName.SYNC_SHOPIFY_METAFIELDS}' AS job UNION ALL "
    f"SELECT CASE platform {_PLATFORM_JOB} END FROM integration WHERE shop_id = $1 AND enabled"
)

_WRITE_CUSTOMER_SYNC_SQL = f"""
INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
SELECT $1, $2, jobs.job, $3, $4, 0 FROM ({CUSTOMER_SYNC_JOBS_SQL}) AS jobs
RETURNING job
"""


async def write_customer_sync_intents(
    *, shop_id: int, customer_id: int, reason: dict[str, Any], now: datetime | None = None
) -> list[str]:
    """Owe a sync of this customer everywhere it is shown. Call inside the change's transaction."""
    rows = await sql.fetch_all(
        _WRITE_CUSTOMER_SYNC_SQL, shop_id, customer_id, json.dumps(reason), now or utcnow()
    )
    return [row["job"] for row in rows]


@dataclass(frozen=True, slots=True)
class ClaimedIntent:
    id: int
    customer_id: int | None
    payload: dict[str, Any]
    attempts: int  # including this one


_CLAIM_SQL = """
UPDATE outbox_intent SET claimed_until = $3, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM outbox_intent
    WHERE job = $1 AND shop_id = $2 AND completed_at IS NULL
      AND (claimed_until IS NULL OR claimed_until < $4)
    ORDER BY id LIMIT $5 {lock}
)
RETURNING id, customer_id, payload, attempts
"""
# Several workers may claim the same shop's intents at once on PostgreSQL; SKIP LOCKED gives each
# a disjoint batch. SQLite has one writer, so a plain sub-select is already exclusive.
_CLAIM_SQL_BY_DIALECT = {
    "postgres": _CLAIM_SQL.format(lock="FOR UPDATE SKIP LOCKED"),
    "sqlite": _CLAIM_SQL.format(lock=""),
}


async def claim_intents(
    *, job: JobName, shop_id: int, limit: int, claim_for: timedelta, now: datetime | None = None
) -> list[ClaimedIntent]:
    now = now or utcnow()
    rows = await sql.fetch_all(
        _CLAIM_SQL_BY_DIALECT[dialect()], str(job), shop_id, now + claim_for, now, limit
    )
    return sorted(
        (
            ClaimedIntent(
                id=row["id"],
                customer_id=row["customer_id"],
                payload=_as_dict(row["payload"]),
                attempts=row["attempts"],
            )
            for row in rows
        ),
        key=lambda intent: intent.id,
    )


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, (str, bytes)):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return dict(value or {})


_CLAIM_CUSTOMERS_SQL = """
UPDATE outbox_intent SET claimed_until = $3, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM outbox_intent
    WHERE job = $1 AND shop_id = $2 AND completed_at IS NULL
      AND (claimed_until IS NULL OR claimed_until < $4) AND {customers}
    ORDER BY id LIMIT $6 {lock}
)
RETURNING id, customer_id, payload, attempts
"""
_CLAIM_CUSTOMERS_SQL_BY_DIALECT = {
    "postgres": _CLAIM_CUSTOMERS_SQL.format(
        customers="customer_id = ANY($5::bigint[])", lock="FOR UPDATE SKIP LOCKED"
    ),
    "sqlite": _CLAIM_CUSTOMERS_SQL.format(
        customers="customer_id IN (SELECT value FROM json_each($5))", lock=""
    ),
}


async def claim_customer_intents(
    *,
    job: JobName,
    shop_id: int,
    customer_ids: list[int],
    claim_for: timedelta,
    limit: int = 5000,
    now: datetime | None = None,
) -> list[ClaimedIntent]:
    """Claim the other pending intents of `job` for these customers, so a sync run holds each
    customer's whole backlog and writes each customer once (coalescing across batches)."""
    if not customer_ids:
        return []
    now = now or utcnow()
    customers: Any = customer_ids if dialect() == "postgres" else json.dumps(customer_ids)
    rows = await sql.fetch_all(
        _CLAIM_CUSTOMERS_SQL_BY_DIALECT[dialect()],
        str(job),
        shop_id,
        now + claim_for,
        now,
        customers,
        limit,
    )
    return sorted(
        (
            ClaimedIntent(row["id"], row["customer_id"], _as_dict(row["payload"]), row["attempts"])
            for row in rows
        ),
        key=lambda intent: intent.id,
    )


async def extend_claims(ids: list[int], *, until: datetime) -> None:
    """Renew a running job's claims, so a long run is never mistaken for a dead one."""
    if ids:
        await OutboxIntent.filter(id__in=ids, completed_at__isnull=True).update(claimed_until=until)


async def give_up_intents(ids: list[int], *, error: str, now: datetime | None = None) -> None:
    """Complete intents that can never succeed, keeping why in `last_error`."""
    if ids:
        await OutboxIntent.filter(id__in=ids, completed_at__isnull=True).update(
            completed_at=now or utcnow(), claimed_until=None, last_error=error[:2000]
        )


async def write_shop_sync_intent(
    *, shop_id: int, reason: dict[str, Any], now: datetime | None = None
) -> str:
    """Owe a rewrite of the shop's programme metafield. Call inside the change's transaction;
    the sweep dispatches it (edits are rare; several in a row coalesce into one write)."""
    await OutboxIntent.create(
        shop_id=shop_id,
        customer_id=None,
        job=str(JobName.SYNC_SHOP_METAFIELDS),
        payload=reason,
        created_at=now or utcnow(),
    )
    return str(JobName.SYNC_SHOP_METAFIELDS)


async def complete_intents(ids: list[int], *, now: datetime | None = None) -> None:
    if not ids:
        return
    await OutboxIntent.filter(id__in=ids, completed_at__isnull=True).update(
        completed_at=now or utcnow(), claimed_until=None, last_error=None
    )


async def release_intents(ids: list[int], *, error: str, retry_at: datetime) -> None:
    """A failed attempt: keep the intents pending, record why, and hold them until `retry_at`."""
    if not ids:
        return
    await OutboxIntent.filter(id__in=ids, completed_at__isnull=True).update(
        claimed_until=retry_at, last_error=error[:2000]
    )


_DUE_SQL = """
SELECT DISTINCT job, shop_id FROM outbox_intent
WHERE completed_at IS NULL AND created_at <= $1 AND (claimed_until IS NULL OR claimed_until < $2)
"""


async def due_groups(
    *, created_before: datetime, now: datetime | None = None
) -> list[tuple[str, int]]:
    """(job, shop) pairs with intents that nobody is working on: what a sweep re-dispatches."""
    rows = await sql.fetch_all(_DUE_SQL, created_before, now or utcnow())
    return [(row["job"], row["shop_id"]) for row in rows]
