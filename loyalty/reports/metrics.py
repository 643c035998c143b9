"""The numbers an operator alerts on, across every shop: side-effect intents still owed and
dead-lettered (per job), events whose answer was lost (per platform), and webhook deliveries
recorded as failed for good.

Each is one grouped COUNT over a partial index (migrations 0009, 0011 and 0012), so a scrape costs
the size of the backlog, not of the history. Rendering them (Prometheus text) is the web
layer's; nothing here knows about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalty import sql
from loyalty.jobs import CUSTOMER_SYNC_JOBS, JobName
from loyalty.models import DeliveryStatus, Platform

# Always reported, at 0 when none: a series that appears only once something is wrong cannot
# be told apart from a scrape that failed.
INTENT_JOBS: tuple[str, ...] = tuple(
    str(job)
    for job in (*CUSTOMER_SYNC_JOBS, JobName.SYNC_SHOP_METAFIELDS, JobName.SEND_FLOW_TRIGGERS)
)

_PENDING_SQL = (
    "SELECT job, COUNT(*) AS n FROM outbox_intent WHERE completed_at IS NULL GROUP BY job"
)
_DEAD_SQL = "SELECT job, COUNT(*) AS n FROM outbox_intent WHERE dead_at IS NOT NULL GROUP BY job"
# Sent, answer lost, not re-sent until the merchant asks (loyalty.outbox.deliveries).
_UNCONFIRMED_SQL = (
    "SELECT platform, COUNT(*) AS n FROM event_delivery "
    f"WHERE status = '{DeliveryStatus.UNCONFIRMED}' GROUP BY platform"
)
# Failed for good: given up after MAX_ATTEMPTS, or refused as not what its topic sends. A
# delivery still being retried is pending (processed_at NULL), not failed.
_WEBHOOKS_FAILED_SQL = (
    "SELECT COUNT(*) AS n FROM webhook_event "
    "WHERE last_error IS NOT NULL AND processed_at IS NOT NULL"
)
_WEBHOOKS_PENDING_SQL = "SELECT COUNT(*) AS n FROM webhook_event WHERE processed_at IS NULL"


@dataclass(frozen=True, slots=True)
class OutboxMetrics:
    pending: dict[str, int]  # intents not completed, by job
    dead_letters: dict[str, int]  # intents given up and not retried, by job
    unconfirmed: dict[str, int]  # events whose answer was lost, not sent again, by platform
    webhooks_failed: int
    webhooks_pending: int


async def _by_job(statement: str) -> dict[str, int]:
    counts = dict.fromkeys(INTENT_JOBS, 0)
    for row in await sql.fetch_all(statement):
        counts[str(row["job"])] = int(row["n"])
    return counts


async def _by_platform(statement: str) -> dict[str, int]:
    counts = dict.fromkeys((str(p) for p in Platform), 0)
    for row in await sql.fetch_all(statement):
        counts[str(row["platform"])] = int(row["n"])
    return counts


async def _count(statement: str) -> int:
    row = await sql.fetch_one(statement)
    return int(row["n"]) if row else 0


async def outbox_metrics() -> OutboxMetrics:
    return OutboxMetrics(
        pending=await _by_job(_PENDING_SQL),
        dead_letters=await _by_job(_DEAD_SQL),
        unconfirmed=await _by_platform(_UNCONFIRMED_SQL),
        webhooks_failed=await _count(_WEBHOOKS_FAILED_SQL),
        webhooks_pending=await _count(_WEBHOOKS_PENDING_SQL),
    )
