"""Failed authentication is throttled per client address on every surface that authenticates
(web.auth.throttle): after AUTH_FAILURE_BURST failures the address gets 429
`too_many_failures` with Retry-After, before any credential is looked up (a valid one too);
other addresses are unaffected; successes never count; with Redis, web processes count
together. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from urllib.parse import urlencode

import httpx
import pytest
from asgi_lifespan import LifespanManager

from loyalty.models import ApiKey, Customer, EarningHistoryEntry, Shop
from loyalty.settings import Settings
from tests.factories import create_api_key, create_customer, create_shop
from tests.tokens import CLIENT_SECRET, bearer, id_token
from web.app import create_app

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

BURST = 20
# One failure forgiven per 100 s: nothing refills while a test runs, however slow the machine.
SLOW_REFILL = 0.6

Clients = Callable[..., AbstractAsyncContextManager[Callable[[str], httpx.AsyncClient]]]


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """An app with these settings, and `client_from(address)` for a client at that address."""
    application = create_app(settings, manage_db=False, job_defer=0)
    opened: list[httpx.AsyncClient] = []

    def client_from(address: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, client=(address, 40000)),
            base_url="https://loyalty.test",
        )
        opened.append(client)
        return client

    async with LifespanManager(application) as manager:
        try:
            yield client_from
        finally:
            for client in opened:
                await client.aclose()


@pytest.fixture
def clients(settings: Settings) -> Clients:
    def make(
        **overrides: object,
    ) -> AbstractAsyncContextManager[Callable[[str], httpx.AsyncClient]]:
        limits = {"auth_failure_limit": SLOW_REFILL, "auth_failure_burst": BURST, **overrides}
        return running(settings.with_overrides(**limits))

    return make


def address() -> str:
    """An address no other test (nor an earlier run, in Redis) has used."""
    return f"test-{uuid.uuid4().hex[:12]}"


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["errors"][0]["code"] == "too_many_failures"
    assert int(response.headers["retry-after"]) >= 1


async def counts() -> tuple[int, int, int, int]:
    return (
        await Shop.all().count(),
        await ApiKey.all().count(),
        await EarningHistoryEntry.all().count(),
        sum(c.points_balance for c in await Customer.all()),
    )


class TestPublicApi:
    async def test_bogus_keys_are_refused_from_the_21st_and_other_addresses_are_not(
        self, clients: Clients, db: str
    ) -> None:
        """100 different bogus keys from one address: 401 twenty times, then 429 (before any
        lookup: a valid key from that address waits too); another address still gets 401."""
        shop = await create_shop()
        await create_customer(shop, points_balance=10)
        valid = await create_api_key(shop)
        attacker = address()
        async with clients() as client_from:
            client = client_from(attacker)
            before = await counts()
            statuses = []
            for n in range(100):
                response = await client.get(
                    "/api/v1/customers", headers={"Authorization": f"Bearer bogus-{n}"}
                )
                statuses.append(response.status_code)
                if n == BURST:
                    assert_throttled(response)
            assert statuses == [401] * BURST + [429] * (100 - BURST)

            with_valid = await client.get(
                "/api/v1/customers", headers={"Authorization": f"Bearer {valid.secret}"}
            )
            assert_throttled(with_valid)
            other = await client_from(address()).get(
                "/api/v1/customers", headers={"Authorization": "Bearer bogus"}
            )
            assert other.status_code == 401
            assert other.json()["errors"][0]["code"] == "invalid_api_key"
            assert await counts() == before

    async def test_successes_never_count(self, clients: Clients, db: str) -> None:
        """Thirty good requests then failures: still twenty 401s before the first 429."""
        valid = await create_api_key(await create_shop())
        async with clients() as client_from:
            client = client_from(address())
            for _ in range(30):
                ok = await client.get(
                    "/api/v1/customers", headers={"Authorization": f"Bearer {valid.secret}"}
                )
                assert ok.status_code == 200, ok.text
            statuses = [
                (await client.get("/api/v1/customers", headers={"Authorization": "x"})).status_code
                for _ in range(BURST + 1)
            ]
            assert statuses == [401] * BURST + [429]

    async def test_the_bucket_refills(self, clients: Clients, db: str) -> None:
        """At AUTH_FAILURE_LIMIT per minute a refused address may try again."""
        async with clients(auth_failure_limit=600.0, auth_failure_burst=2) as client_from:
            client = client_from(address())
            statuses = [(await client.get("/api/v1/customers")).status_code for _ in range(3)]
            assert statuses == [401, 401, 429]
            await asyncio.sleep(0.25)  # 600 a minute: ten per second, so a quarter second gives two
            assert (await client.get("/api/v1/customers")).status_code == 401

    async def test_web_processes_count_together_in_redis(
        self, clients: Clients, redis_url: str, db: str
    ) -> None:
        """Half the failures through one process, half through another: the 21st is refused
        by either (the buckets are in Redis)."""
        attacker = address()
        async with (
            clients(redis_url=redis_url) as first,
            clients(redis_url=redis_url) as second,
        ):
            one, two = first(attacker), second(attacker)
            for client in (one, two):
                for _ in range(BURST // 2):
                    refused = await client.get("/api/v1/customers", headers={"Authorization": "x"})
                    assert refused.status_code == 401
            assert_throttled(await one.get("/api/v1/customers", headers={"Authorization": "x"}))
            assert_throttled(await two.get("/api/v1/customers", headers={"Authorization": "x"}))


def proxy_query(shop: str, *, secret: str = CLIENT_SECRET) -> str:
    params = {
        "shop": shop,
        "logged_in_customer_id": "",
        "path_prefix": "/apps/loyalty",
        "timestamp": str(int(time.time())),
    }
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode(params)


class TestOtherSurfaces:
    async def test_forged_proxy_signatures(self, clients: Clients, db: str) -> None:
        await create_shop(domain="throttle.myshopify.com")
        async with clients() as client_from:
            client = client_from(address())
            forged = proxy_query("throttle.myshopify.com", secret="guessed")
            statuses = [
                (await client.get(f"/proxy/earning-rules?{forged}")).status_code
                for _ in range(BURST + 1)
            ]
            assert statuses == [401] * BURST + [429]
            genuine = proxy_query("throttle.myshopify.com")
            assert_throttled(await client.get(f"/proxy/earning-rules?{genuine}"))
            other = await client_from(address()).get(f"/proxy/earning-rules?{genuine}")
            assert other.status_code == 200, other.text

    async def test_forged_id_tokens_on_the_admin_api(self, clients: Clients, db: str) -> None:
        await create_shop(domain="demo.myshopify.com")
        async with clients() as client_from:
            client = client_from(address())
            statuses = [
                (
                    await client.get("/app/api/settings", headers=bearer(secret="guessed"))
                ).status_code
                for _ in range(BURST + 1)
            ]
            assert statuses == [401] * BURST + [429]
            assert_throttled(await client.get("/app/api/settings", headers=bearer()))
            other = await client_from(address()).get("/app/api/settings", headers=bearer())
            assert other.status_code == 200, other.text

    async def test_missing_and_expired_id_tokens_count_too(self, clients: Clients, db: str) -> None:
        async with clients() as client_from:
            client = client_from(address())
            expired = bearer(issued_at=time.time() - 3600)
            for n in range(BURST):
                headers = expired if n % 2 else {}
                assert (await client.get("/app/api/settings", headers=headers)).status_code == 401
            assert_throttled(await client.get("/app/api/settings", headers=expired))

    async def test_forged_id_tokens_on_the_admin_pages(self, clients: Clients, db: str) -> None:
        """A document with a bad token bounces (and counts); the 21st is refused outright."""
        async with clients() as client_from:
            client = client_from(address())
            query = {"shop": "demo.myshopify.com", "embedded": "1"}
            forged = urlencode({**query, "id_token": id_token(secret="guessed")})
            for _ in range(BURST):
                bounced = await client.get(f"/app/settings?{forged}")
                assert bounced.status_code == 302
                assert "/auth/patch-id-token" in bounced.headers["location"]
            assert_throttled(await client.get(f"/app/settings?{forged}"))


def test_the_limits_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "SECRET_KEY": "x" * 32,
            "AUTH_FAILURE_LIMIT": "5",
            "AUTH_FAILURE_BURST": "7",
            "ADMIN_API_RATE_LIMIT": "2.5",
            "ADMIN_API_BURST": "9",
        }
    )
    assert (settings.auth_failure_limit, settings.auth_failure_burst) == (5.0, 7)
    assert (settings.admin_api_rate_limit, settings.admin_api_burst) == (2.5, 9)
    defaults = Settings.from_env({"SECRET_KEY": "x" * 32})
    assert (defaults.auth_failure_limit, defaults.auth_failure_burst) == (20.0, 20)
    assert (defaults.admin_api_rate_limit, defaults.admin_api_burst) == (10.0, 40)
