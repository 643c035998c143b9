"""`/app/api/rewards` and the redemptions the admin reads and cancels: the catalogue's own
validation answers every bad form (a 422 pointing at the field, nothing written), a reward ever
redeemed cannot be deleted, another shop's ids are 404, and a cancel returns the points and
owes the code's deactivation. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from loyalty.jobs import JobName
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
from loyalty.rewards.redeem import redeem
from tests.factories import create_tier
from tests.loyalty.rewards.helpers import connected_shop, customer_with_lots, reward
from tests.web.admin.test_admin_api import Notified, error_of
from tests.web.admin_client import Admin
from web.state import Services

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

FIVE_OFF: dict[str, Any] = {
    "name": "$5 off",
    "kind": "fixed_amount",
    "points_cost": 500,
    "value": "5.00",
    "code_validity_days": 30,
}


@pytest.fixture
async def shop(db: str) -> Shop:
    """The shop the ID tokens name, connected to Shopify (redeeming needs it)."""
    return await connected_shop(domain="demo.myshopify.com")


@pytest.fixture(autouse=True)
def queued(services: Services, monkeypatch: pytest.MonkeyPatch) -> Notified:
    """The jobs handlers hand to the dispatcher, recorded and not run: run in-process they
    would call Shopify (the code job's own tests cover it, at HTTP against the stand-in)."""
    record = Notified()

    def notify(shop_id: int, jobs: list[str]) -> None:
        record.calls.append((shop_id, list(jobs)))

    monkeypatch.setattr(services.dispatcher, "notify", notify)
    return record


async def written() -> dict[str, int]:
    """Rows a reward or a cancel writes: proves a refused request wrote nothing."""
    return {
        "rewards": await Reward.all().count(),
        "redemptions": await Redemption.all().count(),
        "intents": await OutboxIntent.all().count(),
        "activities": await Activity.all().count(),
    }


async def redeemed(shop: Shop, customer: Customer, reward_id: str) -> str:
    done = await redeem(
        shop_id=shop.id, identifier=str(customer.shopify_customer_id), reward_id=reward_id
    )
    return done.redemption.id


class TestCatalogue:
    async def test_create_reads_back_every_field(self, admin: Admin, shop: Shop) -> None:
        """201 with the reward as saved; the storefront's metafield is owed in the same
        transaction."""
        tier = await create_tier(shop, name="Gold")
        body = {
            **FIVE_OFF,
            "description": "Any order",
            "minimum_subtotal": "20",
            "collection_gids": "gid://shopify/Collection/1\ngid://shopify/Collection/2",
            "combines_with_shipping": True,
            "minimum_tier_id": tier.public_id,
            "per_customer_limit": 2,
            "is_active": False,
        }
        response = await admin.post("/rewards", body)
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["type"] == "reward" and data["id"].startswith("reward_")
        attrs = data["attributes"]
        assert attrs["value"] == "5.00" and attrs["minimum_subtotal"] == "20.00"
        assert attrs["collection_gids"] == [
            "gid://shopify/Collection/1",
            "gid://shopify/Collection/2",
        ]
        assert attrs["minimum_tier_id"] == tier.public_id
        assert (attrs["per_customer_limit"], attrs["is_active"]) == (2, False)
        assert (attrs["redemptions"], attrs["deletable"]) == (0, True)
        saved = await Reward.get(public_id=data["id"])
        assert (saved.shop_id, saved.minimum_tier_id, saved.combines_with_shipping) == (
            shop.id,
            tier.id,
            True,
        )
        intents = await OutboxIntent.filter(shop_id=shop.id).values_list("job", flat=True)
        assert list(intents) == [str(JobName.SYNC_SHOP_METAFIELDS)]

    async def test_a_variable_reward_costs_its_minimum(self, admin: Admin, shop: Shop) -> None:
        """The form's hidden fixed cost is not sent: the cost is the range's low end."""
        response = await admin.post(
            "/rewards",
            {
                "name": "Store credit",
                "kind": "store_credit",
                "is_variable": True,
                "min_points": 100,
                "max_points": 2000,
                "value_per_point": "0.01",
            },
        )
        assert response.status_code == 201, response.text
        attrs = response.json()["data"]["attributes"]
        assert (attrs["points_cost"], attrs["min_points"], attrs["max_points"]) == (100, 100, 2000)
        assert (attrs["value_per_point"], attrs["value"]) == ("0.0100", "0.00")

    @pytest.mark.parametrize(
        ("change", "pointer", "code", "detail"),
        [
            ({"name": "  "}, "/name", "validation_failed", "name must be 1 to 255 characters"),
            (
                {"points_cost": 0},
                "/points_cost",
                "validation_failed",
                "points_cost must be between",
            ),
            ({"points_cost": None}, "/points_cost", "validation_failed", "points_cost must be"),
            ({"value": "5.001"}, "/value", "validation_failed", "more than 2 decimal places"),
            ({"value": ""}, "/value", "validation_failed", "value must be greater than 0"),
            ({"value": "five"}, "/value", "invalid_field", "value must be a number"),
            ({"value": True}, "/value", "invalid_field", "value must be a number"),
            ({"kind": "percentage", "value": "150"}, "/value", "validation_failed", "at most 100"),
            ({"kind": "free_product"}, "/free_variant_gid", "validation_failed", "ProductVariant"),
            ({"kind": "coupon"}, "/kind", "invalid_field", "kind must be one of"),
            ({"points_cost": "500"}, "/points_cost", "invalid_field", "must be an integer"),
            ({"is_variable": True}, "/min_points", "validation_failed", "needs min_points"),
            (
                {"kind": "percentage", "is_variable": True},
                "/is_variable",
                "validation_failed",
                "only fixed_amount and store_credit",
            ),
            ({"product_gids": ["nope"]}, "/product_gids", "validation_failed", "not a Product gid"),
            (
                {
                    "product_gids": "gid://shopify/Product/1",
                    "collection_gids": ["gid://shopify/Collection/1"],
                },
                "/product_gids",
                "validation_failed",
                "not both",
            ),
            ({"code_validity_days": 0}, "/code_validity_days", "validation_failed", "between 1"),
            ({"per_customer_limit": -1}, "/per_customer_limit", "validation_failed", "between 1"),
            (
                {"minimum_subtotal": "-1"},
                "/minimum_subtotal",
                "validation_failed",
                "greater than 0",
            ),
            ({"minimum_subtotal": "1e20"}, "/minimum_subtotal", "validation_failed", "too large"),
            ({"value": "1e30"}, "/value", "validation_failed", "value is too large"),
            (
                {"product_gids": ["gid://shopify/Product/" + "1" * 100]},
                "/product_gids",
                "validation_failed",
                "not a Product gid",
            ),
        ],
    )
    async def test_a_bad_field_is_a_422_at_that_field_and_writes_nothing(
        self,
        admin: Admin,
        shop: Shop,
        change: dict[str, Any],
        pointer: str,
        code: str,
        detail: str,
    ) -> None:
        """The catalogue's messages (one home), each pointing at its field."""
        before = await written()
        response = await admin.post("/rewards", {**FIVE_OFF, **change})
        assert response.status_code == 422, response.text
        error = error_of(response)
        assert (error["code"], error["source"]["pointer"]) == (code, pointer)
        assert detail in error["detail"]
        assert await written() == before

    async def test_an_unknown_or_foreign_tier_is_404(
        self, admin: Admin, shop: Shop, other_shop: Shop
    ) -> None:
        foreign = await create_tier(other_shop)
        before = await written()
        for tier_id in ("tier_nothing", foreign.public_id):
            response = await admin.post("/rewards", {**FIVE_OFF, "minimum_tier_id": tier_id})
            assert response.status_code == 404
            assert error_of(response)["code"] == "vip_tier_not_found"
        assert await written() == before

    async def test_list_is_the_shops_cheapest_first_with_redemption_counts(
        self, admin: Admin, shop: Shop, other_shop: Shop
    ) -> None:
        dear = await reward(shop, name="Dear", points_cost=900)
        cheap = await reward(shop, name="Cheap", points_cost=100)
        await reward(other_shop, name="Not ours")
        customer = await customer_with_lots(shop, (1000, None))
        await redeemed(shop, customer, cheap.public_id)
        response = await admin.get("/rewards")
        assert response.status_code == 200
        data = response.json()["data"]
        assert [r["attributes"]["name"] for r in data] == ["Cheap", "Dear"]
        assert [r["attributes"]["redemptions"] for r in data] == [1, 0]
        assert [r["attributes"]["deletable"] for r in data] == [False, True]
        one = await admin.get(f"/rewards/{dear.public_id}")
        assert one.json()["data"]["attributes"]["points_cost"] == 900

    async def test_save_replaces_the_fields(self, admin: Admin, shop: Shop) -> None:
        existing = await reward(shop)
        response = await admin.request(
            "PUT",
            f"/rewards/{existing.public_id}",
            {"name": "10% off", "kind": "percentage", "points_cost": 800, "value": 10},
        )
        assert response.status_code == 200, response.text
        await existing.refresh_from_db()
        assert (existing.name, existing.kind, existing.points_cost) == (
            "10% off",
            RewardKind.PERCENTAGE,
            800,
        )
        assert (existing.value, existing.code_validity_days) == (Decimal("10.00"), None)
        bad = await admin.request(
            "PUT", f"/rewards/{existing.public_id}", {**FIVE_OFF, "value": "0"}
        )
        assert bad.status_code == 422
        await existing.refresh_from_db()
        assert existing.name == "10% off"

    async def test_deactivate_then_activate(self, admin: Admin, shop: Shop) -> None:
        existing = await reward(shop)
        off = await admin.post(f"/rewards/{existing.public_id}/deactivate")
        assert off.status_code == 200 and off.json()["data"]["attributes"]["is_active"] is False
        await existing.refresh_from_db()
        assert existing.is_active is False
        on = await admin.post(f"/rewards/{existing.public_id}/activate")
        assert on.json()["data"]["attributes"]["is_active"] is True

    async def test_delete_only_when_never_redeemed(self, admin: Admin, shop: Shop) -> None:
        """Never redeemed: gone (204). Redeemed once, even cancelled: 409 reward_in_use, kept."""
        unused = await reward(shop, name="Unused")
        used = await reward(shop, name="Used", points_cost=100)
        customer = await customer_with_lots(shop, (1000, None))
        redemption_id = await redeemed(shop, customer, used.public_id)
        await admin.post(f"/redemptions/{redemption_id}/cancel", {})

        response = await admin.delete(f"/rewards/{unused.public_id}")
        assert response.status_code == 204
        assert not await Reward.filter(id=unused.id).exists()

        before = await written()
        refused = await admin.delete(f"/rewards/{used.public_id}")
        assert refused.status_code == 409
        error = error_of(refused)
        assert error["code"] == "reward_in_use" and "deactivate it instead" in error["detail"]
        assert await written() == before

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("GET", "", None),
            ("PUT", "", FIVE_OFF),
            ("DELETE", "", None),
            ("POST", "/activate", None),
            ("POST", "/deactivate", None),
        ],
    )
    async def test_another_shops_reward_is_404(
        self,
        admin: Admin,
        shop: Shop,
        other_shop: Shop,
        method: str,
        suffix: str,
        body: dict[str, Any] | None,
    ) -> None:
        foreign = await reward(other_shop, is_active=False)
        before = await written()
        response = await admin.request(method, f"/rewards/{foreign.public_id}{suffix}", body)
        assert response.status_code == 404
        assert error_of(response)["code"] == "reward_not_found"
        assert await written() == before
        await foreign.refresh_from_db()
        assert (foreign.name, foreign.is_active) == ("$5 off", False)

    async def test_an_id_longer_than_any_is_404(self, admin: Admin, shop: Shop) -> None:
        """Screened before the query (the column is 32 characters wide)."""
        response = await admin.get("/rewards/" + "r" * 300)
        assert response.status_code == 404 and error_of(response)["code"] == "reward_not_found"
        cancel = await admin.post("/redemptions/" + "c" * 300 + "/cancel", {})
        assert cancel.status_code == 404
        assert error_of(cancel)["code"] == "redemption_not_found"


