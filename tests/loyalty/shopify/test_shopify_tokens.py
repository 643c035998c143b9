"""Offline tokens and the Admin GraphQL client, with Shopify mocked at the HTTP edge (respx).

Request and response shapes follow shared/reference/shopify-platform.md sections 5 and 7.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from shopify_app import IdTokenDetails, ShopifyApp

from loyalty.clock import utcnow
from loyalty.crypto import SecretBox, SecretDecryptionError
from loyalty.db import dialect
from loyalty.models import Shop
from loyalty.settings import SHOPIFY_API_VERSION
from loyalty.shopify.admin_api import AdminApi, ShopifyApiError, throttle_wait
from loyalty.shopify.backfill import page_variables
from loyalty.shopify.cost import CostBudget
from loyalty.shopify.operations import CUSTOMERS_PAGE, DISCOUNT_BY_CODE, SHOP_ID, Operation
from loyalty.shopify.tokens import (
    ShopifyUnavailableError,
    ShopNotConnectedError,
    ShopReauthRequiredError,
    TokenExchangeError,
    TokenProvider,
    exchange_offline_token,
    has_usable_token,
)
from standins.shopify_admin import ShopifyAdmin
from tests.factories import create_shop

SHOP = "token-shop"
DOMAIN = f"{SHOP}.myshopify.com"
TOKEN_URL = f"https://{DOMAIN}/admin/oauth/access_token"
GRAPHQL_URL = f"https://{DOMAIN}/admin/api/{SHOPIFY_API_VERSION}/graphql.json"
SHOPIFY = ShopifyApp(client_id="test-client-id", client_secret="test-client-secret")
BOX = SecretBox("test-secret-key-0123456789abcdef")


def token_response(access: str, refresh: str, *, expires_in: int = 3600) -> dict[str, Any]:
    return {
        "access_token": access,
        "scope": "read_customers,write_customers",
        "expires_in": expires_in,
        "refresh_token": refresh,
        "refresh_token_expires_in": 7_776_000,
    }


async def connected_shop(
    *,
    access: str = "shpat_old",
    refresh: str = "shprt_old",
    expires_in: timedelta = timedelta(hours=1),
    refresh_expires_in: timedelta = timedelta(days=90),
) -> Shop:
    now = utcnow()
    return await create_shop(
        domain=DOMAIN,
        access_token_enc=BOX.encrypt(access),
        access_token_expires_at=now + expires_in,
        refresh_token_enc=BOX.encrypt(refresh),
        refresh_token_expires_at=now + refresh_expires_in,
        installed_at=now,
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def provider(http: httpx.AsyncClient) -> TokenProvider:
    return TokenProvider(shopify=SHOPIFY, http=http, box=BOX)


class TestSecretBox:
    def test_round_trips_and_hides_the_plaintext(self) -> None:
        """Ciphertext does not contain the secret and decrypts back to it."""
        sealed = BOX.encrypt("shpat_secret")
        assert "shpat_secret" not in sealed
        assert BOX.decrypt(sealed) == "shpat_secret"

    def test_another_secret_key_cannot_decrypt(self) -> None:
        """A different SECRET_KEY (or tampering) fails loudly, never returns garbage."""
        with pytest.raises(SecretDecryptionError):
            SecretBox("another-key").decrypt(BOX.encrypt("shpat_secret"))


class TestTokenProvider:
    async def test_returns_a_valid_token_without_calling_shopify(
        self, db: str, provider: TokenProvider
    ) -> None:
        """A token with more than a minute left is used as is."""
        shop = await connected_shop()
        with respx.mock(assert_all_called=False) as mock:
            route = mock.post(TOKEN_URL)
            access = await provider.access(shop.id)
        assert (access.name, access.token) == (SHOP, "shpat_old")
        assert not route.called

    async def test_refreshes_within_a_minute_of_expiry_and_stores_the_new_pair(
        self, db: str, provider: TokenProvider
    ) -> None:
        """Near expiry: grant_type=refresh_token with the stored refresh token; both rotate."""
        shop = await connected_shop(expires_in=timedelta(seconds=30))
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(TOKEN_URL).respond(200, json=token_response("shpat_new", "shprt_new"))
            access = await provider.access(shop.id)

        sent = json.loads(route.calls.last.request.content)
        assert sent["grant_type"] == "refresh_token" and sent["refresh_token"] == "shprt_old"
        assert sent["client_id"] == "test-client-id"
        assert access.token == "shpat_new"
        stored = await Shop.get(id=shop.id)
        assert BOX.decrypt(stored.access_token_enc or "") == "shpat_new"
        assert BOX.decrypt(stored.refresh_token_enc or "") == "shprt_new"
        assert "shpat_new" not in (stored.access_token_enc or "")
        assert (
            stored.access_token_expires_at
            and stored.access_token_expires_at > utcnow() + timedelta(minutes=55)
        )

    async def test_concurrent_callers_spend_the_refresh_token_once(
        self, db: str, http: httpx.AsyncClient
    ) -> None:
        """Ten callers at once (two providers, i.e. processes, on PostgreSQL) refresh once."""
        shop = await connected_shop(expires_in=timedelta(seconds=10))
        # SQLite is the single-process default, so one provider stands for the process there.
        count = 2 if dialect() == "postgres" else 1
        providers = [TokenProvider(shopify=SHOPIFY, http=http, box=BOX) for _ in range(count)]

        async def slow_refresh(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.05)  # let the other callers pile up on the lock
            return httpx.Response(200, json=token_response("shpat_new", "shprt_new"))

        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(TOKEN_URL).mock(side_effect=slow_refresh)
            results = await asyncio.gather(
                *(providers[i % count].access(shop.id) for i in range(10))
            )

        assert route.call_count == 1
        assert {r.token for r in results} == {"shpat_new"}

    async def test_an_expired_refresh_token_flags_the_shop_for_reauth(
        self, db: str, provider: TokenProvider
    ) -> None:
        """No HTTP call; the shop is flagged (committed) and the error says what to do."""
        shop = await connected_shop(
            expires_in=timedelta(seconds=-5), refresh_expires_in=timedelta(seconds=-1)
        )
        with respx.mock(assert_all_called=False) as mock:
            route = mock.post(TOKEN_URL)
            with pytest.raises(ShopReauthRequiredError):
                await provider.access(shop.id)
        assert not route.called
        stored = await Shop.get(id=shop.id)
        assert stored.reauth_required_at is not None
        assert not has_usable_token(stored)
        with pytest.raises(ShopReauthRequiredError):  # and stays flagged, without a retry storm
            await provider.access(shop.id)

    async def test_a_refused_refresh_flags_the_shop_for_reauth(
        self, db: str, provider: TokenProvider
    ) -> None:
        """Shopify answers invalid_grant (revoked): re-auth, not a crash or a retry loop."""
        shop = await connected_shop(expires_in=timedelta(seconds=5))
        with respx.mock(assert_all_called=True) as mock:
            mock.post(TOKEN_URL).respond(400, json={"error": "invalid_grant"})
            with pytest.raises(ShopReauthRequiredError):
                await provider.access(shop.id)
        assert (await Shop.get(id=shop.id)).reauth_required_at is not None

    async def test_shopify_down_during_refresh_is_retryable_not_reauth(
        self, db: str, provider: TokenProvider
    ) -> None:
        """5xx from the token endpoint: ShopifyUnavailableError, and the shop is not flagged."""
        shop = await connected_shop(expires_in=timedelta(seconds=5))
        with respx.mock(assert_all_called=True) as mock:
            mock.post(TOKEN_URL).respond(503)
            with pytest.raises(ShopifyUnavailableError):
                await provider.access(shop.id)
        assert (await Shop.get(id=shop.id)).reauth_required_at is None

    async def test_an_uninstalled_shop_has_no_token(self, db: str, provider: TokenProvider) -> None:
        """After uninstall, background work stops instead of calling Shopify."""
        shop = await connected_shop()
        await Shop.filter(id=shop.id).update(uninstalled_at=utcnow(), access_token_enc=None)
        with pytest.raises(ShopNotConnectedError):
            await provider.access(shop.id)


class TestTokenExchange:
    def id_token(self) -> IdTokenDetails:
        return IdTokenDetails(
            exchangeable=True,
            token="header.payload.signature",
            claims={"dest": f"https://{DOMAIN}", "iss": f"https://{DOMAIN}/admin", "sub": "42"},
        )

    async def test_exchanges_for_an_expiring_offline_token_and_stores_it_encrypted(
        self, db: str, http: httpx.AsyncClient
    ) -> None:
        """The request asks for an expiring offline token; tokens are stored as ciphertext."""
        shop = await create_shop(domain=DOMAIN)
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(TOKEN_URL).respond(200, json=token_response("shpat_x", "shprt_x"))
            await exchange_offline_token(
                shop=shop,
                shopify=SHOPIFY,
                http=http,
                box=BOX,
                id_token=self.id_token(),
                invalid_token_response=None,
            )

        sent = json.loads(route.calls.last.request.content)
        assert sent["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
        assert sent["subject_token"] == "header.payload.signature"
        assert (
            sent["requested_token_type"]
            == "urn:shopify:params:oauth:token-type:offline-access-token"
        )
        assert str(sent["expiring"]) == "1"
        stored = await Shop.get(id=shop.id)
        assert BOX.decrypt(stored.access_token_enc or "") == "shpat_x"
        assert BOX.decrypt(stored.refresh_token_enc or "") == "shprt_x"
        assert stored.scopes == "read_customers,write_customers"
        assert has_usable_token(stored)

    async def test_reinstall_after_uninstall_restores_the_shop(
        self, db: str, http: httpx.AsyncClient
    ) -> None:
        """A new exchange after uninstall clears uninstalled_at and any re-auth flag."""
        shop = await create_shop(
            domain=DOMAIN, uninstalled_at=utcnow(), reauth_required_at=utcnow()
        )
        with respx.mock(assert_all_called=True) as mock:
            mock.post(TOKEN_URL).respond(200, json=token_response("shpat_y", "shprt_y"))
            await exchange_offline_token(
                shop=shop,
                shopify=SHOPIFY,
                http=http,
                box=BOX,
                id_token=self.id_token(),
                invalid_token_response=None,
            )
        stored = await Shop.get(id=shop.id)
        assert stored.uninstalled_at is None and stored.reauth_required_at is None
        assert stored.installed_at is not None

    async def test_a_refused_exchange_raises_with_the_response_to_return(
        self, db: str, http: httpx.AsyncClient
    ) -> None:
        """invalid_subject_token: nothing is stored; the caller gets App Bridge's retry response."""
        shop = await create_shop(domain=DOMAIN)
        with respx.mock(assert_all_called=True) as mock:
            mock.post(TOKEN_URL).respond(400, json={"error": "invalid_subject_token"})
            with pytest.raises(TokenExchangeError):
                await exchange_offline_token(
                    shop=shop,
                    shopify=SHOPIFY,
                    http=http,
                    box=BOX,
                    id_token=self.id_token(),
                    invalid_token_response=None,
                )
        assert (await Shop.get(id=shop.id)).access_token_enc is None


