"""The lifecycle schedulers: find the shops owed lifecycle work and queue their jobs, each
deferred to the moment it falls due, so points are approved and expired on time without a job
per entry waiting in Redis for weeks.

Each scheduler runs every `interval` seconds (an arq cron under a Redis lock in the workers, the
in-process runner in the embedded default) and looks `horizon` ahead (a little more than its
interval): work already due is queued now, work falling due within the horizon is queued with
a defer to its second. Job ids name the shop and that second, so a job already queued is not
queued twice; a job lost with Redis is found again by the next pass, and running one early or
twice does nothing (the jobs are idempotent). Uninstalled shops are skipped.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from loyalty import sql
from loyalty.clock import parse_db_datetime, utcnow
from loyalty.jobs import JobName
from loyalty.lifecycle.expiry import NOTICE_WINDOW
from loyalty.outbox.queue import JobQueue

log = logging.getLogger(__name__)

MAX_DEFERRED_PER_SHOP = 60  # past this, due times are bucketed more coarsely

# The partial index on pending entries by due date (migration 0005) serves both.
_APPROVALS_DUE_SQL = """
SELECT DISTINCT e.shop_id FROM earning_history_entry e JOIN shop s ON s.id = e.shop_id
WHERE e.status = 'pending' AND e.points_due_at <= $1 AND s.uninstalled_at IS NULL
"""
_APPROVALS_SOON_SQL = """
SELECT e.shop_id, e.points_due_at AS due FROM earning_history_entry e
JOIN shop s ON s.id = e.shop_id
WHERE e.status = 'pending' AND e.points_due_at > $1 AND e.points_due_at <= $2
  AND s.uninstalled_at IS NULL
ORDER BY e.points_due_at LIMIT 10000
"""

# Lots are found by a scan (no index on expiry: every award would pay for one), which is why
# the expiry scheduler runs every 15 minutes, not every minute.
_EXPIRY_DUE_SQL = """
SELECT DISTINCT e.shop_id FROM earning_history_entry e JOIN shop s ON s.id = e.shop_id
WHERE e.status = 'approved' AND e.points_remaining > 0 AND e.points_expiry_at <= $1
  AND s.uninstalled_at IS NULL
"""
_EXPIRY_SOON_SQL = """
SELECT e.shop_id, e.points_expiry_at AS due FROM earning_history_entry e
JOIN shop s ON s.id = e.shop_id
WHERE e.status = 'approved' AND e.points_remaining > 0
  AND e.points_expiry_at > $1 AND e.points_expiry_at <= $2 AND s.uninstalled_at IS NULL
ORDER BY e.points_expiry_at LIMIT 10000
"""
_NOTICES_OWED_SQL = """
SELECT DISTINCT e.shop_id FROM earning_history_entry e
JOIN customer c ON c.id = e.customer_id JOIN shop s ON s.id = e.shop_id
WHERE e.status = 'approved' AND e.points_remaining > 0
  AND e.points_expiry_at > $1 AND e.points_expiry_at <= $2
  AND NOT c.is_excluded AND c.redacted_at IS NULL
  AND (c.expiring_soon_notified_at IS NULL OR c.expiring_soon_notified_at <= $3)
  AND s.uninstalled_at IS NULL
"""

_OCCASION_SHOPS_SQL = """
SELECT DISTINCT r.shop_id FROM earning_rule r JOIN shop s ON s.id = r.shop_id
WHERE r.is_active AND r.category IN ('birthday', 'anniversary')
  AND s.uninstalled_at IS NULL AND s.programme_enabled
"""


async def schedule_approvals(
    queue: JobQueue, *, horizon: float, now: datetime | None = None
) -> int:
    """Queue `approve_points` for shops with entries due now or within `horizon` seconds."""
    now = now or utcnow()
    due = [int(r["shop_id"]) for r in await sql.fetch_all(_APPROVALS_DUE_SQL, now)]
    soon = await sql.fetch_all(_APPROVALS_SOON_SQL, now, now + timedelta(seconds=horizon))
    return await _enqueue(queue, JobName.APPROVE_POINTS, due, soon, now, horizon)


async def schedule_expiry(queue: JobQueue, *, horizon: float, now: datetime | None = None) -> int:
    """Queue `expire_points` for shops with lots past their date or expiring within `horizon`
    seconds, and for shops owing "expiring soon" notices."""
    now = now or utcnow()
    due = {int(r["shop_id"]) for r in await sql.fetch_all(_EXPIRY_DUE_SQL, now)}
    due.update(
        int(r["shop_id"])
        for r in await sql.fetch_all(
            _NOTICES_OWED_SQL, now, now + NOTICE_WINDOW, now - NOTICE_WINDOW
        )
    )
    soon = await sql.fetch_all(_EXPIRY_SOON_SQL, now, now + timedelta(seconds=horizon))
    return await _enqueue(queue, JobName.EXPIRE_POINTS, sorted(due), soon, now, horizon)


async def schedule_occasions(queue: JobQueue, *, now: datetime | None = None) -> int:
    """Queue `award_occasions` for every installed shop with an active birthday or
    anniversary rule; the job works out each shop's own date."""
    now = now or utcnow()
    shops = [int(r["shop_id"]) for r in await sql.fetch_all(_OCCASION_SHOPS_SQL)]
    hour = now.strftime("%Y%m%d%H")
    for shop_id in shops:
        await queue.enqueue(
            JobName.AWARD_OCCASIONS,
            job_id=f"{JobName.AWARD_OCCASIONS}:{shop_id}:{hour}",
            shop_id=shop_id,
        )
    return len(shops)


async def _enqueue(
    queue: JobQueue,
    job: JobName,
    due_now: list[int],
    soon: list[dict[str, Any]],
    now: datetime,
    horizon: float,
) -> int:
    stamp = int(now.timestamp())
    queued = 0
    for shop_id in due_now:
        await queue.enqueue(job, job_id=f"{job}:{shop_id}:{stamp}", shop_id=shop_id)
        queued += 1
    by_shop: dict[int, set[int]] = defaultdict(set)
    bucket = max(1, math.ceil(horizon / MAX_DEFERRED_PER_SHOP))
    for row in soon:
        due = parse_db_datetime(row["due"])
        assert due is not None
        second = math.ceil(due.timestamp())
        by_shop[int(row["shop_id"])].add(math.ceil(second / bucket) * bucket)
    for shop_id, seconds in by_shop.items():
        for second in sorted(seconds):
            await queue.enqueue(
                job,
                job_id=f"{job}:{shop_id}:{second}",
                defer_seconds=max(0.0, second - now.timestamp()),
                shop_id=shop_id,
            )
            queued += 1
    if queued:
        log.info("scheduled %d %s job(s)", queued, job)
    return queued
