"""The registry's jobs under arq: one generic adapter from arq's calling convention (`ctx`
first) to the jobs' own (`deps, queue, **kwargs`), the shop jobs as arq functions and the
periodic ones as crons, each cron pass under a Redis lock.

No job family has a wrapper of its own: what arq adds is the same for every job. The job's
`deps` are the worker's (`ctx["deps"]`, set at startup) and its follow-ups go to arq on the
worker's Redis; a job that failed on a lost database connection runs once more
(workers.db_loss), every job being idempotent.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from arq import cron, func
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Function

from loyalty.jobs.registry import JOBS, PERIODIC_JOBS, SHOP_JOBS, JobFunction
from loyalty.outbox.queue import ArqJobQueue
from loyalty.settings import Settings
from workers.db_loss import rerun_on_lost_connection
from workers.locks import redis_lock


def arq_job(
    job: JobFunction, *, lock: str | None = None, lock_ttl: float = 60.0
) -> WorkerCoroutine:
    """`job` as arq calls it. With a `lock` name, a pass runs only while it holds that Redis
    lock (and returns 0 when another holds it): for the crons, whose ticks arq enqueues once
    across workers but whose slow pass could overlap the next tick's."""

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], **kwargs: Any) -> int:
        queue = ArqJobQueue(ctx["redis"])
        if lock is None:
            return await job(ctx["deps"], queue, **kwargs)
        async with redis_lock(ctx["redis"], lock, ttl=lock_ttl) as taken:
            if not taken:
                return 0
            return await job(ctx["deps"], queue, **kwargs)

    return rerun_on_lost_connection(run)


# keep_result=0: a finished job leaves no key behind, so the same id can be queued again.
FUNCTIONS: list[Function] = [
    func(arq_job(JOBS[name]), name=str(name), keep_result=0, max_tries=10) for name in SHOP_JOBS
]


def cron_times(interval: float) -> dict[str, Any]:
    """arq cron fields firing every `interval` seconds (rounded to what a clock face allows:
    seconds under a minute, minutes under an hour, hours beyond)."""
    if interval < 60:
        return {"second": set(range(0, 60, max(1, math.floor(interval))))}
    if interval < 3600:
        return {"minute": set(range(0, 60, max(1, round(interval / 60)))), "second": 0}
    return {"hour": set(range(0, 24, max(1, round(interval / 3600)))), "minute": 7, "second": 0}


def crons(settings: Settings) -> list[CronJob]:
    """One cron per periodic job, run at startup too. arq enqueues each tick once across
    workers (its job id names the tick); the Redis lock keeps a slow pass from overlapping
    the next one."""
    jobs = []
    for job in PERIODIC_JOBS:
        interval = job.interval(settings)
        jobs.append(
            cron(
                arq_job(JOBS[job.name], lock=str(job.name), lock_ttl=max(60.0, interval)),
                name=str(job.name),
                run_at_startup=True,
                keep_result=0,
                **cron_times(interval),
            )
        )
    return jobs
