"""The embedded default's job runner (no REDIS_URL): the registry's jobs run in the web process,
the shop jobs on an `InProcessJobQueue` and the periodic ones on a `PeriodicRunner`.

The same functions as the arq worker runs, called the same way (`job(deps, queue, **kwargs)`),
with this process's queue as the one their follow-ups go to: a job never runs another inline.
The outbox sweep is the one periodic job not on the runner: the web process's
`OutboxDispatcher` sweeps on its own interval, with or without Redis.
"""

from __future__ import annotations

from functools import partial

from loyalty.jobs.names import JobName
from loyalty.jobs.periodic import Periodic, PeriodicRunner
from loyalty.jobs.registry import JOBS, PERIODIC_JOBS, SHOP_JOBS
from loyalty.outbox.queue import InProcessJobQueue, JobQueue, QueuedJob
from loyalty.sync.deps import JobDeps

SWEPT_BY_THE_DISPATCHER = JobName.SWEEP_OUTBOX


def in_process_functions(deps: JobDeps) -> dict[JobName, QueuedJob]:
    """Every shop job, bound to this process's `deps`, as `InProcessJobQueue` calls them."""
    return {name: partial(JOBS[name], deps) for name in SHOP_JOBS}


def in_process_queue(deps: JobDeps) -> InProcessJobQueue:
    """The embedded default's queue: every shop job, run as tasks of this process."""
    return InProcessJobQueue(in_process_functions(deps))


def in_process_periodic(deps: JobDeps, queue: JobQueue) -> PeriodicRunner:
    """The embedded default's clock for the periodic jobs (the workers' crons do it otherwise)."""
    return PeriodicRunner(
        [
            Periodic(
                name=str(job.name),
                interval=job.interval(deps.settings),
                run=partial(JOBS[job.name], deps, queue),
            )
            for job in PERIODIC_JOBS
            if job.name != SWEPT_BY_THE_DISPATCHER
        ]
    )
