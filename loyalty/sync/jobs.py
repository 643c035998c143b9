"""The job functions, shared by the arq worker and the in-process runner of the embedded default.

Each takes `JobDeps` and a `shop_id`, and is safe to run twice: an intent job claims that shop's
pending intents of its kind and pushes the customers' current state; `process_webhooks` handles
the shop's stored Shopify deliveries (loyalty.webhooks.process); `backfill_customers` brings in
customers who existed before the install (loyalty.shopify.backfill).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from loyalty.jobs import PROFILE_SYNC_JOBS, JobName
from loyalty.outbox.process import process_intents
from loyalty.shopify.backfill import backfill_customers
from loyalty.sync import marketing, metafields
from loyalty.sync.deps import JobDeps
from loyalty.webhooks.process import process_webhooks

log = logging.getLogger(__name__)

IntentJob = Callable[..., Awaitable[int]]


def _intent_job(job: JobName, handler: Any) -> IntentJob:
    async def run(deps: JobDeps, *, shop_id: int) -> int:
        return await process_intents(job=job, shop_id=shop_id, handler=handler, deps=deps)

    run.__name__ = str(job)
    run.__doc__ = f"Process shop `shop_id`'s pending {job} intents. Idempotent."
    return run


INTENT_JOBS: dict[JobName, IntentJob] = {
    JobName.SYNC_SHOPIFY_METAFIELDS: _intent_job(
        JobName.SYNC_SHOPIFY_METAFIELDS, metafields.handle
    ),
    **{
        job: _intent_job(job, marketing.profile_sync_handler(platform))
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


def in_process_functions(deps: JobDeps) -> dict[JobName, Callable[..., Awaitable[Any]]]:
    """Every job with arq's calling convention (`ctx` first), for InProcessJobQueue. The one list
    of jobs the embedded default runs; workers/ registers the same ones for arq."""

    def bind(job: IntentJob) -> Callable[..., Awaitable[Any]]:
        async def call(_ctx: dict[str, Any], **kwargs: Any) -> Any:
            return await job(deps, **kwargs)

        return call

    async def run_webhooks(_ctx: dict[str, Any], *, shop_id: int) -> int:
        # In process there is no queue to hand follow-ups to, so run them here: the customer
        # syncs the deliveries owe, and further rounds while deliveries remain.
        handled = 0
        while True:
            run = await process_webhooks(shop_id=shop_id)
            handled += run.handled
            for job in sorted(run.jobs):
                try:
                    await INTENT_JOBS[JobName(job)](deps, shop_id=shop_id)
                except Exception:  # its intents were held for retry; the sweep brings them back
                    log.exception("%s for shop %s failed after webhooks", job, shop_id)
            if not run.more:
                return handled

    return {
        **{name: bind(job) for name, job in SHOP_JOBS.items()},
        JobName.PROCESS_WEBHOOKS: run_webhooks,
    }
