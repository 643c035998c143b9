"""Partner pacing: buckets that keep every second and every minute within each platform's
published burst and steady limits, in memory and in a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from loyalty.models import Platform
from loyalty.partners import klaviyo, omnisend, postscript
from loyalty.partners.pacing import MemoryPacer, PartnerLimit, RedisPacer
from loyalty.partners.transport import Endpoint
from standins.partners import partner_mock
from tests.loyalty.partners.fakes import KLAVIYO_PROFILE, FakeClock, client_for, klaviyo_errors


def busiest(times: list[float], window: float) -> int:
    """The most calls in any window of `window` seconds (sliding, so fixed windows too)."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class TestBuckets:
    @pytest.mark.parametrize(
        "endpoint",
        [klaviyo.PROFILES, klaviyo.EVENTS, omnisend.BRAND, postscript.API],
        ids=lambda e: e.name,
    )
    def test_any_second_and_any_minute_stay_within_the_limits(self, endpoint: Endpoint) -> None:
        """capacity + rate ≤ burst and capacity + 60·rate ≤ steady, at 90 % of the limits."""
        bucket = endpoint.limit.bucket(0.9)
        if endpoint.limit.per_second:
            assert bucket.capacity + bucket.rate <= endpoint.limit.per_second * 0.9 + 1e-9
        if endpoint.limit.per_minute:
            assert bucket.capacity + 60 * bucket.rate <= endpoint.limit.per_minute * 0.9 + 1e-9
        assert bucket.capacity >= 1 and bucket.rate > 0


class TestMemoryPacer:
    @pytest.mark.parametrize("endpoint", [klaviyo.PROFILES, omnisend.BRAND], ids=lambda e: e.name)
    async def test_waiting_the_answered_wait_always_earns_a_token(self, endpoint: Endpoint) -> None:
        """Float error refilling for exactly the wait answered must not leave the bucket a
        hair short of a token (it used to, answering waits of 1e-14 s forever)."""
        clock = FakeClock()
        pacer = MemoryPacer(clock=clock.monotonic)
        bucket = endpoint.limit.bucket(0.9)
        for _ in range(2000):
            wait = await pacer.take("k", bucket)
            if wait:
                clock.now += wait
                assert await pacer.take("k", bucket) == 0.0


THROTTLED = klaviyo_errors("throttled", "Request was throttled.", status=429)


class TestPacedCalls:
    @pytest.mark.parametrize(
        ("platform", "url", "per_second", "per_minute"),
        [
            (Platform.KLAVIYO, "https://a.klaviyo.com/api/profile-import", 75, 750),
            (Platform.OMNISEND, "https://api.omnisend.com/api/contacts", None, 400),
        ],
    )
    async def test_a_backlog_drains_within_the_published_limits(
        self, platform: Platform, url: str, per_second: int | None, per_minute: int
    ) -> None:
        """1,000 profile writes as fast as the client may: no second and no minute over."""
        clock = FakeClock()
        sent: list[float] = []

        def record(request: httpx.Request) -> httpx.Response:
            sent.append(clock.now)
            return httpx.Response(200, json=KLAVIYO_PROFILE)

        async with httpx.AsyncClient() as http:
            client = client_for(platform, http, clock)
            with partner_mock() as mock:
                mock.post(url).mock(side_effect=record)
                for n in range(1000):
                    if platform is Platform.KLAVIYO:
                        await client.upsert_profile(email=f"c{n}@x.co", properties={})  # type: ignore[union-attr]
                    else:
                        await client.upsert_contact(email=f"c{n}@x.co", properties={})  # type: ignore[union-attr]
        assert len(sent) == 1000
        if per_second:
            assert busiest(sent, 1.0) <= per_second
        assert busiest(sent, 60.0) <= per_minute
        # …and not needlessly slow: at least 85 % of the steady rate over the run.
        assert len(sent) / (sent[-1] - sent[0]) >= 0.85 * per_minute / 60 * 0.9

    async def test_a_429_holds_the_bucket_for_every_caller(self) -> None:
        """After a 429 asking for 5 s, the next call anyone makes waits those 5 s."""
        clock = FakeClock()
        pacer = MemoryPacer(clock=clock.monotonic)
        async with httpx.AsyncClient() as http:
            client = client_for(Platform.KLAVIYO, http, clock)
            client._transport._pacer = pacer  # type: ignore[union-attr]
            with partner_mock() as mock:
                mock.post("https://a.klaviyo.com/api/profile-import").mock(
                    side_effect=[
                        httpx.Response(429, headers={"Retry-After": "5"}, json=THROTTLED),
                        httpx.Response(200, json=KLAVIYO_PROFILE),
                    ]
                )
                await client.upsert_profile(email="a@b.co", properties={})  # type: ignore[union-attr]
        assert clock.sleeps[0] == 5.0
        # The hold is on the shared key: a fresh client for the same shop sees it too.
        clock.now -= 4  # as if the retry had not happened yet
        wait = await pacer.take("klaviyo:1:profiles", klaviyo.PROFILES.limit.bucket(0.9))
        assert 3.9 <= wait <= 4.1


class TestRedisPacer:
    @pytest.fixture
    async def redis(self, redis_url: str) -> AsyncIterator[Redis]:
        client = Redis.from_url(redis_url)
        yield client
        await client.aclose()

    async def test_shares_one_bucket_and_answers_the_wait(self, redis: Redis) -> None:
        """Two pacers (two worker processes) draw on one bucket; the wait is exact."""
        key = f"test:{uuid.uuid4().hex}"
        limit = PartnerLimit(per_second=10).bucket(1.0)  # capacity 3.33, 6.67/s
        first, second = RedisPacer(redis), RedisPacer(redis)
        waits = [await (first if n % 2 else second).take(key, limit) for n in range(4)]
        assert waits[:3] == [0.0, 0.0, 0.0]
        assert 0.01 <= waits[3] <= 0.2
        await redis.delete(f"loyalty:pace:{key}")

    async def test_hold_refuses_everyone_until_it_ends(self, redis: Redis) -> None:
        key = f"test:{uuid.uuid4().hex}"
        pacer = RedisPacer(redis)
        await pacer.hold(key, 3.0)
        wait = await pacer.take(key, PartnerLimit(per_second=10).bucket())
        assert 2.5 <= wait <= 3.0
        await redis.delete(f"loyalty:pace:{key}")

    async def test_fails_open_when_redis_is_unreachable(self) -> None:
        """Pacing must not stop the sync: a Redis failure lets the call go (the partner's own
        429s are the second line)."""
        unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        pacer = RedisPacer(unreachable)
        assert await pacer.take("k", PartnerLimit(per_second=1).bucket()) == 0.0
        await pacer.hold("k", 1.0)
        await unreachable.aclose()
