"""/proxy rewards: what a shopper can redeem, redeeming as the signed-in customer only, and "my
rewards", through signed app-proxy requests on SQLite and PostgreSQL. Shopify is the
schema-validating stand-in at HTTP, so the code the job makes after a redemption is checked
where Shopify would hold it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from loyalty.models import (
    Activity,
    Customer,
    OutboxIntent,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardKind,
    Shop,
)
from loyalty.outbox.queue import InProcessJobQueue
from standins.shopify_admin import ShopifyAdmin, customer_node
from tests.factories import create_tier
from tests.loyalty.rewards.helpers import connected_shop, customer_with_lots, reward
from tests.loyalty.sync.harness import graphql_url
from tests.web.proxy.test_proxy import proxy_get, proxy_post, signed_query
from web.proxy.rewards import CUSTOMER_REDEEM_LIMIT
from web.state import Services

DOMAIN = "rewards-shop.myshopify.com"
RICH, POOR, STRANGER = 555, 556, 999


@dataclass
class Store:
    shop: Shop
    rich: Customer  # 700 points
    poor: Customer  # 120 points
    five_off: Reward  # 500 points
    ten_off: Reward  # 900 points
    gold_gift: Reward  # 100 points, Gold tier and up
    variable: Reward  # 100..600 points at $0.05 a point
    inactive: Reward


@pytest.fixture
async def store(db: str) -> Store:
    shop = await connected_shop(domain=DOMAIN)
    gold = await create_tier(shop, name="Gold", points_required=1000)
    rich = await customer_with_lots(shop, (300, None), (400, None), shopify_customer_id=RICH)
    poor = await customer_with_lots(shop, (120, None), shopify_customer_id=POOR)
    return Store(
        shop=shop,
        rich=rich,
        poor=poor,
        five_off=await reward(shop, per_customer_limit=1),
        ten_off=await reward(shop, name="$10 off", points_cost=900, value=Decimal("10.00")),
        gold_gift=await reward(
            shop,
            name="Gold gift",
            kind=RewardKind.PERCENTAGE,
            value=Decimal("20"),
            points_cost=100,
            minimum_tier_id=gold.public_id,
        ),
        variable=await reward(
            shop,
            name="Pick your discount",
            is_variable=True,
            min_points=100,
            max_points=600,
            value_per_point=Decimal("0.05"),
        ),
        inactive=await reward(shop, name="Retired", points_cost=10, is_active=False),
    )


@pytest.fixture
async def shopify(store: Store) -> AsyncIterator[ShopifyAdmin]:
    """The shop's Admin API, as the code job reaches it after a redemption."""
    stand_in = ShopifyAdmin(customers=[customer_node(RICH), customer_node(POOR)])
    with respx.mock(assert_all_called=False) as mock:
        mock.post(graphql_url(store.shop)).mock(side_effect=stand_in)
        yield stand_in


async def drain(services: Services) -> None:
    """Run the jobs the request queued (the code job, the syncs) to completion."""
    await services.dispatcher.flush()
    assert isinstance(services.queue, InProcessJobQueue)
    await services.queue.drain()


def as_shopper(customer_id: int | None) -> str:
    return signed_query(DOMAIN, customer_id)


async def redeem(
    client: httpx.AsyncClient, reward: Reward, shopper: int | None = RICH, body: Any = None
) -> httpx.Response:
    return await proxy_post(
        client, f"/rewards/{reward.public_id}/redeem", as_shopper(shopper), body or {}
    )


async def written(shop: Shop) -> tuple[Any, ...]:
    """Everything a redemption writes in the shop, to show a refusal wrote nothing."""
    return (
        sorted(await Customer.filter(shop=shop).values_list("id", "points_balance")),
        await Redemption.filter(shop=shop).count(),
        await OutboxIntent.filter(shop_id=shop.id).count(),
        await Activity.filter(shop_id=shop.id).count(),
    )


def error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["code"]  # type: ignore[no-any-return]


