"""Shared plumbing for the arq tests (the `arq_redis` fixture is in conftest.py): a worker built
from the app's own `worker_options` that drains a queue, and what is queued on it."""

from __future__ import annotations

from arq.connections import ArqRedis
from arq.worker import Worker

from loyalty.settings import Settings
from workers.settings import worker_options

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def arq_worker(settings: Settings, pool: ArqRedis, *, burst: bool = True) -> Worker:
    """The production worker's functions on `pool`'s queue; the periodic jobs are left out (the
    tests call them explicitly). `burst`: stop once the queue is empty."""
    options = worker_options(settings.with_overrides(redis_url="redis://unused"), manage_db=False)
    options.pop("redis_settings")
    options["cron_jobs"] = []
    options["poll_delay"] = 0.01
    return Worker(
        **options,
        redis_pool=pool,
        queue_name=pool.default_queue_name,
        burst=burst,
        handle_signals=False,
    )


async def queued_jobs(pool: ArqRedis) -> list[str]:
    return [job.function for job in await pool.queued_jobs(queue_name=pool.default_queue_name)]
