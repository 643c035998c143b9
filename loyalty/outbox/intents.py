"""Writing intents (in the change's transaction) and finding the work a sweep re-dispatches.
Claiming and ending them is loyalty.outbox.claims. Every function here is one statement."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.jobs import PROFILE_SYNC_JOBS, JobName
from loyalty.models import OutboxIntent
from loyalty.outbox.flow_triggers import owes_flow

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

WRITE_CUSTOMER_SYNC_SQL = f"""
INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
SELECT $1, $2, jobs.job, $3, $4, 0 FROM ({CUSTOMER_SYNC_JOBS_SQL}) AS jobs
RETURNING job
"""
# The same jobs, and Shopify Flow's (loyalty.outbox.flow_triggers) for a change that can
# announce a trigger: still one statement on the award path.
CUSTOMER_SYNC_AND_FLOW_JOBS_SQL = (
    f"{CUSTOMER_SYNC_JOBS_SQL} UNION ALL SELECT '{JobName.SEND_FLOW_TRIGGERS}'"
)
WRITE_CUSTOMER_SYNC_AND_FLOW_SQL = f"""
INSERT INTO outbox_intent (shop_id, customer_id, job, payload, created_at, attempts)
SELECT $1, $2, jobs.job, $3, $4, 0 FROM ({CUSTOMER_SYNC_AND_FLOW_JOBS_SQL}) AS jobs
RETURNING job
"""


def customer_sync_jobs_sql(event: str) -> str:
    """The jobs sub-select (shop: $1) an intent for `event` owes, as
    `write_customer_sync_intents` decides: for the set-based statements that write many."""
    owed = owes_flow({"event": event, "entry_id": ""})
    return CUSTOMER_SYNC_AND_FLOW_JOBS_SQL if owed else CUSTOMER_SYNC_JOBS_SQL


async def write_customer_sync_intents(
    *, shop_id: int, customer_id: int, reason: dict[str, Any], now: datetime | None = None
) -> list[str]:
    """Owe a sync of this customer everywhere it is shown, and Shopify Flow the triggers the
    change may announce (`owes_flow`). Call inside the change's transaction."""
    statement = WRITE_CUSTOMER_SYNC_AND_FLOW_SQL if owes_flow(reason) else WRITE_CUSTOMER_SYNC_SQL
    rows = await sql.fetch_all(statement, shop_id, customer_id, json.dumps(reason), now or utcnow())
    return [row["job"] for row in rows]


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


async def write_customer_intent(
    *, shop_id: int, customer_id: int, job: JobName, payload: dict[str, Any], now: datetime
) -> str:
    """Owe one piece of work of `job` about this customer (a reward's code to create or to
    deactivate). Call inside the change's transaction; returns the job to notify."""
    await OutboxIntent.create(
        shop_id=shop_id, customer_id=customer_id, job=str(job), payload=payload, created_at=now
    )
    return str(job)


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
