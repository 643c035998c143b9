"""The points lifecycle under arq: the per-shop jobs (approve, expire, birthdays/anniversaries)
and the crons that schedule them, each cron pass under a Redis lock."""

from __future__ import annotations

import math
from typing import Any

from arq import cron, func
from arq.cron import CronJob
from arq.typing import WorkerCoroutine

from loyalty.outbox.queue import ArqJobQueue
from loyalty.settings import Settings
from loyalty.sync.jobs import LIFECYCLE_JOBS, PERIODIC_JOBS, LifecycleJob, PeriodicJob
from workers.db_loss import rerun_on_lost_connection
from workers.locks import redis_lock


def _arq_lifecycle(job: LifecycleJob) -> WorkerCoroutine:
    @rerun_on_lost_connection
    async def run(ctx: dict[str, Any], *, shop_id: int) -> int:
        return await job(ctx["deps"], shop_id=shop_id, queue=ArqJobQueue(ctx["redis"]))

    return run


# keep_result=0: a finished job leaves no key behind, so the same id can be scheduled again.
LIFECYCLE_FUNCTIONS = [
    func(_arq_lifecycle(job), name=str(name), keep_result=0, max_tries=10)
    for name, job in LIFECYCLE_JOBS.items()
]


def _arq_periodic(job: PeriodicJob, lock_ttl: float) -> WorkerCoroutine:
    async def run(ctx: dict[str, Any]) -> int:
        async with redis_lock(ctx["redis"], str(job.name), ttl=lock_ttl) as taken:
            if not taken:
                return 0
            return await job.run(ctx["deps"], ArqJobQueue(ctx["redis"]))

    run.__name__ = str(job.name)
    return rerun_on_lost_connection(run)


def cron_times(interval: float) -> dict[str, Any]:
    """arq cron fields firing every `interval` seconds (rounded to what a clock face allows:
    seconds under a minute, minutes under an hour, hours beyond)."""
    if interval < 60:
        return {"second": set(range(0, 60, max(1, math.floor(interval))))}
    if interval < 3600:
        return {"minute": set(range(0, 60, max(1, round(interval / 60)))), "second": 0}
    return {"hour": set(range(0, 24, max(1, round(interval / 3600)))), "minute": 7, "second": 0}


def lifecycle_crons(settings: Settings) -> list[CronJob]:
    """One cron per periodic job. arq enqueues each tick once across workers (its job id names
    the tick); the Redis lock keeps a slow pass from overlapping the next one."""
    crons = []
    for job in PERIODIC_JOBS:
        interval = job.interval(settings)
        crons.append(
            cron(
                _arq_periodic(job, lock_ttl=max(60.0, interval)),
                name=str(job.name),
                run_at_startup=True,
                keep_result=0,
                **cron_times(interval),
            )
        )
    return crons
