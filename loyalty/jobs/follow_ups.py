"""How a job queues the work it leaves owed, through whichever `JobQueue` runs it (arq's in the
workers, this process's in the embedded default), so every runner behaves alike.

Guarantees: a follow-up that cannot be queued (Redis down) is logged and never fails the job
that owes it: the work waits in the database (intents, stored deliveries, due entries) for the
outbox sweep or the next scheduler pass. Ids name the shop and the moment, so runs that agree
on a follow-up queue it once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from loyalty.clock import utcnow
from loyalty.jobs.names import PROFILE_SYNC_JOBS, JobName
from loyalty.outbox.dispatch import coalescing_job_id
from loyalty.outbox.queue import JobQueue
from loyalty.settings import Settings

log = logging.getLogger(__name__)


# Dispatched at once, not deferred (the dispatcher's urgent kinds): a shopper waits for the code
# at checkout, and each redemption is its own code, so waiting would coalesce nothing.
URGENT_JOBS = (JobName.SYNC_REWARD_CODES,)


def job_defers(settings: Settings) -> dict[str, float]:
    """Per-kind dispatch defers: the marketing syncs wait for a burst to settle, so each
    customer gets one profile write for it; the urgent kinds wait for nothing (the
    dispatcher's own defer covers the rest)."""
    defers = {str(job): settings.marketing_sync_delay for job in PROFILE_SYNC_JOBS.values()}
    return defers | {str(job): 0.0 for job in URGENT_JOBS}


async def queue_follow_up(queue: JobQueue, job: JobName, *, shop_id: int, due: datetime) -> None:
    """Queue `job` for `due`: the run that left customers not yet quiet (or ran out of time)
    arranges the next one itself, instead of leaving them to the sweep. The id names the
    moment, so runs that agree on it queue it once."""
    defer = max(0.0, (due - utcnow()).total_seconds())
    stamp = int(due.timestamp() * 1000)
    try:
        await queue.enqueue(
            job, job_id=f"{job}:{shop_id}:due:{stamp}", defer_seconds=defer, shop_id=shop_id
        )
    except Exception as exc:  # Redis down: the sweep finds the intents in the database
        log.warning("could not queue %s for shop %s (%s); left to the sweep", job, shop_id, exc)


async def dispatch_follow_ups(
    queue: JobQueue, *, shop_id: int, jobs: Iterable[str], settings: Settings
) -> None:
    """Queue the syncs a job's changes owe (the marketing ones deferred, to coalesce). A queue
    failure is logged: the intents wait in the database for the sweep."""
    defers = job_defers(settings)
    for job in sorted(set(jobs)):
        defer = defers.get(job, 0.0)
        try:
            await queue.enqueue(
                JobName(job),
                job_id=coalescing_job_id(job, shop_id, window_seconds=max(1.0, defer)),
                defer_seconds=defer,
                shop_id=shop_id,
            )
        except Exception as exc:
            log.warning(
                "could not enqueue %s for shop %s (%s); left to the sweep", job, shop_id, exc
            )


async def queue_another_round(queue: JobQueue, job: JobName, *, shop_id: int) -> None:
    """Queue `job` again for the shop: this run stopped with work left (its time budget or
    batch limit), and another picks up where it stopped. Not this job's own id: it is still
    running, so the queue would drop the repeat. A queue failure is logged: the work waits in
    the database for the sweep or the next scheduler pass."""
    stamp = int(datetime.now(UTC).timestamp())
    try:
        await queue.enqueue(job, job_id=f"{job}:{shop_id}:more:{stamp}", shop_id=shop_id)
    except Exception as exc:
        log.warning("could not enqueue %s for shop %s (%s); left to the sweep", job, shop_id, exc)
