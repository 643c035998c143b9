"""The points lifecycle's jobs: per shop, approve pending points now due, expire lots now past
their date (and send "expiring soon" notices), award today's birthdays and anniversaries; and
the periodic schedulers that queue those, deferred to the moment each becomes due.

Each per-shop job queues the customer syncs its changes owe and, when it stopped with a
backlog left, another round of itself. All are safe to run at any time or twice (see
loyalty.lifecycle) and return how many items they did.
"""

from __future__ import annotations

from loyalty.jobs.follow_ups import dispatch_follow_ups, queue_another_round
from loyalty.jobs.names import JobName
from loyalty.lifecycle import LifecycleRun, approvals, expiry, occasions, schedule
from loyalty.outbox.queue import JobQueue
from loyalty.sync.deps import JobDeps


async def _settle(
    deps: JobDeps, queue: JobQueue, job: JobName, shop_id: int, runs: list[LifecycleRun]
) -> int:
    """What a lifecycle run leaves: the syncs it owes, and another round if work is left."""
    owed = {name for run in runs for name in run.jobs}
    await dispatch_follow_ups(queue, shop_id=shop_id, jobs=owed, settings=deps.settings)
    if any(run.more for run in runs):
        await queue_another_round(queue, job, shop_id=shop_id)
    return sum(run.done for run in runs)


async def approve_points(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Approve the shop's pending points whose due time has come."""
    runs = [await approvals.approve_due(shop_id=shop_id)]
    return await _settle(deps, queue, JobName.APPROVE_POINTS, shop_id, runs)


async def expire_points(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Expire the shop's lots past their date, then send the "expiring soon" notices owed."""
    runs = [
        await expiry.expire_due(shop_id=shop_id),
        await expiry.notify_expiring_soon(shop_id=shop_id),
    ]
    return await _settle(deps, queue, JobName.EXPIRE_POINTS, shop_id, runs)


async def award_occasions(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Award today's birthdays and anniversaries, today in the shop's own timezone."""
    runs = [await occasions.award_occasions(shop_id=shop_id)]
    return await _settle(deps, queue, JobName.AWARD_OCCASIONS, shop_id, runs)


# Each scheduler looks a little past its next run, so nothing falls between two passes.
HORIZON = 1.5  # times the scheduler's interval


async def schedule_approvals(deps: JobDeps, queue: JobQueue) -> int:
    """Queue `approve_points` for the shops with entries due before the next pass."""
    horizon = deps.settings.approvals_interval * HORIZON
    return await schedule.schedule_approvals(queue, horizon=horizon)


async def schedule_expiry(deps: JobDeps, queue: JobQueue) -> int:
    """Queue `expire_points` for the shops with lots or notices due before the next pass."""
    return await schedule.schedule_expiry(queue, horizon=deps.settings.expiry_interval * HORIZON)


async def schedule_occasions(deps: JobDeps, queue: JobQueue) -> int:
    """Queue `award_occasions` for every shop with an active birthday or anniversary rule."""
    return await schedule.schedule_occasions(queue)
