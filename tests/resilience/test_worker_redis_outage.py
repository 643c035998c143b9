"""`loyalty worker` rides out Redis outages: the real command as a subprocess, against a private
redis-server that the test kills and starts again on the same port, and a PostgreSQL database.
What proves a job ran is the database: the metafield intent the job completes (the shop has no
Shopify token, so the job completes it without calling Shopify)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from arq.connections import RedisSettings, create_pool

from loyalty.jobs import JobName
from loyalty.models import OutboxIntent
from tests.factories import create_customer, create_shop
from tests.resilience.redis_server import RedisServer
from tests.workers.test_worker_command import ROOT, environment

pytestmark = pytest.mark.parametrize("database", ["postgres"], indirect=True)

UNREACHABLE = "Redis unreachable"
BACK = "Redis back after"


class WorkerProcess:
    """`python -m cli worker`, its output in a file the test reads while it runs."""

    def __init__(self, database_url: str, redis_url: str, tmp_path: Path) -> None:
        self.log_path = tmp_path / "worker.log"
        env = environment(database_url, redis_url, tmp_path)
        env["OUTBOX_SWEEP_INTERVAL"] = "3600"  # the test enqueues the job itself
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "worker"], cwd=ROOT, env=env, stdout=log, stderr=log
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    async def wait_for(self, text: str, *, seconds: float = 30) -> None:
        for _ in range(int(seconds / 0.05)):
            if text in self.log():
                return
            assert self.alive(), f"the worker exited ({self.process.returncode}):\n{self.log()}"
            await asyncio.sleep(0.05)
        raise AssertionError(f"{text!r} never logged:\n{self.log()}")

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit code and how long it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait(timeout=10)


class Rig:
    """A private Redis (not started) and the workers started against it."""

    def __init__(self, database_url: str, redis: RedisServer, tmp_path: Path) -> None:
        self.redis = redis
        self._database_url = database_url
        self._tmp_path = tmp_path
        self.workers: list[WorkerProcess] = []

    def start_worker(self) -> WorkerProcess:
        worker = WorkerProcess(self._database_url, self.redis.url, self._tmp_path)
        self.workers.append(worker)
        return worker


@pytest.fixture
def rig(db: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(db, redis_server, tmp_path)
    yield rig
    for worker in rig.workers:
        worker.kill()


async def a_job_runs(server: RedisServer) -> None:
    """Owe a metafield sync, queue its job on `server`, and wait until the worker completed it."""
    shop = await create_shop()
    customer = await create_customer(shop)
    intent = await OutboxIntent.create(
        shop=shop, customer=customer, job=str(JobName.SYNC_SHOPIFY_METAFIELDS), payload={}
    )
    pool = await create_pool(RedisSettings.from_dsn(server.url))
    try:
        await pool.enqueue_job(str(JobName.SYNC_SHOPIFY_METAFIELDS), shop_id=shop.id)
    finally:
        await pool.aclose()
    for _ in range(600):
        await intent.refresh_from_db()
        if intent.completed_at is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the job never ran")


async def worker_ready(server: RedisServer, worker: WorkerProcess) -> None:
    """The worker polls: it has written its health check to Redis."""
    client = server.client()
    try:
        for _ in range(600):
            if client.exists("arq:queue:health-check"):
                return
            assert worker.alive(), worker.log()
            await asyncio.sleep(0.05)
        raise AssertionError(f"the worker never reported to Redis:\n{worker.log()}")
    finally:
        client.close()


class TestRedisRestart:
    async def test_the_worker_rides_out_a_redis_restart(self, rig: Rig) -> None:
        """Killed Redis: the worker stays up and says so once; Redis back: jobs run again."""
        rig.redis.start()
        worker = rig.start_worker()
        await worker_ready(rig.redis, worker)
        await a_job_runs(rig.redis)

        rig.redis.kill()
        await worker.wait_for(UNREACHABLE)
        await asyncio.sleep(3)  # many polls' worth of outage
        assert worker.alive(), worker.log()

        rig.redis.start()
        await worker.wait_for(BACK, seconds=20)
        await a_job_runs(rig.redis)
        code, took = worker.stop()
        assert (code, worker.log().count(UNREACHABLE), worker.log().count(BACK)) == (0, 1, 1)
        assert took < 5, worker.log()

    async def test_sigterm_stops_the_worker_promptly_during_an_outage(self, rig: Rig) -> None:
        rig.redis.start()
        worker = rig.start_worker()
        await worker_ready(rig.redis, worker)
        rig.redis.kill()
        await worker.wait_for(UNREACHABLE)
        code, took = worker.stop()
        assert code == 0, worker.log()
        assert took < 5, worker.log()


class TestStartWithoutRedis:
    async def test_a_worker_started_while_redis_is_down_waits_then_works(self, rig: Rig) -> None:
        """It waits longer than arq's own five retries, then starts when Redis does."""
        worker = rig.start_worker()
        await worker.wait_for(UNREACHABLE)
        await asyncio.sleep(7)
        assert worker.alive(), worker.log()

        rig.redis.start()
        await worker_ready(rig.redis, worker)
        await a_job_runs(rig.redis)
        code, _ = worker.stop()
        assert (code, worker.log().count(UNREACHABLE), worker.log().count(BACK)) == (0, 1, 1)

    async def test_sigterm_stops_a_worker_still_waiting_for_redis(self, rig: Rig) -> None:
        worker = rig.start_worker()
        await worker.wait_for(UNREACHABLE)
        code, took = worker.stop()
        assert code == 0, worker.log()
        assert took < 5, worker.log()
