"""POST /api/v1/rewards/{id}/purchase over HTTP, on SQLite and PostgreSQL: the 201
`reward_history_entry` and every field of it, each refusal's status and stable code with
nothing written (every table a redemption touches counted before and after), idempotent
retries, and 50 racing purchases by one customer whose balance covers one."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from loyalty.clock import utcnow
from loyalty.models import (
    Activity,
    ApiKey,
    Customer,
    EarningHistoryEntry,
    OutboxIntent,
    Redemption,
    RewardKind,
    Shop,
)
from loyalty.rewards.catalogue import set_active
from loyalty.rewards.redeem import CODE_PREFIX
from loyalty.settings import Settings
from tests.factories import create_customer
from tests.loyalty.rewards.helpers import connected_shop, customer_with_lots, reward
from tests.security.clients import without_rate_limits
from tests.web.public_api.helpers import Api, World, error_of

BOB = {"customer_identifier": "bob@example.com"}  # Gold, 1200 points
NOBODY = {"customer_identifier": "nobody@example.com"}  # no such customer


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The rate limits out of the way: 50 racing requests exceed a key's burst (their 429s
    are test_rate_limits')."""
    return without_rate_limits(settings)


def purchase_path(reward_id: str) -> str:
    return f"/rewards/{reward_id}/purchase"


async def written() -> tuple[Any, ...]:
    """Everything a purchase writes, across the database."""
    return (
        await Redemption.all().count(),
        await Activity.all().count(),
        await OutboxIntent.all().count(),
        sorted(await Customer.all().values_list("points_balance", "redeemed_points")),
        sorted(await EarningHistoryEntry.all().values_list("id", "points_remaining")),
    )


async def refused(api: Api, path: str, body: Any, status: int, code: str, **kw: Any) -> dict:
    """Send the purchase; it is refused with `status`/`code` and writes nothing."""
    before = await written()
    response = await api.post(path, body, **kw)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code
    assert await written() == before
    return error


class TestPurchase:
    async def test_201_with_the_reward_history_entry(self, api: Api, world: World) -> None:
        """Every field; the points are spent; the code is ours and pending in Shopify."""
        response = await api.post(purchase_path(world.reward.public_id), BOB)
        assert response.status_code == 201, response.text
        assert "Idempotent-Replayed" not in response.headers
        assert int(response.headers["RateLimit-Limit"]) > 0  # the general bucket, as elsewhere
        data = response.json()["data"]
        assert data["type"] == "reward_history_entry" and data["id"].startswith("cr_")
        attributes = data["attributes"]
        code = attributes.pop("discount_code")
        assert code.startswith(CODE_PREFIX)
        times = {k: attributes.pop(k) for k in ("redeemed_at", "created_at", "updated_at")}
        expires_at = attributes.pop("expires_at")
        assert attributes == {
            "reward_id": world.reward.public_id,
            "reward_name": "$5 off",
            "reward_discount_type": "fixed_amount",
            "shopify_customer_id": "6789012346",
            "points_spent": 500,
            "discount_amount": 5.0,
            "status": "active",
            "code_status": "pending",
            "is_refunded": False,
            "cancel_reason": None,
            "discount_code_redeemed_at": None,
            "order_id": None,
        }
        assert all(t.endswith("Z") and len(t) == 24 for t in (*times.values(), expires_at))
        redemption = await Redemption.get(public_id=data["id"])
        assert redemption.code == code and redemption.points_spent == 500
        assert (redemption.expires_at - redemption.redeemed_at).days == 30
        bob = await Customer.get(id=world.bob.id)
        assert (bob.points_balance, bob.redeemed_points) == (700, 500)
        activity = await Activity.get(customer_id=bob.id, kind="reward_redeemed")
        assert activity.actor_type == "api_key" and activity.actor_id
        assert await OutboxIntent.filter(customer_id=bob.id, job="sync_reward_codes").exists()

    async def test_by_shopify_id_a_variable_reward_and_store_credit(
        self, api: Api, world: World
    ) -> None:
        """`points` buys a variable reward's amount; store credit has no code."""
        variable = await reward(
            world.shop,
            name="Points off",
            is_variable=True,
            min_points=100,
            max_points=1000,
            value_per_point=Decimal("0.01"),
        )
        credit = await reward(
            world.shop, name="Credit", kind=RewardKind.STORE_CREDIT, code_validity_days=None
        )
        body = {"customer_identifier": "6789012346", "points": 300}
        first = await api.post(purchase_path(variable.public_id), body)
        assert first.status_code == 201, first.text
        attributes = first.json()["data"]["attributes"]
        assert (attributes["points_spent"], attributes["discount_amount"]) == (300, 3.0)
        second = await api.post(purchase_path(credit.public_id), BOB)
        assert second.status_code == 201, second.text
        attributes = second.json()["data"]["attributes"]
        assert attributes["reward_discount_type"] == "store_credit"
        assert attributes["discount_code"] is None and attributes["expires_at"] is None
        assert (await Customer.get(id=world.bob.id)).points_balance == 1200 - 300 - 500


