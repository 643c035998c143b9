"""arq `WorkerSettings`, built from a Settings value (or the environment for the arq CLI): the
registry's jobs (workers/jobs.py) and the worker's dependencies, made at startup."""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import RedisSettings

from loyalty.db import close_db, init_db
from loyalty.partners.pacing import RedisPacer
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps, build_job_deps, new_http_client
from workers.jobs import FUNCTIONS, crons

log = logging.getLogger(__name__)

POLL_DELAY_SECONDS = 0.1


def worker_options(settings: Settings, *, manage_db: bool = True) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker`. `manage_db=False` when the caller set up Tortoise."""
    if not settings.redis_url:
        raise ValueError("the arq worker needs REDIS_URL")

    async def startup(ctx: dict[str, Any]) -> None:
        if manage_db:
            await init_db(settings.database_url)
        # Partner pacing in Redis: every worker process shares one bucket per shop and platform.
        ctx["deps"] = build_job_deps(
            settings, new_http_client(settings), pacer=RedisPacer(ctx["redis"])
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        deps: JobDeps | None = ctx.get("deps")
        if deps is not None:
            await deps.http.aclose()
        if manage_db:
            await close_db()

    return {
        # Both from the one registry (loyalty.jobs.registry): the shop jobs queued by name,
        # the periodic ones on crons.
        "functions": list(FUNCTIONS),
        "cron_jobs": crons(settings),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "max_jobs": 20,
        # How often the queue is read for jobs now due (arq's default is 0.5 s): an urgent job
        # (a reward code, dispatched undeferred) waits at most this long for the worker to see
        # it. A read is one ZRANGEBYSCORE on Redis, so ten a second cost next to nothing.
        "poll_delay": POLL_DELAY_SECONDS,
        "job_timeout": 300,
        # The same jobs may run twice (arq's rule); ours are idempotent, so retry freely.
        "retry_jobs": True,
        # On SIGTERM, stop taking jobs and give the running ones this long to finish: sync runs
        # stop between customers (JobDeps.stopping, set by the worker's signal handler), so a
        # restart never cuts a platform request in half. Jobs still running then are cancelled.
        "job_completion_wait": max(1, round(settings.shutdown_grace)),
    }


def worker_settings_class(settings: Settings) -> type:
    """A `WorkerSettings` class, as arq's own tooling expects one."""
    return type("WorkerSettings", (), worker_options(settings))


def __getattr__(name: str) -> Any:
    """`arq workers.settings.WorkerSettings` works as well as `loyalty worker`: the class is
    built from the environment when first asked for (importing this module needs no Redis)."""
    if name == "WorkerSettings":
        return worker_settings_class(Settings.from_env())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