class Sleeps:
    """The client's sleep, moving the clock its cost budget reads."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 0.0

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def admin(provider: TokenProvider, http: httpx.AsyncClient, sleeps: Sleeps) -> AdminApi:
    budget = CostBudget(clock=sleeps.clock)
    return AdminApi(shopify=SHOPIFY, http=http, tokens=provider, sleep=sleeps, budget=budget)


THROTTLED = {
    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
    "extensions": {
        "cost": {
            "requestedQueryCost": 202,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": 2,
                "restoreRate": 100.0,
            },
        }
    },
}


class TestAdminApi:
    async def test_sends_the_operation_with_the_token_to_the_pinned_version(
        self, db: str, admin: AdminApi
    ) -> None:
        """POST /admin/api/2026-10/graphql.json with X-Shopify-Access-Token; returns data."""
        shop = await connected_shop()
        shopify = ShopifyAdmin(shop_id=77)
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            data = await admin.execute(shop.id, SHOP_ID)
        assert data == {"shop": {"id": "gid://shopify/Shop/77"}}
        request = route.calls.last.request
        assert request.headers["X-Shopify-Access-Token"] == "shpat_old"
        assert json.loads(request.content) == {"query": SHOP_ID.document}
        page = page_variables(None)
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            await admin.execute(shop.id, CUSTOMERS_PAGE, page)
        assert json.loads(route.calls.last.request.content)["variables"] == page

    async def test_waits_out_throttled_errors_that_arrive_with_http_200(
        self, db: str, admin: AdminApi, sleeps: Sleeps
    ) -> None:
        """THROTTLED: wait (requested − available) / restoreRate, then retry; a background
        call (not `urgent`) also leaves the urgent calls' second of restore in the bucket."""
        shop = await connected_shop()
        shopify = ShopifyAdmin()
        shopify.answer_next(httpx.Response(200, json=THROTTLED))
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            assert await admin.execute(shop.id, SHOP_ID) == {"shop": {"id": shopify.shop_gid}}
        assert route.call_count == 2
        # Paced from the cost report: (202 − 2 + 100 of room) / 100.
        assert sleeps.waits == [pytest.approx(3.0)]
        assert throttle_wait(THROTTLED) == pytest.approx(2.0)

    async def test_an_urgent_call_spends_the_room_background_calls_leave(
        self, db: str, admin: AdminApi, sleeps: Sleeps
    ) -> None:
        """After THROTTLED, a reward's code (urgent) waits only for its own cost: 2 s."""
        shop = await connected_shop()
        shopify = ShopifyAdmin()
        shopify.answer_next(httpx.Response(200, json=THROTTLED))
        with respx.mock(assert_all_called=True) as mock:
            mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            found = await admin.execute(shop.id, DISCOUNT_BY_CODE, {"code": "NONE"})
        assert found == {"codeDiscountNodeByCode": None}
        assert DISCOUNT_BY_CODE.urgent and not SHOP_ID.urgent
        assert sleeps.waits == [pytest.approx(2.0)]

    async def test_honours_retry_after_on_429(
        self, db: str, admin: AdminApi, sleeps: Sleeps
    ) -> None:
        """HTTP 429 waits Retry-After seconds."""
        shop = await connected_shop()
        shopify = ShopifyAdmin()
        shopify.answer_next(httpx.Response(429, headers={"Retry-After": "3"}))
        with respx.mock(assert_all_called=True) as mock:
            mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            await admin.execute(shop.id, SHOP_ID)
        assert sleeps.waits == [3.0]

    async def test_retries_5xx_with_backoff(self, db: str, admin: AdminApi, sleeps: Sleeps) -> None:
        """Two 503s, then success; waits grow and are capped."""
        shop = await connected_shop()
        shopify = ShopifyAdmin()
        shopify.answer_next(httpx.Response(503), httpx.Response(502))
        with respx.mock(assert_all_called=True) as mock:
            mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            await admin.execute(shop.id, SHOP_ID)
        assert len(sleeps.waits) == 2 and all(0 < w <= 30 for w in sleeps.waits)

    async def test_gives_up_after_persistent_5xx(self, db: str, admin: AdminApi) -> None:
        """Shopify down for good: ShopifyUnavailableError, for the job to retry later."""
        shop = await connected_shop()
        with respx.mock(assert_all_called=True) as mock:
            mock.post(GRAPHQL_URL).respond(503)
            with pytest.raises(ShopifyUnavailableError):
                await admin.execute(shop.id, SHOP_ID)

    async def test_refreshes_the_token_once_on_401_and_retries(
        self, db: str, admin: AdminApi
    ) -> None:
        """A revoked access token: refresh, retry with the new one."""
        shop = await connected_shop()
        shopify = ShopifyAdmin()
        shopify.answer_next(httpx.Response(401))
        with respx.mock(assert_all_called=True) as mock:
            graphql = mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            mock.post(TOKEN_URL).respond(200, json=token_response("shpat_new", "shprt_new"))
            assert await admin.execute(shop.id, SHOP_ID) == {"shop": {"id": shopify.shop_gid}}
        assert graphql.calls[1].request.headers["X-Shopify-Access-Token"] == "shpat_new"

    async def test_a_second_401_means_reauth(self, db: str, admin: AdminApi) -> None:
        """401 even after a refresh: the merchant must open the app again."""
        shop = await connected_shop()
        with respx.mock(assert_all_called=True) as mock:
            mock.post(GRAPHQL_URL).respond(401)
            mock.post(TOKEN_URL).respond(200, json=token_response("shpat_new", "shprt_new"))
            with pytest.raises(ShopReauthRequiredError):
                await admin.execute(shop.id, SHOP_ID)

    async def test_a_document_shopify_refuses_is_a_permanent_error(
        self, db: str, admin: AdminApi
    ) -> None:
        """A bad document (HTTP 200 with `errors`) is not retried: a clear error naming
        Shopify's message."""
        shop = await connected_shop()
        nope = Operation(name="Nope", document="query Nope { nope }", purpose="", docs="")
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(GRAPHQL_URL).mock(side_effect=ShopifyAdmin(expect_errors=True))
            with pytest.raises(ShopifyApiError, match="doesn't exist on type 'QueryRoot'"):
                await admin.execute(shop.id, nope)
        assert route.call_count == 1
