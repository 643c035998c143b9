"""`/webhooks/*` (issue 12, items 3, 4 and 9): the HMAC is verified over the raw bytes before
anything parses the body, so no forged body reaches a 500 or the store; an authentic body with
NUL or lone surrogates is stored and processed; a webhook never creates a shop."""

from __future__ import annotations

import json

import httpx
import pytest

from loyalty.models import Customer, Shop, WebhookEvent
from loyalty.settings import Settings
from loyalty.webhooks.topics import TOPICS_BY_GROUP
from tests.factories import create_shop
from tests.security.clients import serving
from tests.security.state import snapshot
from tests.shopify_webhooks import customer_payload, deliver, encode, run_jobs, webhook_headers
from tests.web.proxy.test_proxy import proxy_get, signed_query
from web.state import Services

SHOP = "hardened.myshopify.com"
HUGE_INTEGER = b'{"id": ' + b"9" * 5000 + b"}"
# Bodies built to break a parser that runs before the HMAC check (shopify_app's log redaction).
HOSTILE_BODIES = {
    "huge integer": HUGE_INTEGER,
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "NaN": b'{"id": NaN}',
    "NUL": b'{"id": 1, "email": "a\\u0000b"}',
    "lone surrogate": b'{"id": 1, "email": "\\ud800"}',
    "not UTF-8": b'{"id": "\xff\xfe"}',
    "empty": b"",
}


def forged(body: bytes, *, topic: str = "customers/create", **overrides: str | bytes) -> dict:
    headers: dict[str, str | bytes] = {
        **webhook_headers(topic, body, shop=SHOP),
        "X-Shopify-Hmac-Sha256": "bm90IHRoZSBobWFjIG9mIHRoaXMgYm9keQ==",
    }
    headers.update(overrides)
    return headers