class TestRefusals:
    @pytest.mark.parametrize(
        ("body", "code", "pointer"),
        [
            ({}, "missing_field", "/customer_identifier"),
            ({"customer_identifier": ""}, "invalid_field", "/customer_identifier"),
            ({"customer_identifier": 6789012346}, "invalid_field", "/customer_identifier"),
            ({**BOB, "points": "500"}, "invalid_field", "/points"),
            ({**BOB, "points": 0}, "invalid_field", "/points"),
            ({**BOB, "points": 1.5}, "invalid_field", "/points"),
            ({**BOB, "idempotency_key": "has space"}, "invalid_field", "/idempotency_key"),
        ],
    )
    async def test_400_for_a_bad_body(
        self, api: Api, world: World, body: dict[str, Any], code: str, pointer: str
    ) -> None:
        error = await refused(api, purchase_path(world.reward.public_id), body, 400, code)
        assert error["source"]["pointer"] == pointer

    async def test_400_for_json_that_is_not(self, api: Api, world: World) -> None:
        before = await written()
        response = await api.client.post(
            f"/api/v1{purchase_path(world.reward.public_id)}",
            content=b'{"customer_identifier": ',
            headers={"Authorization": world.key, "Content-Type": "application/json"},
        )
        assert response.status_code == 400 and error_of(response)["code"] == "invalid_json"
        assert await written() == before

    async def test_403_excluded_and_tier_not_allowed(self, api: Api, world: World) -> None:
        await Customer.filter(id=world.bob.id).update(is_excluded=True)
        path = purchase_path(world.reward.public_id)
        await refused(api, path, BOB, 403, "customer_excluded")
        gold_only = await reward(world.shop, minimum_tier_id=world.gold.public_id)
        await Customer.filter(id=world.ann.id).update(points_balance=900)  # Bronze
        ann = {"customer_identifier": "ann@example.com"}
        await refused(api, purchase_path(gold_only.public_id), ann, 403, "tier_not_allowed")

    async def test_404_unknown_customer_unknown_inactive_or_other_shops_reward(
        self, api: Api, world: World
    ) -> None:
        path = purchase_path(world.reward.public_id)
        nobody = {"customer_identifier": "nobody@example.com"}
        await refused(api, path, nobody, 404, "customer_not_found")
        await refused(api, purchase_path("reward_nope"), BOB, 404, "reward_not_found")
        other = await reward(await connected_shop())
        await refused(api, purchase_path(other.public_id), BOB, 404, "reward_not_found")
        await set_active(shop_id=world.shop.id, reward_id=world.reward.public_id, active=False)
        await refused(api, path, BOB, 404, "reward_not_found")

    async def test_409_per_customer_limit(self, api: Api, world: World) -> None:
        once = await reward(world.shop, per_customer_limit=1)
        assert (await api.post(purchase_path(once.public_id), BOB)).status_code == 201
        await refused(api, purchase_path(once.public_id), BOB, 409, "redemption_limit_reached")

    async def test_422_insufficient_points_and_invalid_points(self, api: Api, world: World) -> None:
        ann = {"customer_identifier": "6789012345"}  # 0 points
        error = await refused(
            api, purchase_path(world.reward.public_id), ann, 422, "insufficient_points"
        )
        assert error["meta"] == {"points_required": 500, "points_balance": 0}
        body = {**BOB, "points": 400}  # the reward costs 500
        await refused(api, purchase_path(world.reward.public_id), body, 422, "invalid_points")

    @pytest.mark.parametrize("field", ["reauth_required_at", "access_token_enc"])
    async def test_503_without_a_usable_shopify_connection(
        self, api: Api, world: World, field: str
    ) -> None:
        """The merchant must open the app again: nothing is deducted."""
        await Shop.filter(id=world.shop.id).update(
            **{field: utcnow() if field == "reauth_required_at" else None}
        )
        error = await refused(
            api, purchase_path(world.reward.public_id), BOB, 503, "shopify_unavailable"
        )
        assert "no points were spent" in error["detail"]


