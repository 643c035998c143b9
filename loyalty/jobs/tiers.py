"""The VIP tiers' job: re-place a shop's customers on its tiers after a tier create or edit
(loyalty.tiers.placement), queueing the customer syncs the moves owe. Safe to run twice or
concurrently; returns how many customers moved."""

from __future__ import annotations

from loyalty.jobs.follow_ups import dispatch_follow_ups
from loyalty.outbox.queue import JobQueue
from loyalty.sync.deps import JobDeps
from loyalty.tiers import placement


async def place_vip_tiers(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Re-place the shop's customers on the tiers as they now are."""
    done = await placement.place_tiers(shop_id=shop_id)
    await dispatch_follow_ups(queue, shop_id=shop_id, jobs=done.jobs, settings=deps.settings)
    return done.customers_moved
