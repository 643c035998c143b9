"""Every background job, in one place: the arq worker (workers/) registers these and the
embedded default runs the same functions in-process (`in_process_queue`).

- Intent jobs (`INTENT_JOBS`, `shop_id`, and the `queue` for their follow-up): deliver that
  shop's pending intents of one kind, pushing each customer's state at write time (Shopify
  customer metafields, the programme metafield, Klaviyo, Omnisend, Postscript), each event at
  most once (loyalty.sync.batch), and queue themselves again for customers not yet due.
- Shop jobs (`SHOP_JOBS`): the intent jobs and `backfill_customers` (loyalty.shopify.backfill).
  `process_webhooks` has its own runner per process kind.
- Lifecycle jobs (`LIFECYCLE_JOBS`, `shop_id` and a queue for the syncs they owe): approve due
  points, expire lots and send "expiring soon" notices, award birthdays and anniversaries.
- Periodic jobs (`PERIODIC_JOBS`): the lifecycle schedulers, each with its interval.

All of them are safe to run twice or concurrently (see each service's guarantees).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from loyalty.clock import utcnow
from loyalty.jobs import PROFILE_SYNC_JOBS, JobName
from loyalty.lifecycle import LifecycleRun
from loyalty.lifecycle.approvals import approve_due
from loyalty.lifecycle.expiry import expire_due, notify_expiring_soon
from loyalty.lifecycle.occasions import award_occasions
from loyalty.lifecycle.schedule import schedule_approvals, schedule_expiry, schedule_occasions
from loyalty.models import Platform
from loyalty.outbox.dispatch import coalescing_job_id
from loyalty.outbox.queue import InProcessJobQueue, JobQueue
from loyalty.settings import Settings
from loyalty.shopify.backfill import backfill_customers
from loyalty.sync import marketing, metafields, shop_metafields
from loyalty.sync.batch import RunResult
from loyalty.sync.deps import JobDeps
from loyalty.sync.periodic import Periodic, PeriodicRunner
from loyalty.webhooks.process import process_webhooks

log = logging.getLogger(__name__)

IntentJob = Callable[..., Awaitable[int]]
LifecycleJob = Callable[..., Awaitable[int]]


async def _marketing(platform: Platform, deps: JobDeps, shop_id: int) -> RunResult:
    return await marketing.sync(deps, platform, shop_id)


Sync = Callable[[JobDeps, int], Awaitable[RunResult]]


def _intent_job(job: JobName, sync: Sync) -> IntentJob:
    async def run(deps: JobDeps, *, shop_id: int, queue: JobQueue | None = None) -> int:
        result = await sync(deps, shop_id)
        if result.next_due is not None and queue is not None:
            await queue_follow_up(queue, job, shop_id=shop_id, due=result.next_due)
        return result.completed

    run.__name__ = str(job)
    run.__doc__ = (
        f"Deliver shop `shop_id`'s pending {job} intents, then queue this job again for when "
        "the customers it left waiting are due. Idempotent."
    )
    return run


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


INTENT_JOBS: dict[JobName, IntentJob] = {
    JobName.SYNC_SHOPIFY_METAFIELDS: _intent_job(
        JobName.SYNC_SHOPIFY_METAFIELDS, lambda deps, shop_id: metafields.sync(deps, shop_id)
    ),
    JobName.SYNC_SHOP_METAFIELDS: _intent_job(JobName.SYNC_SHOP_METAFIELDS, shop_metafields.sync),
    **{
        job: _intent_job(job, partial(_marketing, platform))
        for platform, job in PROFILE_SYNC_JOBS.items()
    },
}


async def _backfill(deps: JobDeps, *, shop_id: int) -> int:
    if deps.admin is None:
        log.info("customer backfill for shop %s skipped: Shopify is not configured", shop_id)
        return 0
    result = await backfill_customers(shop_id=shop_id, admin=deps.admin)
    return result.inserted if result else 0


# Every job that takes (deps, shop_id); process_webhooks has its own runner per process kind.
SHOP_JOBS: dict[JobName, IntentJob] = {
    **INTENT_JOBS,
    JobName.BACKFILL_CUSTOMERS: _backfill,
}


def job_defers(settings: Settings) -> dict[str, float]:
    """Per-kind dispatch defers: the marketing syncs wait for a burst to settle, so each
    customer gets one profile write for it (the dispatcher's own defer covers the rest)."""
    return {str(job): settings.marketing_sync_delay for job in PROFILE_SYNC_JOBS.values()}


async def dispatch_follow_ups(
    queue: JobQueue, *, shop_id: int, jobs: Iterable[str], settings: Settings
) -> None:
    """Queue the syncs a job's changes owe. A queue failure is logged: the intents wait in
    the database for the sweep."""
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


def _lifecycle_job(
    name: JobName, work: Callable[..., Awaitable[list[LifecycleRun]]]
) -> LifecycleJob:
    async def run(deps: JobDeps, *, shop_id: int, queue: JobQueue) -> int:
        runs = await work(shop_id=shop_id)
        owed = {job for r in runs for job in r.jobs}
        await dispatch_follow_ups(queue, shop_id=shop_id, jobs=owed, settings=deps.settings)
        if any(r.more for r in runs):  # a big backlog: another run picks up where this stopped
            stamp = int(datetime.now(UTC).timestamp())
            await queue.enqueue(name, job_id=f"{name}:{shop_id}:more:{stamp}", shop_id=shop_id)
        return sum(r.done for r in runs)

    run.__name__ = str(name)
    return run


async def _approve(*, shop_id: int) -> list[LifecycleRun]:
    return [await approve_due(shop_id=shop_id)]


async def _expire(*, shop_id: int) -> list[LifecycleRun]:
    return [await expire_due(shop_id=shop_id), await notify_expiring_soon(shop_id=shop_id)]


async def _occasions(*, shop_id: int) -> list[LifecycleRun]:
    return [await award_occasions(shop_id=shop_id)]


LIFECYCLE_JOBS: dict[JobName, LifecycleJob] = {
    JobName.APPROVE_POINTS: _lifecycle_job(JobName.APPROVE_POINTS, _approve),
    JobName.EXPIRE_POINTS: _lifecycle_job(JobName.EXPIRE_POINTS, _expire),
    JobName.AWARD_OCCASIONS: _lifecycle_job(JobName.AWARD_OCCASIONS, _occasions),
}


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    name: JobName
    interval: Callable[[Settings], float]  # seconds between runs
    run: Callable[[JobDeps, JobQueue], Awaitable[int]]


# Each scheduler looks a little past its next run, so nothing falls between two passes.
PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        JobName.SCHEDULE_APPROVALS,
        lambda s: s.approvals_interval,
        lambda deps, queue: schedule_approvals(
            queue, horizon=deps.settings.approvals_interval * 1.5
        ),
    ),
    PeriodicJob(
        JobName.SCHEDULE_EXPIRY,
        lambda s: s.expiry_interval,
        lambda deps, queue: schedule_expiry(queue, horizon=deps.settings.expiry_interval * 1.5),
    ),
    PeriodicJob(
        JobName.SCHEDULE_OCCASIONS,
        lambda s: s.occasions_interval,
        lambda deps, queue: schedule_occasions(queue),
    ),
)


