"""workers.redis_outages in-process, against a private redis-server the test kills: the parts the
`loyalty worker` subprocess tests (tests/resilience) cannot see from outside."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq import cron, func
from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import WatchError

from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from tests.resilience.redis_server import RedisServer
from workers.locks import redis_lock
from workers.redis_outages import OutageTolerantWorker, backoff, redis_down

RAN: list[str] = []


async def note(ctx: dict[str, Any], *, label: str) -> None:
    RAN.append(label)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    redis = RedisServer(tmp_path)
    redis.start()
    yield redis
    redis.kill()


@pytest.fixture
async def pool(server: RedisServer) -> AsyncIterator[ArqRedis]:
    arq_pool = await create_pool(RedisSettings.from_dsn(server.url))
    yield arq_pool
    await arq_pool.aclose()


def quick_worker(pool: ArqRedis, **options: Any) -> OutageTolerantWorker:
    """The `note` job on `pool`, polling and probing every few milliseconds."""
    defaults: dict[str, Any] = {"poll_delay": 0.005, "retry_first": 0.02, "retry_cap": 0.1}
    defaults["functions"] = [func(note, name="note")]
    return OutageTolerantWorker(redis_pool=pool, handle_signals=False, **{**defaults, **options})


@contextlib.asynccontextmanager
async def running(worker: OutageTolerantWorker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.async_run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()


class TestBackoff:
    def test_doubles_up_to_the_cap_with_jitter(self) -> None:
        delays = backoff(first=0.5, cap=4.0)
        drawn = [next(delays) for _ in range(8)]
        ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
        assert all(c / 2 <= d <= c for d, c in zip(drawn, ceilings, strict=True)), drawn


class TestRedisDown:
    async def test_a_watched_pipeline_losing_redis_counts_as_redis_down(
        self, server: RedisServer, pool: ArqRedis
    ) -> None:
        """redis-py raises WatchError, not ConnectionError, when the connection of a WATCHed
        pipeline dies (arq starts jobs and queues cron ticks in one)."""
        async with pool.pipeline(transaction=True) as pipe:
            await pipe.watch("some-key")
            server.kill()
            with pytest.raises(WatchError) as raised:
                await pipe.exists("some-key")
        assert redis_down(raised.value)

    def test_a_changed_watched_key_is_not_redis_down(self) -> None:
        assert not redis_down(WatchError("Watched variable changed."))


class TestSlotsAfterAnOutage:
    async def test_a_job_start_failing_on_redis_gives_its_slot_back(
        self, server: RedisServer, pool: ArqRedis
    ) -> None:
        """With one slot, a start that Redis failed must not keep the slot: the next job
        still starts once Redis is back (arq alone leaks it and never runs a job again)."""
        worker = quick_worker(pool, max_jobs=1)
        server.kill()
        with pytest.raises(RedisConnectionError):
            await worker.start_jobs([b"lost-start"])
        server.start()
        RAN.clear()
        job = await pool.enqueue_job("note", label="after")
        assert job is not None
        await worker.start_jobs([job.job_id.encode()])
        await asyncio.gather(*worker.tasks.values())
        assert RAN == ["after"]


class TestPollLoop:
    async def test_the_poll_loop_waits_out_an_outage_and_runs_jobs_after(
        self, server: RedisServer, pool: ArqRedis, caplog: pytest.LogCaptureFixture
    ) -> None:
        worker = quick_worker(pool)
        async with running(worker) as task:
            server.kill()
            await asyncio.sleep(1)  # a hundred polls' worth
            assert not task.done()
            server.start()
            RAN.clear()
            await pool.enqueue_job("note", label="after the outage")
            for _ in range(200):
                if RAN:
                    break
                await asyncio.sleep(0.05)
            assert RAN == ["after the outage"]
        lines = [r.getMessage() for r in caplog.records if r.name == "workers.redis_outages"]
        assert sum("Redis unreachable" in line for line in lines) == 1
        assert sum("Redis back after" in line for line in lines) == 1


class TestLockRelease:
    async def test_a_pass_that_outlived_redis_ends_without_an_error(
        self, server: RedisServer, pool: ArqRedis
    ) -> None:
        """The lock cannot be released with Redis gone; it expires on its own, and the pass
        that finished its work is not reported as failed."""
        async with redis_lock(pool, "test-pass", ttl=5) as taken:
            assert taken
            server.kill()


async def tick(ctx: dict[str, Any]) -> None:
    RAN.append("tick")


class TestManyRestarts:
    async def test_survives_redis_killed_at_any_point_of_its_work(
        self, server: RedisServer, pool: ArqRedis
    ) -> None:
        """Ten kills landing wherever the worker happens to be (reading the queue, starting
        or finishing jobs, queueing a cron tick every second): it stays up, keeps no slot,
        and runs the next job."""
        worker = quick_worker(
            pool, cron_jobs=[cron(tick, name="tick", second=set(range(60)), keep_result=0)]
        )
        async with running(worker) as task:
            for n in range(10):
                for k in range(20):
                    await pool.enqueue_job("note", label=f"{n}-{k}")
                await asyncio.sleep(random.uniform(0, 0.1))
                server.kill()
                await asyncio.sleep(0.1)
                assert not task.done(), task
                server.start()
            RAN.clear()
            await pool.enqueue_job("note", label="last")
            for _ in range(200):
                if "last" in RAN:
                    break
                await asyncio.sleep(0.05)
            assert "last" in RAN
            await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        assert worker.job_counter == 0


async def until_stopping(ctx: dict[str, Any]) -> None:
    """A long job, as a sync run is: works until the process asks it to stop, then ends."""
    stopping = ctx["deps"].stopping
    while not stopping.requested:  # noqa: ASYNC110 - checked between units of work, as a run does
        await asyncio.sleep(0.01)
    RAN.append("ended on its own")


class TestGracefulStop:
    async def test_sigterm_lets_a_running_sync_end_at_its_next_boundary(
        self, pool: ArqRedis
    ) -> None:
        """On SIGTERM the worker tells its jobs the process is stopping (JobDeps.stopping) and
        waits for them, instead of cancelling them mid-request (arq's default)."""
        async with httpx.AsyncClient() as http:
            deps = JobDeps(settings=Settings(), http=http)
            worker = quick_worker(
                pool,
                functions=[func(until_stopping, name="until_stopping")],
                ctx={"deps": deps},
                job_completion_wait=5,
            )
            RAN.clear()
            job = await pool.enqueue_job("until_stopping")
            assert job is not None
            async with running(worker) as task:
                while not worker.tasks:  # noqa: ASYNC110 - arq's own dict, no event to wait on
                    await asyncio.sleep(0.01)
                worker.handle_sig_wait_for_completion(signal.SIGTERM)
                await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)
            assert deps.stopping.requested
            assert RAN == ["ended on its own"]  # finished, not cancelled
