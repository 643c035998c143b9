"""The arq worker that rides out Redis outages instead of exiting (`loyalty worker` runs it).

arq's `Worker` dies with Redis: `create_pool` gives up after five tries at start-up, and any
connection error in the poll loop (reading the queue, starting or finishing a job, the health
check, queueing a cron tick) ends `main()`. This subclass keeps its one pool (redis-py reconnects
each pooled connection on its next use) and its running jobs, and:

- at start-up, waits for Redis before the startup hook runs;
- in the poll loop, on a connection error, stops polling and probes Redis with capped, jittered
  backoff, then polls again;
- once Redis answers, runs each cron job once (the outbox sweep among them) instead of every
  tick missed meanwhile;
- a job whose start or finish could not be recorded in Redis is logged, not raised into the
  poll loop: it stays queued (or was lost with Redis) and runs again, and every job is
  idempotent; work lost with Redis is found again in the database by the outbox sweep;
- stops promptly on SIGTERM in every state: the waits are sleeps that arq's signal handler
  cancels, and closing does not need Redis.

One WARNING when Redis becomes unreachable, one when it is back (with how long it was gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import signal
import time
from collections.abc import Iterator
from typing import Any

from arq.connections import ArqRedis, create_pool, log_redis_info
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from loyalty.outages import OutageLog

log = logging.getLogger(__name__)

# What an unreachable Redis raises through redis-py (it wraps socket errors; a restarted Redis
# answers "loading" for a moment, a ConnectionError subclass) and asyncio's timeouts.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


def redis_down(exc: BaseException) -> bool:
    """Whether `exc` means Redis is unreachable. Inside a WATCHed pipeline (arq starts jobs and
    queues cron ticks in one) redis-py raises a WatchError instead, the connection error being
    what it was raised during."""
    if isinstance(exc, REDIS_DOWN):
        return True
    return isinstance(exc, WatchError) and isinstance(exc.__context__, REDIS_DOWN)


def backoff(*, first: float, cap: float) -> Iterator[float]:
    """Delays that double from `first` up to `cap`, each drawn from its upper half, so that
    workers restarted together do not probe in step."""
    delay = first
    while True:
        yield random.uniform(delay / 2, delay)  # noqa: S311 (jitter, not a secret)
        delay = min(cap, delay * 2)


class OutageTolerantWorker(Worker):
    """An arq `Worker` that waits for Redis instead of exiting (see the module doc). Takes
    arq's arguments, plus the backoff between probes and each probe's timeout."""

    def __init__(
        self,
        *args: Any,
        retry_first: float = 0.5,
        retry_cap: float = 10.0,
        probe_timeout: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if self.burst:
            raise ValueError("a burst worker stops when the queue is empty; use arq's Worker")
        self._retry_first = retry_first
        self._retry_cap = retry_cap
        self._probe_timeout = probe_timeout
        self._outage = OutageLog(
            log,
            down=f"Redis unreachable (%s); retrying with backoff (up to {retry_cap:g} s apart), "
            "jobs wait",
            back="Redis back after %.1f s",
        )

    async def main(self) -> None:
        """arq's `main` (a long-running worker's part of it), with Redis awaited first."""
        if self._pool is None:
            self._pool = await self._connect()
        log.info(
            "Starting worker for %d functions: %s", len(self.functions), ", ".join(self.functions)
        )
        with contextlib.suppress(*REDIS_DOWN):  # an outage starting now is met in the poll loop
            await log_redis_info(self.pool, log.info)
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        while True:
            started = time.monotonic()
            await self._poll_iteration()
            await asyncio.sleep(max(0.0, self.poll_delay_s - (time.monotonic() - started)))

    async def _connect(self) -> ArqRedis:
        assert self.redis_settings is not None  # arq sets it whenever no pool was given
        settings = dataclasses.replace(self.redis_settings, conn_retries=0)  # we retry
        delays = backoff(first=self._retry_first, cap=self._retry_cap)
        while True:
            try:
                pool = await create_pool(
                    settings,
                    job_serializer=self.job_serializer,
                    job_deserializer=self.job_deserializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except REDIS_DOWN as exc:
                self._outage.failed(exc)
                await asyncio.sleep(next(delays))
            else:
                self._outage.succeeded()
                return pool

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except Exception as exc:
            if not redis_down(exc):
                raise
            self._outage.failed(exc)
            await self._wait_for_redis()

    async def _wait_for_redis(self) -> None:
        for delay in backoff(first=self._retry_first, cap=self._retry_cap):
            await asyncio.sleep(delay)
            try:
                await asyncio.wait_for(self.pool.ping(), self._probe_timeout)
            except REDIS_DOWN:
                continue
            self._outage.succeeded()
            # The cron ticks missed meanwhile collapse into one run now (arq would enqueue each
            # of them, one per poll): the sweep at once re-dispatches what the outage held up.
            for cron_job in self.cron_jobs:
                cron_job.next_run = None
            return

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except Exception as exc:
            if not redis_down(exc):
                raise
            # arq took a slot for the job it was starting and, raising, never gave it back:
            # a few outages later the worker would have no slots left and never run a job.
            self.job_counter -= 1
            self.sem.release()
            raise

    def handle_sig_wait_for_completion(self, signum: signal.Signals) -> None:
        """arq's graceful stop (no new jobs, running ones given `job_completion_wait`), and the
        running sync jobs told to end at their next customer boundary."""
        deps = self.ctx.get("deps")
        if deps is not None:
            deps.stopping.request()
        super().handle_sig_wait_for_completion(signum)

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except Exception as exc:
            if not redis_down(exc):
                raise
            log.info(
                "job %s: Redis failed while recording its start or end (%s); it runs again "
                "later (jobs are idempotent)",
                job_id,
                exc,
            )

    async def close(self) -> None:
        """arq's `close`, finishing without Redis when it is down: the running jobs are
        awaited, the shutdown hook runs (closing the database and HTTP clients), and only the
        health-check key's removal is skipped (it expires on its own)."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(*REDIS_DOWN):
            await asyncio.wait_for(self.pool.delete(self.health_check_key), self._probe_timeout)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.aclose(close_connection_pool=True)
        self._pool = None