def in_process_functions(deps: JobDeps) -> dict[JobName, Callable[..., Awaitable[Any]]]:
    """Every job with arq's calling convention (`ctx` first), for InProcessJobQueue. The one list
    of jobs the embedded default runs; workers/ registers the same ones for arq. Lifecycle jobs
    find the queue for their follow-ups in `ctx["queue"]` (see `in_process_queue`)."""

    def bind(job: IntentJob) -> Callable[..., Awaitable[Any]]:
        async def call(_ctx: dict[str, Any], **kwargs: Any) -> Any:
            return await job(deps, **kwargs)

        return call

    def bind_intents(job: IntentJob) -> Callable[..., Awaitable[Any]]:
        async def call(ctx: dict[str, Any], *, shop_id: int) -> Any:
            return await job(deps, shop_id=shop_id, queue=ctx["queue"])

        return call

    def bind_lifecycle(job: LifecycleJob) -> Callable[..., Awaitable[Any]]:
        async def call(ctx: dict[str, Any], *, shop_id: int) -> Any:
            return await job(deps, shop_id=shop_id, queue=ctx["queue"])

        return call

    async def run_webhooks(ctx: dict[str, Any], *, shop_id: int) -> int:
        # In process there is no queue to hand follow-ups to, so run them here: the customer
        # syncs the deliveries owe, and further rounds while deliveries remain.
        handled = 0
        while True:
            run = await process_webhooks(shop_id=shop_id)
            handled += run.handled
            for job in sorted(run.jobs):
                try:
                    await INTENT_JOBS[JobName(job)](deps, shop_id=shop_id, queue=ctx["queue"])
                except Exception:  # its intents were held for retry; the sweep brings them back
                    log.exception("%s for shop %s failed after webhooks", job, shop_id)
            if not run.more:
                return handled

    return {
        **{name: bind(job) for name, job in SHOP_JOBS.items()},
        **{name: bind_intents(job) for name, job in INTENT_JOBS.items()},
        **{name: bind_lifecycle(job) for name, job in LIFECYCLE_JOBS.items()},
        JobName.PROCESS_WEBHOOKS: run_webhooks,
    }


def in_process_queue(deps: JobDeps) -> InProcessJobQueue:
    """The embedded default's queue: every job above, run as tasks of this process."""
    ctx: dict[str, Any] = {}
    queue = InProcessJobQueue(in_process_functions(deps), ctx)
    ctx["queue"] = queue
    return queue


def in_process_periodic(deps: JobDeps, queue: JobQueue) -> PeriodicRunner:
    """The embedded default's runner for PERIODIC_JOBS (the workers' crons do it otherwise)."""
    return PeriodicRunner(
        [
            Periodic(
                name=str(job.name),
                interval=job.interval(deps.settings),
                run=partial(job.run, deps, queue),
            )
            for job in PERIODIC_JOBS
        ]
    )
