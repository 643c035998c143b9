"""arq `WorkerSettings`, built from a Settings value (or the environment for the arq CLI)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from arq import cron
from arq.connections import RedisSettings

from loyalty.db import close_db, init_db
from loyalty.jobs import JobName
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps, build_job_deps
from workers.outbox import SHOP_FUNCTIONS, sweep_outbox
from workers.webhooks import WEBHOOK_FUNCTIONS

log = logging.getLogger(__name__)


def worker_options(settings: Settings, *, manage_db: bool = True) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker`. `manage_db=False` when the caller set up Tortoise."""
    if not settings.redis_url:
        raise ValueError("the arq worker needs REDIS_URL")

    async def startup(ctx: dict[str, Any]) -> None:
        if manage_db:
            await init_db(settings.database_url)
        ctx["deps"] = build_job_deps(
            settings, httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        deps: JobDeps | None = ctx.get("deps")
        if deps is not None:
            await deps.http.aclose()
        if manage_db:
            await close_db()

    return {
        "functions": [*SHOP_FUNCTIONS, *WEBHOOK_FUNCTIONS],
        "cron_jobs": [
            cron(
                sweep_outbox,
                name=str(JobName.SWEEP_OUTBOX),
                second=set(range(0, 60, max(1, int(settings.outbox_sweep_interval)))),
                run_at_startup=True,
                keep_result=0,
            )
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "max_jobs": 20,
        "job_timeout": 300,
        # The same jobs may run twice (arq's rule); ours are idempotent, so retry freely.
        "retry_jobs": True,
    }


def worker_settings_class(settings: Settings) -> type:
    """A `WorkerSettings` class, as arq's own tooling expects one."""
    return type("WorkerSettings", (), worker_options(settings))
