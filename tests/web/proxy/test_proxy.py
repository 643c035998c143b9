"""/proxy: the storefront API behind Shopify's app proxy. Requests are signed exactly as Shopify
signs them (shared/reference/shopify-platform.md section 3)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from loyalty.models import Customer, EarningHistoryEntry, RuleCategory, Shop
from tests.factories import create_customer, create_rule, create_shop, create_tier
from web.auth.app_proxy import ProxyShopCache
from web.state import Services

SECRET = "test-client-secret"


def signed_query(
    shop: str,
    customer_id: int | str | None,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    extra: dict[str, str] | None = None,
) -> str:
    params: dict[str, str] = {
        "shop": shop,
        "logged_in_customer_id": "" if customer_id is None else str(customer_id),
        "path_prefix": "/apps/loyalty",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        **(extra or {}),
    }
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode(params)


class Storefront:
    shop: Shop
    customer: Customer


@pytest.fixture
async def store(db: str) -> Storefront:
    s = Storefront()
    s.shop = await create_shop(domain="proxy-shop.myshopify.com")
    bronze = await create_tier(
        s.shop, name="Bronze", points_required=0, points_multiplier=Decimal("1.00")
    )
    await create_tier(s.shop, name="Silver", points_required=500, points_multiplier=Decimal("1.25"))
    s.customer = await create_customer(
        s.shop, shopify_customer_id=555, vip_tier=bronze, lifetime_points=100, points_balance=80
    )
    return s


async def proxy_get(client: httpx.AsyncClient, path: str, query: str) -> httpx.Response:
    return await client.get(f"/proxy{path}?{query}")


async def proxy_post(
    client: httpx.AsyncClient, path: str, query: str, body: Any = None
) -> httpx.Response:
    return await client.post(f"/proxy{path}?{query}", json=body)


class TestSignature:
    async def test_missing_signature_is_refused(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """No signature: refused before anything is read."""
        response = await client.get(
            "/proxy/customer?shop=proxy-shop.myshopify.com&logged_in_customer_id=555"
        )
        assert response.status_code in {400, 401}
        assert response.json()["errors"][0]["status"] == str(response.status_code)

    async def test_forged_signature_is_refused(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """Signed with another secret: 401."""
        response = await proxy_get(
            client, "/customer", signed_query("proxy-shop.myshopify.com", 555, secret="wrong")
        )
        assert response.status_code == 401

    async def test_tampered_customer_is_refused(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """Changing logged_in_customer_id after signing breaks the signature."""
        query = signed_query("proxy-shop.myshopify.com", 555).replace(
            "logged_in_customer_id=555", "logged_in_customer_id=556"
        )
        response = await proxy_get(client, "/customer", query)
        assert response.status_code == 401

    async def test_expired_or_replayed_timestamp_is_refused(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """A correctly signed request older than 90 s (a replay) is refused."""
        query = signed_query("proxy-shop.myshopify.com", 555, timestamp=int(time.time()) - 300)
        response = await proxy_get(client, "/customer", query)
        assert response.status_code == 401

    async def test_another_shop_cannot_reach_this_shops_data(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """A valid signature for a shop without the app: 404, nothing of ours leaks."""
        response = await proxy_get(
            client, "/customer", signed_query("other-shop.myshopify.com", 555)
        )
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "shop_not_found"

    async def test_a_customer_id_in_the_body_or_query_is_ignored(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """Only the signed logged_in_customer_id counts; other ids cannot redirect an award."""
        victim = await create_customer(store.shop, shopify_customer_id=777)
        rule = await create_rule(store.shop)
        query = signed_query("proxy-shop.myshopify.com", 555, extra={"customer_id": "777"})
        response = await proxy_post(
            client,
            f"/earning-rules/{rule.public_id}/award",
            query,
            {"customer_identifier": "777", "customer_id": 777},
        )
        assert response.status_code == 201
        assert await EarningHistoryEntry.filter(customer_id=victim.id).count() == 0
        assert await EarningHistoryEntry.filter(customer_id=store.customer.id).count() == 1


class TestCustomer:
    async def test_shows_balances_tier_progress_and_history(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """A logged-in customer sees balance, pending, lifetime, tier, next tier and progress."""
        rule = await create_rule(store.shop, points=40)
        await proxy_post(
            client,
            f"/earning-rules/{rule.public_id}/award",
            signed_query("proxy-shop.myshopify.com", 555),
        )

        response = await proxy_get(
            client, "/customer", signed_query("proxy-shop.myshopify.com", 555)
        )

        assert response.status_code == 200
        data = response.json()["data"]
        assert data["type"] == "storefront_customer" and data["id"] == "555"
        attributes = data["attributes"]
        assert (
            attributes["points_balance"],
            attributes["lifetime_points"],
            attributes["pending_points"],
        ) == (120, 140, 0)
        assert attributes["vip_tier"]["name"] == "Bronze"
        assert attributes["next_tier"]["name"] == "Silver"
        assert attributes["points_to_next_tier"] == 360
        assert attributes["progress_to_next_tier"] == pytest.approx(140 / 500)
        assert [h["points"] for h in attributes["history"]] == [40]

    async def test_visitors_get_the_programme_and_a_sign_in_hint(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """Anonymous: programme summary, no customer data."""
        await create_rule(store.shop, points=50, customer_facing_label="Follow us")
        response = await proxy_get(
            client, "/customer", signed_query("proxy-shop.myshopify.com", None)
        )
        attributes = response.json()["data"]["attributes"]
        assert attributes["signed_in"] is False
        assert attributes["sign_in_url"] == "/account/login"
        assert [r["attributes"]["label"] for r in attributes["ways_to_earn"]] == ["Follow us"]
        assert [t["name"] for t in attributes["tiers"]] == ["Bronze", "Silver"]

    async def test_a_customer_new_to_the_app_is_enrolled(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """A customer whose webhook has not arrived yet starts at zero in the entry tier."""
        response = await proxy_get(
            client, "/customer", signed_query("proxy-shop.myshopify.com", 999)
        )
        attributes = response.json()["data"]["attributes"]
        assert attributes["points_balance"] == 0 and attributes["vip_tier"]["name"] == "Bronze"

    async def test_page_views_arriving_together_share_a_statement(
        self, client: httpx.AsyncClient, services: Services, store: Storefront
    ) -> None:
        """Concurrent page views of several customers (and a new one, enrolled) are read in one
        statement, each answered with its own customer's state."""
        for n in (1, 2, 3):
            await create_customer(store.shop, shopify_customer_id=600 + n, points_balance=n)
        ids = [555, 601, 602, 603, 999]
        await proxy_get(client, "/customer", signed_query("proxy-shop.myshopify.com", None))

        responses = await asyncio.gather(
            *(
                proxy_get(client, "/customer", signed_query("proxy-shop.myshopify.com", i))
                for i in ids
            )
        )

        documents = [r.json()["data"] for r in responses]
        assert [(d["id"], d["attributes"]["points_balance"]) for d in documents] == [
            ("555", 80),
            ("601", 1),
            ("602", 2),
            ("603", 3),
            ("999", 0),
        ]
        batcher = services.storefront_summaries
        assert (batcher.batches, batcher.largest_batch) == (1, 5)