class TestForgedBodies:
    @pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
    async def test_a_wrong_hmac_is_401_whatever_the_body(
        self, client: httpx.AsyncClient, body: bytes
    ) -> None:
        """Every hostile body with a bogus HMAC: 401 `invalid_hmac`, nothing stored (a huge
        integer or deep nesting answered 500 before)."""
        await create_shop(domain=SHOP)
        before = await snapshot()
        response = await client.post("/webhooks/customers", content=body, headers=forged(body))
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "invalid_hmac"
        assert await snapshot() == before

    @pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
    async def test_a_missing_hmac_is_400_whatever_the_body(
        self, client: httpx.AsyncClient, body: bytes
    ) -> None:
        """No HMAC header at all: 400 `missing_hmac_header`, nothing stored."""
        headers = forged(body)
        del headers["X-Shopify-Hmac-Sha256"]
        before = await snapshot()
        response = await client.post("/webhooks/customers", content=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "missing_hmac_header"
        assert await snapshot() == before

    @pytest.mark.parametrize(
        "hmac_header",
        [b"\xe9t\xe9", b"\x00", b"A" * 5000, b"=="],
        ids=["latin-1", "NUL", "long", "pad"],
    )
    async def test_an_hmac_header_that_is_not_base64_is_401(
        self, client: httpx.AsyncClient, hmac_header: bytes
    ) -> None:
        """Header bytes that are not ASCII used to reach `hmac.compare_digest` as text (500)."""
        body = encode(customer_payload(5))
        before = await snapshot()
        response = await client.post(
            "/webhooks/customers",
            content=body,
            headers=forged(body, **{"X-Shopify-Hmac-Sha256": hmac_header}),
        )
        assert response.status_code == 401
        assert await snapshot() == before

    async def test_a_body_signed_with_an_unrelated_secret_is_401(
        self, client: httpx.AsyncClient
    ) -> None:
        """A correct-looking signature made with another secret: 401 on the huge integer too."""
        headers = webhook_headers("customers/create", HUGE_INTEGER, shop=SHOP, secret="attacker")
        response = await client.post("/webhooks/customers", content=HUGE_INTEGER, headers=headers)
        assert response.status_code == 401


class TestAuthenticOddBodies:
    async def test_nul_and_lone_surrogates_are_stored_and_processed(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """A signed customers/create with `\\u0000` and a lone `\\ud800`: 200, stored (jsonb
        refused it with a 500 before, so Shopify retried it for hours), and processed with each
        replaced by U+FFFD."""
        shop = await create_shop(domain=SHOP)
        payload = customer_payload(71, first_name="An\x00n", last_name="Le\ud800e")
        body = json.dumps(payload).encode()  # ASCII: both travel as \u escapes
        assert b"\\u0000" in body and b"\\ud800" in body
        headers = webhook_headers("customers/create", body, shop=SHOP, webhook_id="wh-nul")
        response = await client.post("/webhooks/customers", content=body, headers=headers)
        assert response.status_code == 200 and response.json() == {"status": "accepted"}
        event = await WebhookEvent.get(webhook_id="wh-nul")
        assert event.payload["first_name"] == "An\ufffdn"
        await run_jobs(services)
        customer = await Customer.get(shop=shop, shopify_customer_id=71)
        assert (customer.first_name, customer.last_name) == ("An\ufffdn", "Le\ufffde")
        assert (await WebhookEvent.get(webhook_id="wh-nul")).last_error is None

    @pytest.mark.parametrize(
        "body",
        [HUGE_INTEGER, b'{"id": NaN}', b'{"id": 1e400}', b'{"a":' * 100 + b"1" + b"}" * 100],
        ids=["huge integer", "NaN", "overflowing float", "nested 100 deep"],
    )
    async def test_a_body_we_cannot_read_is_stored_failed(
        self, client: httpx.AsyncClient, services: Services, body: bytes
    ) -> None:
        """Authentic but unreadable: 200, stored once already failed with the reason (never
        processed, never retried by Shopify), never a 500."""
        await create_shop(domain=SHOP)
        headers = webhook_headers("customers/create", body, shop=SHOP, webhook_id="wh-odd")
        response = await client.post("/webhooks/customers", content=body, headers=headers)
        assert response.status_code == 200
        event = await WebhookEvent.get(webhook_id="wh-odd")
        assert event.processed_at is not None and event.payload == {}
        assert event.last_error is not None and event.last_error.startswith("invalid payload")
        await run_jobs(services)
        assert await Customer.all().count() == 0

    async def test_the_previous_secret_is_checked_before_parsing_too(
        self, settings: Settings
    ) -> None:
        """While rotating (SHOPIFY_OLD_API_SECRET set), our own check accepts either secret:
        signed with the old one the huge integer is stored failed, with a third one it is 401."""
        await create_shop(domain=SHOP)
        statuses = []
        async with serving(settings.with_overrides(shopify_old_api_secret="old-secret")) as http:
            for secret in ("old-secret", "attacker"):
                headers = webhook_headers(
                    "customers/create", HUGE_INTEGER, shop=SHOP, secret=secret
                )
                response = await http.post(
                    "/webhooks/customers", content=HUGE_INTEGER, headers=headers
                )
                statuses.append(response.status_code)
        assert statuses == [200, 401]
        assert await WebhookEvent.all().count() == 1


class TestStoredHeaders:
    @pytest.mark.parametrize(
        "header", ["X-Shopify-Webhook-Id", "X-Shopify-Event-Id", "X-Shopify-API-Version"]
    )
    @pytest.mark.parametrize(
        "value", [b"wh\x00id", b"\xe9\xe9", b"a" * 65], ids=["NUL", "latin-1", "long"]
    )
    async def test_a_stored_header_that_is_not_printable_ascii_is_400(
        self, client: httpx.AsyncClient, header: str, value: bytes
    ) -> None:
        """Headers are not signed and are stored: NUL (a 500 on PostgreSQL before) or other
        bytes are a 400 and nothing is stored."""
        await create_shop(domain=SHOP)
        body = encode(customer_payload(5))
        headers: dict[str, str | bytes] = {**webhook_headers("customers/create", body, shop=SHOP)}
        headers[header] = value
        before = await snapshot()
        response = await client.post("/webhooks/customers", content=body, headers=headers)
        assert response.status_code == 400
        assert await snapshot() == before


class TestUnknownShops:
    @pytest.mark.parametrize("group", sorted(TOPICS_BY_GROUP))
    async def test_a_delivery_for_an_unknown_shop_creates_nothing(
        self, client: httpx.AsyncClient, services: Services, group: str
    ) -> None:
        """Signed, for a shop that never installed: 200 `ignored` (Shopify stops retrying),
        twice with the same webhook id, and no shop, event or customer is recorded."""
        topic = sorted(TOPICS_BY_GROUP[group])[0]
        before = await snapshot()
        for _ in range(2):
            response = await deliver(
                client, topic, customer_payload(5), shop="stranger.myshopify.com", webhook_id="w"
            )
            assert response.status_code == 200
            assert response.json() == {"status": "ignored"}
        await run_jobs(services)
        assert await snapshot() == before

    async def test_then_a_signed_proxy_request_for_that_shop_is_404(
        self, client: httpx.AsyncClient
    ) -> None:
        """The storefront of a shop only a webhook named: 404 `shop_not_found` (it was 200
        once the webhook had created the shop)."""
        await deliver(
            client, "customers/create", customer_payload(5), shop="stranger.myshopify.com"
        )
        await deliver(
            client, "customers/create", customer_payload(5), shop="stranger.myshopify.com"
        )
        response = await proxy_get(client, "/customer", signed_query("stranger.myshopify.com", 5))
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "shop_not_found"
        assert not await Shop.filter(domain="stranger.myshopify.com").exists()
