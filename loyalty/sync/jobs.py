"""The job functions, shared by the arq worker and the in-process runner of the embedded default.

Each takes `JobDeps` and a `shop_id`, and is safe to run twice: it claims that shop's pending
intents of its kind and pushes the customers' current state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loyalty.jobs import PROFILE_SYNC_JOBS, JobName
from loyalty.outbox.process import process_intents
from loyalty.sync import marketing, metafields
from loyalty.sync.deps import JobDeps

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


def in_process_functions(deps: JobDeps) -> dict[JobName, Callable[..., Awaitable[Any]]]:
    """The same jobs with arq's calling convention (`ctx` first), for InProcessJobQueue."""

    def bind(job: IntentJob) -> Callable[..., Awaitable[Any]]:
        async def call(_ctx: dict[str, Any], **kwargs: Any) -> Any:
            return await job(deps, **kwargs)

        return call

    return {name: bind(job) for name, job in INTENT_JOBS.items()}
