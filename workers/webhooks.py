"""Webhook processing under arq: `process_webhooks(shop_id)` handles the shop's stored Shopify
deliveries, then queues the customer syncs they owe (and another round if time ran out)."""

from __future__ import annotations

import logging
from typing import Any

from arq import func

from loyalty.jobs import JobName
from loyalty.outbox.dispatch import coalescing_job_id
from loyalty.outbox.queue import ArqJobQueue
from loyalty.sync.jobs import dispatch_follow_ups
from loyalty.webhooks.process import process_webhooks as process_shop_webhooks
from workers.db_loss import rerun_on_lost_connection

log = logging.getLogger(__name__)


@rerun_on_lost_connection
async def process_webhooks(ctx: dict[str, Any], *, shop_id: int) -> int:
    run = await process_shop_webhooks(shop_id=shop_id)
    queue = ArqJobQueue(ctx["redis"])
    # The customer syncs the deliveries owe (the marketing ones deferred, to coalesce).
    await dispatch_follow_ups(queue, shop_id=shop_id, jobs=run.jobs, settings=ctx["deps"].settings)
    if run.more:
        # Not this job's own id: it is still running, so arq would drop the repeat.
        job = JobName.PROCESS_WEBHOOKS
        try:
            await queue.enqueue(
                job, job_id=coalescing_job_id(job, shop_id) + ":more", shop_id=shop_id
            )
        except Exception as exc:  # the deliveries wait in the database for the sweep
            log.warning(
                "could not enqueue %s for shop %s (%s); left to the sweep", job, shop_id, exc
            )
    return run.handled


# keep_result=0: a finished job leaves no key behind, so the same coalescing id can run again.
WEBHOOK_FUNCTIONS = [
    func(process_webhooks, name=str(JobName.PROCESS_WEBHOOKS), keep_result=0, max_tries=10)
]
