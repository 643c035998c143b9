"""Per-key rate limits on /api/v1: token buckets (a separate, larger one for awards), RateLimit
headers on every response, 429 with Retry-After; in this process without Redis, shared
through Redis by several processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis

from loyalty.settings import Settings
from tests.factories import create_api_key
from tests.web.public_api.helpers import Api, World, error_of
from web.app import create_app
from web.ratelimit import (
    Decision,
    Grant,
    Limit,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
)
from web.state import Services

RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Api, Services]]:
    """A second app instance (another "process") with these settings, and its client."""
    application = create_app(settings, manage_db=False, job_defer=0)
    async with LifespanManager(application) as manager:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="https://loyalty.test"
        ) as client:
            yield Api(client, None), application.state.services


Limited = Callable[..., AbstractAsyncContextManager[tuple[Api, Services]]]


@pytest.fixture
def limited(settings: Settings) -> Limited:
    """`limited(**limits)`: an app whose rate limits are these settings."""

    def make(**overrides: object) -> AbstractAsyncContextManager[tuple[Api, Services]]:
        return running(settings.with_overrides(**overrides))

    return make


class TestRateLimitHeaders:
    @pytest.mark.parametrize(
        ("path", "status", "authorized"),
        [
            ("/customers", 200, True),
            ("/customers/404404", 404, True),
            ("/customers?page[size]=0", 400, True),
            ("/nowhere", 404, True),
            ("/customers", 401, False),
            ("/openapi.json", 200, False),
        ],
    )
    async def test_every_response_carries_them(
        self, api: Api, world: World, path: str, status: int, authorized: bool
    ) -> None:
        """Successes, errors, unauthenticated and public requests all get the three headers."""
        response = await api.get(path, key=world.key if authorized else "")
        assert response.status_code == status
        for name in RATE_HEADERS:
            assert response.headers[name].isdigit(), name
        assert response.headers["ratelimit-limit"] == "40"  # the default bucket

    async def test_remaining_counts_down_and_awards_use_their_own_bucket(
        self, api: Api, world: World
    ) -> None:
        """Each request takes a token; an award shows the award bucket (400) instead."""
        first = await api.get("/vip-tiers")
        second = await api.get("/vip-tiers")
        award = await api.post(
            f"/earning-rules/{world.rule.public_id}/award", {"customer_identifier": "6789012345"}
        )
        remaining = int(first.headers["ratelimit-remaining"])
        assert int(second.headers["ratelimit-remaining"]) == remaining - 1
        assert award.headers["ratelimit-limit"] == "400"
        assert int(award.headers["ratelimit-remaining"]) == 399


class TestTooManyRequests:
    async def test_over_the_limit_is_429_with_retry_after(
        self, limited: Limited, world: World
    ) -> None:
        """Burst 3 at 0.5/s: the fourth request is a 429 error object with Retry-After."""
        async with limited(api_rate_limit=0.5, api_rate_burst=3) as (api, _):
            statuses = [(await api.get("/vip-tiers", key=world.key)).status_code for _ in range(3)]
            refused = await api.get("/vip-tiers", key=world.key)
        assert statuses == [200, 200, 200]
        assert refused.status_code == 429
        assert error_of(refused)["code"] == "rate_limited"
        assert refused.headers["retry-after"] in {"1", "2"}  # a token every 2 s
        assert refused.headers["ratelimit-remaining"] == "0"

    async def test_tokens_come_back_at_the_configured_rate(
        self, limited: Limited, world: World
    ) -> None:
        """At 4/s a refused key is served again a quarter of a second later."""
        async with limited(api_rate_limit=4, api_rate_burst=1) as (api, _):
            assert (await api.get("/vip-tiers", key=world.key)).status_code == 200
            assert (await api.get("/vip-tiers", key=world.key)).status_code == 429
            await asyncio.sleep(0.3)
            assert (await api.get("/vip-tiers", key=world.key)).status_code == 200

    async def test_buckets_are_per_key(self, limited: Limited, world: World) -> None:
        """One key's exhausted bucket does not touch another key's."""
        async with limited(api_rate_limit=0.1, api_rate_burst=1) as (api, _):
            await api.get("/vip-tiers", key=world.key)
            assert (await api.get("/vip-tiers", key=world.key)).status_code == 429
            assert (await api.get("/vip-tiers", key=world.read_key)).status_code == 200

    async def test_the_award_bucket_is_separate_and_larger(
        self, limited: Limited, world: World
    ) -> None:
        """General bucket empty: awards and custom actions still go through their own."""
        async with limited(
            api_rate_limit=0.1, api_rate_burst=1, api_award_rate_limit=0.1, api_award_rate_burst=2
        ) as (api, _):
            await api.get("/vip-tiers", key=world.key)
            assert (await api.get("/vip-tiers", key=world.key)).status_code == 429
            award = await api.post(
                f"/earning-rules/{world.rule.public_id}/award",
                {"customer_identifier": "6789012345"},
                key=world.key,
            )
            action = await api.post(
                "/actions",
                {"action_key": "quiz_completed", "customer_id": 6789012345},
                key=world.key,
            )
            third = await api.post(
                "/actions",
                {"action_key": "quiz_completed", "customer_id": 6789012346},
                key=world.key,
            )
        assert (award.status_code, action.status_code, third.status_code) == (201, 201, 429)

    async def test_requests_without_a_key_are_limited_by_address(
        self, limited: Limited, world: World
    ) -> None:
        """A flood of keyless requests is refused before any key lookup."""
        async with limited(api_rate_limit=0.1, api_rate_burst=2) as (api, _):
            statuses = [(await api.get("/customers", key="")).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]

    async def test_defaults_let_one_key_sustain_100_awards_a_second(
        self, api: Api, world: World
    ) -> None:
        """The default award bucket refills at 200/s and 150 awards in a burst all pass."""
        defaults = Settings()
        assert defaults.api_award_rate_limit >= 100 and defaults.api_award_rate_burst >= 100
        rules = [world.rule]
        from tests.factories import create_rule

        rules += [await create_rule(world.shop, points=1) for _ in range(149)]
        responses = await asyncio.gather(
            *(
                api.post(
                    f"/earning-rules/{rule.public_id}/award", {"customer_identifier": "6789012345"}
                )
                for rule in rules
            )
        )
        assert {r.status_code for r in responses} == {201}


class CountingLimiter:
    """Wraps a limiter and counts round trips (reserve calls)."""

    def __init__(self, inner: RateLimiter) -> None:
        self.inner = inner
        self.reservations = 0

    async def hit(self, key: str, limit: Limit) -> Decision:
        return await self.inner.hit(key, limit)

    async def reserve(self, key: str, limit: Limit, count: int) -> Grant:
        self.reservations += 1
        return await self.inner.reserve(key, limit, count)


@pytest.mark.redis
class TestAcrossProcesses:
    async def test_two_processes_share_one_bucket_in_redis(
        self, limited: Limited, world: World, redis_url: str
    ) -> None:
        """Two app instances on one Redis: together they admit the burst, not twice it."""
        key = (await create_api_key(world.shop)).secret  # a fresh bucket in a shared Redis
        overrides = {"redis_url": redis_url, "api_rate_limit": 0.01, "api_rate_burst": 5}
        async with limited(**overrides) as (one, _), limited(**overrides) as (two, _):
            responses = []
            for n in range(8):
                client = one if n % 2 else two
                responses.append(await client.get("/vip-tiers", key=key))
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 5 and statuses.count(429) == 3
        for refused in (r for r in responses if r.status_code == 429):
            assert error_of(refused)["code"] == "rate_limited"
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.headers["ratelimit-remaining"] == "0"

    async def test_awards_reserve_tokens_in_chunks_not_per_request(
        self, limited: Limited, world: World, redis_url: str
    ) -> None:
        """With Redis, 200 awards cost far fewer than 200 round trips to the limiter."""
        key = (await create_api_key(world.shop)).secret
        from tests.factories import create_rule

        rules = [await create_rule(world.shop, points=1) for _ in range(200)]
        async with limited(redis_url=redis_url) as (api, services):
            counting = CountingLimiter(services.limiter)
            services.limiter = counting  # type: ignore[assignment]
            responses = []
            for rule in rules:
                responses.append(
                    await api.post(
                        f"/earning-rules/{rule.public_id}/award",
                        {"customer_identifier": "6789012346"},
                        key=key,
                    )
                )
        assert {r.status_code for r in responses} == {201}
        assert counting.reservations < 40


class TestRedisDown:
    async def test_the_api_stays_up_and_says_so_in_the_log(
        self, limited: Limited, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An unreachable Redis fails open: requests are served (with headers), not 5xx, and the
        log says so once (at the state change), not once per request."""
        async with limited(api_rate_limit=0.01, api_rate_burst=1) as (api, services):
            dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
            services.limiter = RedisRateLimiter(dead)
            try:
                responses = [await api.get("/vip-tiers", key=world.key) for _ in range(3)]
            finally:
                await dead.aclose()
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert all(r.headers["ratelimit-limit"] == "1" for r in responses)
        warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert [w.levelname for w in warnings] == ["WARNING"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestDefaultAwardLimit:
    async def run(self, per_second: int, seconds: int) -> int:
        """Awards at `per_second`, evenly spaced, for `seconds` on a controlled clock, starting
        from an empty bucket; the number refused."""
        clock = FakeClock()
        defaults = Settings()
        award = Limit(rate=defaults.api_award_rate_limit, burst=defaults.api_award_rate_burst)
        limiter = MemoryRateLimiter(clock=clock)
        await limiter.reserve("k", award, award.burst)  # the worst case: nothing saved up
        refused = 0
        for _ in range(per_second * seconds):
            clock.now += 1 / per_second
            refused += not (await limiter.hit("k", award)).allowed
        return refused

    async def test_one_key_sustains_100_awards_a_second(self) -> None:
        """A minute at 100 awards/s from an empty bucket: none refused."""
        assert await self.run(per_second=100, seconds=60) == 0

    async def test_it_is_still_a_limit(self) -> None:
        """Ten seconds at 300/s: about a third refused (the default refills 200/s)."""
        refused = await self.run(per_second=300, seconds=10)
        assert 900 <= refused <= 1100
