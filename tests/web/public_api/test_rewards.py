"""GET /api/v1/rewards, /rewards/{id} and /customers/{identifier}/reward-history over HTTP, on
SQLite and PostgreSQL: every field, paging, sorting, filters, 400s for bad parameters, 404s,
and nothing of another shop's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loyalty.clock import utcnow
from loyalty.models import Customer, Redemption, RedemptionStatus, RewardKind
from loyalty.rewards.catalogue import set_active
from loyalty.settings import Settings
from tests.factories import create_customer
from tests.loyalty.rewards.helpers import connected_shop, reward
from tests.web.public_api.helpers import Api, World, error_of
from tests.web.public_api.test_rate_limits import running


def attributes_of(response: Any) -> list[dict[str, Any]]:
    return [item["attributes"] for item in response.json()["data"]]


class TestRewards:
    async def test_a_reward_and_every_field(self, api: Api, world: World) -> None:
        response = await api.get(f"/rewards/{world.reward.public_id}")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["type"], data["id"]) == ("reward", world.reward.public_id)
        attributes = data["attributes"]
        assert attributes.pop("created_at").endswith("Z")
        assert attributes.pop("updated_at").endswith("Z")
        assert attributes == {
            "name": "$5 off",
            "description": "",
            "discount_type": "fixed_amount",
            "reward_type": "discount",
            "points_cost": 500,
            "discount_amount": 5.0,
            "is_variable": False,
            "min_points": None,
            "max_points": None,
            "value_per_point": None,
            "minimum_spend": None,
            "free_product_variant_id": None,
            "applies_to_collection_ids": [],
            "applies_to_product_ids": [],
            "combines_with": {
                "order_discounts": False,
                "product_discounts": False,
                "shipping_discounts": False,
            },
            "expiry_days": 30,
            "minimum_vip_tier_id": None,
            "max_redemptions": None,
            "is_active": True,
        }

    async def test_tier_variable_and_free_product_rewards(self, api: Api, world: World) -> None:
        tiered = await reward(
            world.shop,
            kind=RewardKind.PERCENTAGE,
            value=Decimal("15"),
            minimum_tier_id=world.gold.public_id,
            per_customer_limit=2,
            minimum_subtotal=Decimal("40.00"),
            collection_gids=("gid://shopify/Collection/7",),
            combines_with_shipping=True,
        )
        variable = await reward(
            world.shop,
            is_variable=True,
            min_points=100,
            max_points=900,
            value_per_point=Decimal("0.0125"),
        )
        free = await reward(
            world.shop,
            kind=RewardKind.FREE_PRODUCT,
            free_variant_gid="gid://shopify/ProductVariant/9",
            product_gids=("gid://shopify/Product/3",),
        )
        got = {}
        for row in (tiered, variable, free):
            response = await api.get(f"/rewards/{row.public_id}")
            got[row.public_id] = response.json()["data"]["attributes"]
        tier = got[tiered.public_id]
        assert (tier["reward_type"], tier["minimum_vip_tier_id"]) == ("tier", world.gold.public_id)
        assert (tier["discount_type"], tier["discount_amount"]) == ("percentage", 15.0)
        assert (tier["max_redemptions"], tier["minimum_spend"]) == (2, 40.0)
        assert tier["applies_to_collection_ids"] == ["gid://shopify/Collection/7"]
        assert tier["combines_with"]["shipping_discounts"] is True
        var = got[variable.public_id]
        assert var["is_variable"] is True and var["discount_amount"] is None
        assert (var["min_points"], var["max_points"], var["points_cost"]) == (100, 900, 100)
        assert var["value_per_point"] == 0.0125
        product = got[free.public_id]
        assert product["free_product_variant_id"] == "gid://shopify/ProductVariant/9"
        assert product["applies_to_product_ids"] == ["gid://shopify/Product/3"]
        assert product["discount_amount"] is None

    async def test_inactive_is_readable_unknown_and_other_shops_are_404(
        self, api: Api, world: World
    ) -> None:
        await set_active(shop_id=world.shop.id, reward_id=world.reward.public_id, active=False)
        response = await api.get(f"/rewards/{world.reward.public_id}")
        assert response.json()["data"]["attributes"]["is_active"] is False
        other = await reward(await connected_shop())
        for reward_id in ("reward_nope", other.public_id):
            response = await api.get(f"/rewards/{reward_id}")
            assert response.status_code == 404
            assert error_of(response)["code"] == "reward_not_found"

    async def test_list_pages_sorts_and_filters(self, api: Api, world: World) -> None:
        cheap = await reward(world.shop, name="Cheap", points_cost=100)
        dear = await reward(world.shop, name="Dear", points_cost=900)
        await set_active(shop_id=world.shop.id, reward_id=dear.public_id, active=False)
        await reward(await connected_shop(), name="Another shop's")

        newest = await api.get("/rewards")
        assert newest.status_code == 200
        assert [r["id"] for r in newest.json()["data"]] == [
            dear.public_id,
            cheap.public_id,
            world.reward.public_id,
        ]
        assert newest.json()["meta"] == {"total": 3, "page": 1, "per_page": 20, "total_pages": 1}
        by_cost = await api.get("/rewards", {"sort": "-points_cost", "page[size]": "2"})
        assert [a["points_cost"] for a in attributes_of(by_cost)] == [900, 500]
        assert by_cost.json()["meta"] == {"total": 3, "page": 1, "per_page": 2, "total_pages": 2}
        second = await api.get(
            "/rewards", {"sort": "-points_cost", "page[size]": "2", "page[number]": "2"}
        )
        assert [a["points_cost"] for a in attributes_of(second)] == [100]
        by_name = await api.get("/rewards", {"sort": "name"})
        assert [a["name"] for a in attributes_of(by_name)] == ["$5 off", "Cheap", "Dear"]
        active = await api.get("/rewards", {"filter[is_active]": "true"})
        assert {r["id"] for r in active.json()["data"]} == {cheap.public_id, world.reward.public_id}
        inactive = await api.get("/rewards", {"filter[is_active]": "false"})
        assert [r["id"] for r in inactive.json()["data"]] == [dear.public_id]

    async def test_bad_parameters_are_400(self, api: Api, world: World) -> None:
        for params, parameter in (
            ({"sort": "value"}, "sort"),
            ({"filter[is_active]": "yes"}, "filter[is_active]"),
            ({"filter[kind]": "percentage"}, "filter[kind]"),
            ({"page[size]": "101"}, "page[size]"),
        ):
            response = await api.get("/rewards", params)
            assert response.status_code == 400, params
            assert error_of(response)["source"] == {"parameter": parameter}


async def redeemed(api: Api, world: World, **body: Any) -> str:
    response = await api.post(
        f"/rewards/{world.reward.public_id}/purchase",
        {"customer_identifier": "bob@example.com", **body},
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]  # type: ignore[no-any-return]


class TestRewardHistory:
    async def test_lists_the_customers_entries(self, api: Api, world: World) -> None:
        first = await redeemed(api, world)
        second = await redeemed(api, world)
        response = await api.get("/customers/bob@example.com/reward-history")
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()["data"]] == [second, first]
        assert response.json()["meta"] == {"total": 2, "page": 1, "per_page": 20, "total_pages": 1}
        entry = response.json()["data"][0]
        assert entry["type"] == "reward_history_entry"
        assert entry["attributes"]["reward_id"] == world.reward.public_id
        assert entry["attributes"]["points_spent"] == 500
        by_id = await api.get("/customers/6789012346/reward-history", {"sort": "created_at"})
        assert [e["id"] for e in by_id.json()["data"]] == [first, second]
        empty = await api.get("/customers/ann@example.com/reward-history")
        assert empty.json() == {
            "data": [],
            "meta": {"total": 0, "page": 1, "per_page": 20, "total_pages": 0},
        }

    async def test_filters_by_status_and_shows_the_use(self, api: Api, world: World) -> None:
        used = await redeemed(api, world)
        active = await redeemed(api, world)
        now = utcnow()
        await Redemption.filter(public_id=used).update(
            status=RedemptionStatus.USED, used_at=now, used_order_id=5550001
        )
        response = await api.get(
            "/customers/bob@example.com/reward-history", {"filter[status]": "used"}
        )
        [entry] = response.json()["data"]
        assert entry["id"] == used and entry["attributes"]["status"] == "used"
        assert entry["attributes"]["order_id"] == "5550001"
        assert entry["attributes"]["discount_code_redeemed_at"].endswith("Z")
        response = await api.get(
            "/customers/bob@example.com/reward-history", {"filter[status]": "active"}
        )
        assert [e["id"] for e in response.json()["data"]] == [active]
        response = await api.get(
            "/customers/bob@example.com/reward-history", {"filter[status]": "expired"}
        )
        assert response.json()["data"] == []

    async def test_sorts_by_points_spent_and_pages(self, api: Api, world: World) -> None:
        variable = await reward(
            world.shop,
            is_variable=True,
            min_points=100,
            max_points=1000,
            value_per_point=Decimal("0.01"),
        )
        for points in (200, 100, 300):
            response = await api.post(
                f"/rewards/{variable.public_id}/purchase",
                {"customer_identifier": "bob@example.com", "points": points},
            )
            assert response.status_code == 201
        path = "/customers/bob@example.com/reward-history"
        response = await api.get(path, {"sort": "-points_spent", "page[size]": "2"})
        assert [a["points_spent"] for a in attributes_of(response)] == [300, 200]
        response = await api.get(
            path, {"sort": "-points_spent", "page[size]": "2", "page[number]": "2"}
        )
        assert [a["points_spent"] for a in attributes_of(response)] == [100]
        assert response.json()["meta"]["total_pages"] == 2

    async def test_unknown_or_other_shops_customer_is_404_bad_parameters_400(
        self, api: Api, world: World
    ) -> None:
        await redeemed(api, world)
        elsewhere = await connected_shop()
        await create_customer(elsewhere, shopify_customer_id=31337, email="eve@example.com")
        for who in ("nobody@example.com", "31337", "eve@example.com"):
            response = await api.get(f"/customers/{who}/reward-history")
            assert response.status_code == 404, who
            assert error_of(response)["code"] == "customer_not_found"
        for params, parameter in (
            ({"filter[status]": "cancelled!"}, "filter[status]"),
            ({"sort": "points"}, "sort"),
            ({"page[number]": "0"}, "page[number]"),
        ):
            response = await api.get("/customers/bob@example.com/reward-history", params)
            assert response.status_code == 400, params
            assert error_of(response)["source"] == {"parameter": parameter}


class TestRateLimits:
    async def test_the_reward_routes_share_the_keys_general_bucket(
        self, settings: Settings, world: World
    ) -> None:
        """As the other routes: a GET and a purchase take the burst of 2; the next purchase is
        429 `rate_limited` with Retry-After, before anything is written."""
        body = {"customer_identifier": "bob@example.com"}
        path = f"/rewards/{world.reward.public_id}/purchase"
        limits = settings.with_overrides(api_rate_limit=0.1, api_rate_burst=2)
        async with running(limits) as (api, _):
            assert (await api.get("/rewards", key=world.key)).status_code == 200
            assert (await api.post(path, body, key=world.key)).status_code == 201
            refused = await api.post(path, body, key=world.key)
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert error_of(refused)["code"] == "rate_limited"
        assert await Redemption.all().count() == 1
        assert (await Customer.get(id=world.bob.id)).points_balance == 700