def by_name(response: httpx.Response) -> dict[str, dict[str, Any]]:
    return {r["attributes"]["name"]: r["attributes"] for r in response.json()["data"]}


class TestRewardList:
    async def test_a_visitor_sees_the_active_rewards_and_nothing_about_points(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        response = await proxy_get(client, "/rewards", as_shopper(None))
        assert response.status_code == 200
        assert response.json()["meta"] == {"signed_in": False, "points_balance": None}
        rewards = by_name(response)
        assert list(rewards) == ["Gold gift", "Pick your discount", "$5 off", "$10 off"]
        assert all(not r["redeemable"] and r["points_needed"] is None for r in rewards.values())
        assert rewards["Gold gift"]["minimum_tier"] == "Gold"

    async def test_a_shopper_sees_what_they_can_afford_and_how_far_the_rest_is(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        response = await proxy_get(client, "/rewards", as_shopper(POOR))
        assert response.json()["meta"] == {"signed_in": True, "points_balance": 120}
        rewards = by_name(response)
        assert rewards["$5 off"]["points_needed"] == 380 and not rewards["$5 off"]["redeemable"]
        assert rewards["$10 off"]["points_needed"] == 780
        assert rewards["Pick your discount"]["redeemable"]  # its minimum is 100
        variable = rewards["Pick your discount"]
        assert (variable["min_points"], variable["max_points"]) == (100, 600)
        assert variable["value_per_point"] == "0.0500" and variable["points_step"] == 1
        gift = rewards["Gold gift"]
        assert gift["points_needed"] == 0 and not gift["tier_allowed"] and not gift["redeemable"]

    async def test_another_shops_rewards_never_show(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        other = await connected_shop()
        await reward(other, name="Elsewhere")
        response = await proxy_get(client, "/rewards", as_shopper(RICH))
        assert "Elsewhere" not in by_name(response)

    async def test_a_shopper_new_to_the_app_is_enrolled_with_nothing_to_spend(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        response = await proxy_get(client, "/rewards", as_shopper(STRANGER))
        assert response.json()["meta"]["points_balance"] == 0
        assert by_name(response)["$5 off"]["points_needed"] == 500


class TestRedeem:
    async def test_redeems_for_the_signed_in_shopper_and_shopify_gets_the_code(
        self, client: httpx.AsyncClient, store: Store, shopify: ShopifyAdmin, services: Services
    ) -> None:
        response = await redeem(client, store.five_off)

        assert response.status_code == 201, response.text
        entry = response.json()["data"]["attributes"]
        assert response.json()["meta"] == {"replayed": False, "points_balance": 200}
        assert entry["reward_name"] == "$5 off" and entry["points_spent"] == 500
        assert entry["status"] == "active" and entry["value"] == "5.00"
        code = entry["discount_code"]
        row = await Redemption.get(code=code).select_related("customer")
        assert row.customer.shopify_customer_id == RICH
        activity = await Activity.get(customer_id=store.rich.id, kind="reward_redeemed")
        assert (activity.actor_type, activity.actor_id) == ("storefront", str(RICH))

        await drain(services)
        assert code in shopify.discount_codes and shopify.rejected == []
        mine = await proxy_get(client, "/my-rewards", as_shopper(RICH))
        assert [r["attributes"]["discount_code"] for r in mine.json()["data"]] == [code]
        assert mine.json()["data"][0]["attributes"]["code_ready"] is True

    async def test_a_visitor_cannot_redeem(self, client: httpx.AsyncClient, store: Store) -> None:
        before = await written(store.shop)
        response = await redeem(client, store.five_off, shopper=None)
        assert response.status_code == 401 and error_code(response) == "not_logged_in"
        assert await written(store.shop) == before

    @pytest.mark.parametrize(
        "body",
        [
            {"customer_id": POOR},
            {"customer_identifier": str(POOR)},
            {"points": "500"},
            {"points": 0},
            {"idempotency_key": "short"},
            {"idempotency_key": "has spaces in it"},
        ],
    )
    async def test_a_body_naming_a_customer_or_malformed_is_refused(
        self, client: httpx.AsyncClient, store: Store, body: dict[str, Any]
    ) -> None:
        before = await written(store.shop)
        response = await redeem(client, store.five_off, body=body)
        assert response.status_code == 400 and error_code(response) in {
            "invalid_field",
            "missing_field",
        }
        assert await written(store.shop) == before

    async def test_a_body_that_is_not_an_object_is_refused(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        before = await written(store.shop)
        response = await client.post(
            f"/proxy/rewards/{store.five_off.public_id}/redeem?{as_shopper(RICH)}",
            content=b"[1]",
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400 and error_code(response) == "invalid_body"
        assert await written(store.shop) == before

    @pytest.mark.parametrize(
        ("shopper", "which", "status", "code"),
        [
            (POOR, "five_off", 422, "insufficient_points"),
            (RICH, "ten_off", 422, "insufficient_points"),
            (RICH, "gold_gift", 403, "tier_not_allowed"),
            (RICH, "inactive", 404, "reward_not_found"),
        ],
    )
    async def test_a_refusal_has_its_code_and_writes_nothing(
        self,
        client: httpx.AsyncClient,
        store: Store,
        shopper: int,
        which: str,
        status: int,
        code: str,
    ) -> None:
        before = await written(store.shop)
        response = await redeem(client, getattr(store, which), shopper=shopper)
        assert response.status_code == status and error_code(response) == code, response.text
        assert await written(store.shop) == before

    async def test_insufficient_points_says_how_many_are_needed(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        response = await redeem(client, store.five_off, shopper=POOR)
        meta = response.json()["errors"][0]["meta"]
        assert meta == {"points_required": 500, "points_balance": 120}

    async def test_the_per_customer_limit(
        self, client: httpx.AsyncClient, store: Store, shopify: ShopifyAdmin
    ) -> None:
        assert (await redeem(client, store.five_off)).status_code == 201
        await Customer.filter(id=store.rich.id).update(points_balance=5000)
        before = await written(store.shop)
        response = await redeem(client, store.five_off)
        assert response.status_code == 409 and error_code(response) == "redemption_limit_reached"
        assert await written(store.shop) == before

    async def test_an_excluded_shopper_is_refused(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        await Customer.filter(id=store.rich.id).update(is_excluded=True)
        before = await written(store.shop)
        response = await redeem(client, store.five_off)
        assert response.status_code == 403 and error_code(response) == "customer_excluded"
        assert await written(store.shop) == before

    async def test_shopify_unavailable_spends_nothing(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        await Shop.filter(id=store.shop.id).update(reauth_required_at=store.shop.installed_at)
        before = await written(store.shop)
        response = await redeem(client, store.five_off)
        assert response.status_code == 503 and error_code(response) == "shopify_unavailable"
        assert await written(store.shop) == before

    async def test_another_shops_reward_is_not_found(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        elsewhere = await reward(await connected_shop(), name="Elsewhere", points_cost=10)
        before = await written(store.shop)
        response = await redeem(client, elsewhere)
        assert response.status_code == 404 and error_code(response) == "reward_not_found"
        assert await written(store.shop) == before

    async def test_a_variable_reward_spends_the_points_chosen(
        self, client: httpx.AsyncClient, store: Store, shopify: ShopifyAdmin
    ) -> None:
        response = await redeem(client, store.variable, body={"points": 300})
        assert response.status_code == 201
        entry = response.json()["data"]["attributes"]
        assert (entry["points_spent"], entry["value"]) == (300, "15.00")
        before = await written(store.shop)
        refused = await redeem(client, store.variable, body={"points": 601})
        assert refused.status_code == 422 and error_code(refused) == "invalid_points"
        assert await written(store.shop) == before


class TestIdempotency:
    async def test_the_same_click_twice_redeems_once(
        self, client: httpx.AsyncClient, store: Store, shopify: ShopifyAdmin
    ) -> None:
        first = await redeem(client, store.five_off, body={"idempotency_key": "click-abcdefgh"})
        again = await redeem(client, store.five_off, body={"idempotency_key": "click-abcdefgh"})
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["meta"]["replayed"] is True
        assert again.json()["data"]["id"] == first.json()["data"]["id"]
        assert await Redemption.filter(customer_id=store.rich.id).count() == 1

    async def test_a_double_click_racing_itself_redeems_once(
        self, client: httpx.AsyncClient, store: Store, shopify: ShopifyAdmin
    ) -> None:
        body = {"idempotency_key": "click-racing-01"}
        responses = await asyncio.gather(*(redeem(client, store.ten_off, body=body) for _ in "ab"))
        assert [r.status_code for r in responses] == [422, 422]  # a refusal keeps no key
        await Customer.filter(id=store.rich.id).update(points_balance=900)
        responses = await asyncio.gather(*(redeem(client, store.ten_off, body=body) for _ in "ab"))
        assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
        assert await Redemption.filter(customer_id=store.rich.id).count() == 1
        assert (await Customer.get(id=store.rich.id)).points_balance == 0

    async def test_shoppers_keys_never_meet(
        self, client: httpx.AsyncClient, store: Store, shopify: ShopifyAdmin
    ) -> None:
        """Another shopper sending the same key redeems for themselves (the key is theirs)."""
        await Customer.filter(id=store.poor.id).update(points_balance=600)
        body = {"idempotency_key": "same-key-123456"}
        mine = await redeem(client, store.five_off, shopper=RICH, body=body)
        theirs = await redeem(client, store.five_off, shopper=POOR, body=body)
        assert (mine.status_code, theirs.status_code) == (201, 201)
        assert mine.json()["data"]["id"] != theirs.json()["data"]["id"]

    async def test_a_shopper_hammering_redeem_is_rate_limited(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        burst = CUSTOMER_REDEEM_LIMIT.burst
        responses = [await redeem(client, store.ten_off) for _ in range(burst + 2)]
        statuses = [r.status_code for r in responses]
        assert statuses[:burst] == [422] * burst and statuses[burst:] == [429, 429]
        assert int(responses[-1].headers["Retry-After"]) >= 1


class TestMyRewards:
    async def test_lists_only_this_shoppers_active_codes(
        self, client: httpx.AsyncClient, store: Store, shopify: ShopifyAdmin
    ) -> None:
        await Customer.filter(id=store.poor.id).update(points_balance=600)
        used = await redeem(client, store.variable, body={"points": 100})
        kept = await redeem(client, store.five_off)
        await redeem(client, store.five_off, shopper=POOR)
        await Redemption.filter(public_id=used.json()["data"]["id"]).update(
            status=RedemptionStatus.USED
        )
        response = await proxy_get(client, "/my-rewards", as_shopper(RICH))
        assert response.status_code == 200
        assert [r["id"] for r in response.json()["data"]] == [kept.json()["data"]["id"]]
        assert response.json()["meta"] == {"total": 1}

    async def test_a_shopper_new_to_the_app_has_none(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        response = await proxy_get(client, "/my-rewards", as_shopper(STRANGER))
        assert response.status_code == 200 and response.json()["data"] == []

    async def test_a_visitor_is_asked_to_sign_in(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        response = await proxy_get(client, "/my-rewards", as_shopper(None))
        assert response.status_code == 401 and error_code(response) == "not_logged_in"

    async def test_unsigned_requests_never_reach_the_routes(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        before = await written(store.shop)
        for path in ("/rewards", "/my-rewards"):
            response = await client.get(f"/proxy{path}?shop={DOMAIN}&logged_in_customer_id={RICH}")
            assert response.status_code in {400, 401}
        response = await client.post(
            f"/proxy/rewards/{store.five_off.public_id}/redeem?shop={DOMAIN}"
            f"&logged_in_customer_id={RICH}",
            json={},
        )
        assert response.status_code in {400, 401}
        assert await written(store.shop) == before