class TestEarningRules:
    async def test_lists_active_rules_with_this_customers_points_and_completion(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """Multiplier applied; completed rules marked; inactive rules hidden."""
        silver_customer = await create_customer(
            store.shop, shopify_customer_id=600, lifetime_points=600
        )
        await Customer.filter(id=silver_customer.id).update(
            vip_tier_id=(await store.shop.vip_tiers.filter(name="Silver").first()).id  # type: ignore[union-attr]
        )
        done = await create_rule(store.shop, points=100, name="Instagram")
        await create_rule(store.shop, points=10, name="Review", category=RuleCategory.ENGAGEMENT)
        await create_rule(store.shop, points=5, name="Hidden", is_active=False)
        await create_rule(store.shop, points=2, name="Orders", category=RuleCategory.PURCHASE)
        await proxy_post(
            client,
            f"/earning-rules/{done.public_id}/award",
            signed_query("proxy-shop.myshopify.com", 600),
        )

        response = await proxy_get(
            client, "/earning-rules", signed_query("proxy-shop.myshopify.com", 600)
        )

        rules = {r["attributes"]["name"]: r["attributes"] for r in response.json()["data"]}
        assert set(rules) == {"Instagram", "Review", "Orders"}
        assert rules["Instagram"]["points"] == 125 and rules["Instagram"]["completed"] is True
        assert rules["Review"]["points"] == 13 and rules["Review"]["completed"] is False
        assert rules["Orders"]["claimable"] is False and rules["Instagram"]["claimable"] is True

    async def test_claimable_rules_come_first_then_the_most_valuable(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """Social and engagement rules (the widget's claim buttons) lead, each group by points."""
        await create_rule(store.shop, points=500, name="Orders", category=RuleCategory.PURCHASE)
        await create_rule(store.shop, points=10, name="Review", category=RuleCategory.ENGAGEMENT)
        await create_rule(store.shop, points=100, name="Instagram")
        await create_rule(store.shop, points=50, name="Birthday", category=RuleCategory.BIRTHDAY)

        response = await proxy_get(
            client, "/earning-rules", signed_query("proxy-shop.myshopify.com", 555)
        )

        names = [r["attributes"]["name"] for r in response.json()["data"]]
        assert names == ["Instagram", "Review", "Orders", "Birthday"]


class TestAward:
    async def test_awards_the_logged_in_customer(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """201 with the same document as the public API; actor is the storefront."""
        rule = await create_rule(store.shop, points=30)
        response = await proxy_post(
            client,
            f"/earning-rules/{rule.public_id}/award",
            signed_query("proxy-shop.myshopify.com", 555),
        )
        assert response.status_code == 201
        assert response.json()["data"]["type"] == "earning_history_entry"
        assert (await Customer.get(id=store.customer.id)).points_balance == 110

    async def test_statuses_match_the_public_api(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """409 repeat, 404 inactive, 422 purchase, 403 excluded."""
        rule = await create_rule(store.shop)
        inactive = await create_rule(store.shop, is_active=False)
        purchase = await create_rule(store.shop, category=RuleCategory.PURCHASE)
        query = signed_query("proxy-shop.myshopify.com", 555)
        first = await proxy_post(client, f"/earning-rules/{rule.public_id}/award", query)
        repeat = await proxy_post(client, f"/earning-rules/{rule.public_id}/award", query)
        assert (first.status_code, repeat.status_code) == (201, 409)
        assert (
            await proxy_post(client, f"/earning-rules/{inactive.public_id}/award", query)
        ).status_code == 404
        assert (
            await proxy_post(client, f"/earning-rules/{purchase.public_id}/award", query)
        ).status_code == 422
        await Customer.filter(id=store.customer.id).update(is_excluded=True)
        other = await create_rule(store.shop)
        excluded = await proxy_post(client, f"/earning-rules/{other.public_id}/award", query)
        assert (
            excluded.status_code == 403
            and excluded.json()["errors"][0]["code"] == "customer_excluded"
        )

    async def test_visitors_cannot_claim(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """Anonymous: 401 not_logged_in, nothing written."""
        rule = await create_rule(store.shop)
        response = await proxy_post(
            client,
            f"/earning-rules/{rule.public_id}/award",
            signed_query("proxy-shop.myshopify.com", None),
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "not_logged_in"
        assert await EarningHistoryEntry.all().count() == 0

    async def test_a_customer_hammering_claims_is_rate_limited(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """Past the per-customer burst: 429 with Retry-After."""
        rules = [await create_rule(store.shop, points=1) for _ in range(12)]
        query = signed_query("proxy-shop.myshopify.com", 555)
        responses = await asyncio.gather(
            *(proxy_post(client, f"/earning-rules/{r.public_id}/award", query) for r in rules)
        )
        limited = [r for r in responses if r.status_code == 429]
        assert limited, [r.status_code for r in responses]
        assert int(limited[0].headers["Retry-After"]) >= 1
        assert limited[0].json()["errors"][0]["code"] == "rate_limited"
        assert sum(r.status_code == 201 for r in responses) == 10


class TestShopLookup:
    async def test_a_get_may_use_a_moments_old_shop_and_nothing_else_does(
        self, client: httpx.AsyncClient, store: Storefront
    ) -> None:
        """Storefront GETs reuse the shop row looked up within the last two seconds (the
        widget's call on every page view); any other method looks it up afresh, so an
        uninstalled shop takes nothing more, and its GETs end within the cache's lifetime."""
        rule = await create_rule(store.shop, points=10)
        query = signed_query("proxy-shop.myshopify.com", 555)
        assert (await proxy_get(client, "/customer", query)).status_code == 200
        await Shop.filter(id=store.shop.id).update(uninstalled_at=store.shop.created_at)

        cached = await proxy_get(client, "/customer", query)
        claimed = await proxy_post(client, f"/earning-rules/{rule.public_id}/award", query)

        assert cached.status_code == 200
        assert claimed.status_code == 404
        assert claimed.json()["errors"][0]["code"] == "shop_not_found"
        assert await EarningHistoryEntry.all().count() == 0
        await asyncio.sleep(2.1)
        later = await proxy_get(client, "/customer", query)
        assert later.status_code == 404

    async def test_gets_that_miss_together_share_one_lookup(self, store: Storefront) -> None:
        """Concurrent misses (an entry expiring under load) are answered by one lookup, which
        starts after the expiry: the row it reads is no older than the cache's lifetime."""
        shops = ProxyShopCache(ttl=0.2)
        first = await asyncio.gather(*(shops.get(store.shop.domain) for _ in range(5)))
        await Shop.filter(id=store.shop.id).update(uninstalled_at=store.shop.created_at)
        await asyncio.sleep(0.3)

        later = await asyncio.gather(*(shops.get(store.shop.domain) for _ in range(5)))

        assert all(s is first[0] for s in first) and first[0] is not None
        assert all(s is later[0] for s in later) and later[0] is not None
        assert later[0] is not first[0] and later[0].uninstalled_at is not None