class TestRedemptions:
    async def test_a_customers_redemptions_filtered_and_paged(
        self, admin: Admin, shop: Shop
    ) -> None:
        five = await reward(shop, points_cost=100)
        customer = await customer_with_lots(shop, (1000, None))
        first = await redeemed(shop, customer, five.public_id)
        second = await redeemed(shop, customer, five.public_id)
        await admin.post(f"/redemptions/{first}/cancel", {})
        path = f"/customers/{customer.shopify_customer_id}/redemptions"

        everything = (await admin.get(path)).json()
        assert [r["id"] for r in everything["data"]] == [second, first]
        assert everything["meta"]["total"] == 2
        row = everything["data"][0]["attributes"]
        assert row["reward_name"] == "$5 off" and row["discount_code"].startswith("LOYAL-")
        assert (row["status"], row["shopify_status"], row["cancellable"]) == (
            "active",
            "pending",
            True,
        )
        active = (await admin.get(path + "?filter[status]=cancelled")).json()
        assert [r["id"] for r in active["data"]] == [first]
        assert active["data"][0]["attributes"]["is_refunded"] is True
        paged = (await admin.get(path + "?page[size]=1&page[number]=2")).json()
        assert [r["id"] for r in paged["data"]] == [first]

    async def test_bad_filters_and_unknown_customers(
        self, admin: Admin, shop: Shop, other_shop: Shop
    ) -> None:
        customer = await customer_with_lots(shop, (10, None))
        foreign = await customer_with_lots(other_shop, (10, None))
        bad = await admin.get(
            f"/customers/{customer.shopify_customer_id}/redemptions?filter[status]=gone"
        )
        assert bad.status_code == 400 and error_of(bad)["code"] == "invalid_parameter"
        for who in (str(foreign.shopify_customer_id), customer.email, "123"):
            response = await admin.get(f"/customers/{who}/redemptions")
            assert response.status_code == 404, who
            assert error_of(response)["code"] == "customer_not_found"

    async def test_cancel_returns_the_points_and_owes_the_deactivation(
        self, admin: Admin, shop: Shop, queued: Notified
    ) -> None:
        """Balance back at once, the status cancelled with the staff's reason, the code's
        deactivation owed to the job (queued after the commit); a second cancel is a 409."""
        five = await reward(shop)
        customer = await customer_with_lots(shop, (700, None))
        redemption_id = await redeemed(shop, customer, five.public_id)
        assert (await Customer.get(id=customer.id)).points_balance == 200

        response = await admin.post(
            f"/redemptions/{redemption_id}/cancel", {"reason": "Redeemed by mistake"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["meta"] == {"points_returned": 500}
        attrs = body["data"]["attributes"]
        assert (attrs["status"], attrs["cancel_reason"], attrs["cancellable"]) == (
            "cancelled",
            "Redeemed by mistake",
            False,
        )
        assert (await Customer.get(id=customer.id)).points_balance == 700
        assert str(JobName.SYNC_REWARD_CODES) in queued.jobs
        payloads = await OutboxIntent.filter(job=str(JobName.SYNC_REWARD_CODES)).values_list(
            "payload", flat=True
        )
        assert {"redemption_id": redemption_id, "action": "deactivate"} in list(payloads)
        row = await Activity.get(kind="redemption_cancelled")
        assert (str(row.actor_type), row.actor_id) == ("staff", "42")

        before = await written()
        again = await admin.post(f"/redemptions/{redemption_id}/cancel", {})
        assert again.status_code == 409
        assert error_of(again)["code"] == "redemption_not_cancellable"
        assert await written() == before
        assert (await Customer.get(id=customer.id)).points_balance == 700

    async def test_a_used_code_is_not_cancelled(self, admin: Admin, shop: Shop) -> None:
        five = await reward(shop)
        customer = await customer_with_lots(shop, (500, None))
        redemption_id = await redeemed(shop, customer, five.public_id)
        await Redemption.filter(public_id=redemption_id).update(status=RedemptionStatus.USED)
        before = await written()
        response = await admin.post(f"/redemptions/{redemption_id}/cancel", {})
        assert response.status_code == 409
        assert await written() == before
        assert (await Customer.get(id=customer.id)).points_balance == 0

    async def test_bad_cancels_write_nothing(
        self, admin: Admin, shop: Shop, other_shop: Shop
    ) -> None:
        five = await reward(shop)
        customer = await customer_with_lots(shop, (500, None))
        redemption_id = await redeemed(shop, customer, five.public_id)
        theirs = await reward(other_shop)
        foreign_customer = await customer_with_lots(other_shop, (500, None))
        await connected_other(other_shop)
        foreign_id = await redeemed(other_shop, foreign_customer, theirs.public_id)
        before = await written()

        long = await admin.post(f"/redemptions/{redemption_id}/cancel", {"reason": "x" * 256})
        assert long.status_code == 422 and error_of(long)["source"]["pointer"] == "/reason"
        empty = await admin.request("POST", f"/redemptions/{redemption_id}/cancel")
        assert empty.status_code == 400 and error_of(empty)["code"] == "invalid_json"
        for unknown in (foreign_id, "cr_nothing"):
            response = await admin.post(f"/redemptions/{unknown}/cancel", {})
            assert response.status_code == 404
            assert error_of(response)["code"] == "redemption_not_found"
        assert await written() == before
        assert await Redemption.filter(status=RedemptionStatus.ACTIVE).count() == 2


async def connected_other(shop: Shop) -> None:
    """Give `shop` the connected shop's tokens (redeeming there needs them)."""
    template = await connected_shop(domain="template.myshopify.com")
    await Shop.filter(id=shop.id).update(
        access_token_enc=template.access_token_enc,
        access_token_expires_at=template.access_token_expires_at,
        installed_at=template.installed_at,
    )


class TestDashboard:
    async def test_redemptions_in_the_window_leave_out_cancelled_ones(
        self, admin: Admin, shop: Shop, client: httpx.AsyncClient
    ) -> None:
        five = await reward(shop, points_cost=100)
        customer = await customer_with_lots(shop, (1000, None))
        await redeemed(shop, customer, five.public_id)
        await redeemed(shop, customer, five.public_id)
        cancelled = await redeemed(shop, customer, five.public_id)
        await admin.post(f"/redemptions/{cancelled}/cancel", {})
        attrs = (await admin.get("/dashboard")).json()["data"]["attributes"]
        assert (attrs["redemptions"], attrs["points_redeemed_in_window"]) == (2, 200)
        assert attrs["points_redeemed"] == 200
