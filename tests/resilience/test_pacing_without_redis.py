"""Partner pacing while Redis is down stays paced: RedisPacer falls back to this process's memory
at a quarter of each limit, logs once when it does and once when Redis is back. Against a
private redis-server the test kills and starts again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from loyalty.partners.pacing import PartnerLimit, RedisPacer
from tests.resilience.redis_server import RedisServer

LIMIT = PartnerLimit(per_second=20, per_minute=600)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_server.url, socket_connect_timeout=0.2)
    yield redis
    await redis.aclose()


async def calls_admitted(pacer: RedisPacer, clock: Clock, *, seconds: float) -> int:
    """Callers calling as fast as the pacer lets them, each waiting what it answers."""
    admitted, end = 0, clock.now + seconds
    for _ in range(10_000):  # an unpaced pacer would never move the clock
        if clock.now >= end:
            break
        wait = await pacer.take("klaviyo:1:events", LIMIT.bucket())
        if wait == 0:
            admitted += 1
        else:
            clock.now += wait
    return admitted


class TestRedisDown:
    async def test_callers_still_wait_at_a_quarter_of_the_limit(
        self, client: Redis, caplog: pytest.LogCaptureFixture
    ) -> None:
        clock = Clock()
        pacer = RedisPacer(client, clock=clock)
        admitted = await calls_admitted(pacer, clock, seconds=60)
        # A quarter of 600 a minute at most (a bucket admits C + r·60 in a minute).
        assert 140 <= admitted <= 150, admitted
        warnings = [r for r in caplog.records if r.name == "loyalty.partners.pacing"]
        assert len(warnings) == 1 and "pacing in this process" in warnings[0].getMessage()

    async def test_a_hold_is_honoured_without_redis(self, client: Redis) -> None:
        clock = Clock()
        pacer = RedisPacer(client, clock=clock)
        await pacer.hold("postscript:1:subscribers", 30.0)
        wait = await pacer.take("postscript:1:subscribers", LIMIT.bucket())
        assert wait == pytest.approx(30.0)

    async def test_pacing_returns_to_redis_and_says_so_once(
        self, redis_server: RedisServer, client: Redis, caplog: pytest.LogCaptureFixture
    ) -> None:
        clock = Clock()
        pacer = RedisPacer(client, clock=clock)
        await pacer.take("k", LIMIT.bucket())
        clock.now += 12.5
        redis_server.start()
        for _ in range(3):
            await pacer.take("k", LIMIT.bucket())
        lines = [r.getMessage() for r in caplog.records if r.name == "loyalty.partners.pacing"]
        assert len(lines) == 2 and lines[1] == "partner pacing back in Redis after 12.5 s"
        assert await client.exists("loyalty:pace:k")