class TestKeyRevokedAfterUse:
    """The purchase authenticates from the process's cache of verified keys, as the award
    does, and re-verifies the key in the read that locks the customer: a key revoked (or its
    shop uninstalled) after a purchase is refused at once, and nothing is written, whether the
    customer is found (the batch's read), unknown (the single path's check) or the request is
    a replay of an earlier purchase."""

    @pytest.mark.parametrize("body", [BOB, NOBODY], ids=["found", "unknown"])
    async def test_a_key_revoked_after_use_is_refused_at_once(
        self, api: Api, world: World, body: dict[str, Any]
    ) -> None:
        path = purchase_path(world.reward.public_id)
        first = await api.post(path, NOBODY)
        assert first.status_code == 404  # the key is now cached as verified; nothing written
        await ApiKey.filter(shop_id=world.shop.id).update(revoked_at=utcnow())
        await refused(api, path, body, 401, "api_key_revoked")

    async def test_a_replay_with_a_key_revoked_since_is_refused(
        self, api: Api, world: World
    ) -> None:
        path, headers = purchase_path(world.reward.public_id), {"Idempotency-Key": "buy-r"}
        assert (await api.post(path, BOB, headers=headers)).status_code == 201
        await ApiKey.filter(shop_id=world.shop.id).update(revoked_at=utcnow())
        await refused(api, path, BOB, 401, "api_key_revoked", headers=headers)

    async def test_a_shop_uninstalled_after_use_is_refused_at_once(
        self, api: Api, world: World
    ) -> None:
        path = purchase_path(world.reward.public_id)
        assert (await api.post(path, NOBODY)).status_code == 404  # the key is now cached
        await Shop.filter(id=world.shop.id).update(uninstalled_at=utcnow())
        await refused(api, path, BOB, 401, "shop_uninstalled")


class TestIdempotency:
    async def test_same_key_same_body_replays_once(self, api: Api, world: World) -> None:
        """200, `Idempotent-Replayed: true`, the same entry; the points spent once."""
        path, headers = purchase_path(world.reward.public_id), {"Idempotency-Key": "buy-1"}
        first = await api.post(path, BOB, headers=headers)
        assert first.status_code == 201, first.text
        again = await api.post(path, {"customer_identifier": "6789012346"}, headers=headers)
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        in_body = await api.post(path, {**BOB, "idempotency_key": "buy-1"})
        assert in_body.status_code == 200 and in_body.json() == first.json()
        assert (await Customer.get(id=world.bob.id)).points_balance == 700
        assert await Redemption.all().count() == 1

    async def test_same_key_different_body_is_409_as_on_actions(
        self, api: Api, world: World
    ) -> None:
        path, headers = purchase_path(world.reward.public_id), {"Idempotency-Key": "buy-2"}
        assert (await api.post(path, BOB, headers=headers)).status_code == 201
        await Customer.filter(id=world.ann.id).update(points_balance=900)
        ann = {"customer_identifier": "ann@example.com"}
        await refused(api, path, ann, 409, "idempotency_key_reused", headers=headers)
        await refused(
            api, path, {**BOB, "points": 600}, 409, "idempotency_key_reused", headers=headers
        )
        other = await reward(world.shop, name="Other")
        other_path = purchase_path(other.public_id)
        await refused(api, other_path, BOB, 409, "idempotency_key_reused", headers=headers)
        mismatch = {**BOB, "idempotency_key": "buy-3"}
        await refused(api, path, mismatch, 400, "idempotency_key_mismatch", headers=headers)

    async def test_a_refused_purchase_keeps_no_key(self, api: Api, world: World) -> None:
        """A refusal stores nothing: the same key works once the balance covers it."""
        path, headers = purchase_path(world.reward.public_id), {"Idempotency-Key": "buy-4"}
        ann = {"customer_identifier": "ann@example.com"}
        await refused(api, path, ann, 422, "insufficient_points", headers=headers)
        await Customer.filter(id=world.ann.id).update(points_balance=500)
        assert (await api.post(path, ann, headers=headers)).status_code == 201


class TestRace:
    async def test_50_purchases_one_balance_one_201_and_49_422(
        self, api: Api, world: World
    ) -> None:
        """Concurrent requests by one customer whose balance covers exactly one reward."""
        customer = await customer_with_lots(world.shop, (500, None), shopify_customer_id=4242)
        body = {"customer_identifier": "4242"}
        path = purchase_path(world.reward.public_id)

        responses = await asyncio.gather(*(api.post(path, body) for _ in range(50)))

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [422] * 49, statuses
        assert {error_of(r)["code"] for r in responses if r.status_code == 422} == {
            "insufficient_points"
        }
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.redeemed_points) == (0, 500)
        assert await Redemption.filter(customer_id=customer.id).count() == 1
        assert await Activity.filter(customer_id=customer.id, kind="reward_redeemed").count() == 1

    async def test_another_customer_is_untouched(self, api: Api, world: World) -> None:
        """A purchase by Bob moves only Bob's balance."""
        other = await create_customer(world.shop, shopify_customer_id=777, points_balance=800)
        assert (await api.post(purchase_path(world.reward.public_id), BOB)).status_code == 201
        assert (await Customer.get(id=other.id)).points_balance == 800
