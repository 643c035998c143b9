"""The webhook job: handle one shop's stored Shopify deliveries, in received order, then queue
what they leave owed. One behaviour whatever runs it: the customer syncs the deliveries owe
and, if the time budget ran out with deliveries left, another round go through the job queue
(arq's in the workers, this process's in the embedded default), never run inline.

Safe to run twice or concurrently: a second run for the shop returns at once while the first
holds the shop's lease (loyalty.webhooks.process).
"""

from __future__ import annotations

from loyalty.jobs.follow_ups import dispatch_follow_ups, queue_another_round
from loyalty.jobs.names import JobName
from loyalty.outbox.queue import JobQueue
from loyalty.sync.deps import JobDeps
from loyalty.webhooks import process


async def process_webhooks(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Handle the shop's stored deliveries; returns how many were handled."""
    run = await process.process_webhooks(shop_id=shop_id)
    # The customer syncs the deliveries owe (the marketing ones deferred, to coalesce).
    await dispatch_follow_ups(queue, shop_id=shop_id, jobs=run.jobs, settings=deps.settings)
    if run.more:
        await queue_another_round(queue, JobName.PROCESS_WEBHOOKS, shop_id=shop_id)
    return run.handled
