"""Outbox jobs under arq: the per-kind sync jobs and the periodic sweep."""

from __future__ import annotations

from typing import Any

from arq import func
from arq.typing import WorkerCoroutine

from loyalty.outbox.dispatch import sweep
from loyalty.outbox.queue import ArqJobQueue
from loyalty.sync.jobs import INTENT_JOBS, SHOP_JOBS, IntentJob
from workers.db_loss import rerun_on_lost_connection
from workers.locks import redis_lock


def _arq_job(job: IntentJob) -> WorkerCoroutine:
    @rerun_on_lost_connection
    async def run(ctx: dict[str, Any], *, shop_id: int) -> int:
        return await job(ctx["deps"], shop_id=shop_id)

    return run


def _arq_intent_job(job: IntentJob) -> WorkerCoroutine:
    @rerun_on_lost_connection
    async def run(ctx: dict[str, Any], *, shop_id: int) -> int:
        # The run queues its own follow-up for customers not yet due (loyalty.sync.jobs).
        return await job(ctx["deps"], shop_id=shop_id, queue=ArqJobQueue(ctx["redis"]))

    return run


# keep_result=0: a finished job leaves no key behind, so the same coalescing id can run again.
SHOP_FUNCTIONS = [
    func(
        (_arq_intent_job if name in INTENT_JOBS else _arq_job)(job),
        name=str(name),
        keep_result=0,
        max_tries=10,
    )
    for name, job in SHOP_JOBS.items()
]


@rerun_on_lost_connection
async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Re-dispatch intents nobody is working on. arq runs each cron tick once across workers;
    the lock keeps a slow pass from overlapping the next tick's."""
    async with redis_lock(ctx["redis"], "sweep_outbox", ttl=60) as taken:
        if not taken:
            return 0
        return await sweep(ArqJobQueue(ctx["redis"]))
