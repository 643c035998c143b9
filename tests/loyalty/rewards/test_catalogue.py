"""The rewards catalogue: one validation for every surface (each refusal names its field and
writes nothing), scoped lookups, and deletion only while never redeemed."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from loyalty.errors import RewardNotFoundError, ValidationError, VipTierNotFoundError
from loyalty.jobs import JobName
from loyalty.models import OutboxIntent, Reward, RewardKind
from loyalty.rewards.catalogue import (
    RewardFields,
    RewardInUseError,
    create_reward,
    delete_reward,
    get_reward,
    list_rewards,
    update_reward,
    validate,
)
from loyalty.rewards.eligibility import offers_for
from loyalty.rewards.redeem import redeem
from tests.factories import create_shop, create_tier
from tests.loyalty.rewards.helpers import connected_shop, customer_with_lots, reward

FIVE_OFF = RewardFields(
    name="$5 off", kind=RewardKind.FIXED_AMOUNT, points_cost=500, value=Decimal("5.00")
)
VARIABLE = replace(
    FIVE_OFF, is_variable=True, min_points=100, max_points=900, value_per_point=Decimal("0.01")
)


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"name": "  "}, "/name"),
        ({"points_cost": 0}, "/points_cost"),
        ({"value": Decimal(0)}, "/value"),
        ({"value": Decimal("1.001")}, "/value"),
        ({"kind": RewardKind.PERCENTAGE, "value": Decimal(101)}, "/value"),
        ({"kind": RewardKind.FREE_PRODUCT}, "/free_variant_gid"),
        (
            {"kind": RewardKind.FREE_PRODUCT, "free_variant_gid": "gid://shopify/ProductVariant/1"},
            "/collection_gids",
        ),
        (
            {"kind": RewardKind.FREE_PRODUCT, "free_variant_gid": "gid://shopify/Product/1"},
            "/free_variant_gid",
        ),
        ({"kind": RewardKind.PERCENTAGE, "is_variable": True}, "/is_variable"),
        ({"is_variable": True}, "/min_points"),
        ({"minimum_subtotal": Decimal(0)}, "/minimum_subtotal"),
        ({"minimum_subtotal": Decimal("1e20")}, "/minimum_subtotal"),
        ({"value": Decimal("1e30")}, "/value"),
        ({"minimum_subtotal": Decimal("10.001")}, "/minimum_subtotal"),
        (
            {
                "kind": RewardKind.FREE_PRODUCT,
                "free_variant_gid": "gid://shopify/ProductVariant/" + "1" * 120,
                "product_gids": ("gid://shopify/Product/1",),
            },
            "/free_variant_gid",
        ),
        (
            {
                "collection_gids": ("gid://shopify/Collection/1",),
                "product_gids": ("gid://shopify/Product/1",),
            },
            "/product_gids",
        ),
        ({"product_gids": ("gid://shopify/Collection/1",)}, "/product_gids"),
        (
            {"kind": RewardKind.FREE_SHIPPING, "collection_gids": ("gid://shopify/Collection/1",)},
            "/product_gids",
        ),
        ({"code_validity_days": 0}, "/code_validity_days"),
        ({"per_customer_limit": 0}, "/per_customer_limit"),
    ],
)
def test_validation_names_the_field(changes: dict[str, Any], pointer: str) -> None:
    with pytest.raises(ValidationError) as raised:
        validate(replace(FIVE_OFF, **changes))
    assert raised.value.pointer == pointer


def test_a_variable_range_must_be_ordered() -> None:
    with pytest.raises(ValidationError) as raised:
        validate(replace(VARIABLE, min_points=500, max_points=100))
    assert raised.value.pointer == "/max_points"
    validate(VARIABLE)


class TestCatalogue:
    async def test_create_update_list_and_the_shop_sync_owed(self, db: str) -> None:
        shop = await create_shop()
        gold = await create_tier(shop, points_required=1000)
        made = await create_reward(
            shop_id=shop.id, data=replace(VARIABLE, minimum_tier_id=gold.public_id)
        )
        assert made.public_id.startswith("reward_")
        assert (made.points_cost, made.value, made.minimum_tier_id) == (100, Decimal(0), gold.id)

        changed = await update_reward(
            shop_id=shop.id, reward_id=made.public_id, data=replace(FIVE_OFF, name="Five")
        )
        assert (changed.name, changed.is_variable, changed.min_points) == ("Five", False, None)
        assert [r.public_id for r in await list_rewards(shop_id=shop.id)] == [made.public_id]
        owed = await OutboxIntent.filter(shop_id=shop.id, customer_id=None).values_list(
            "job", flat=True
        )
        assert set(owed) == {str(JobName.SYNC_SHOP_METAFIELDS)}

    async def test_refusals_write_nothing(self, db: str) -> None:
        shop = await create_shop()
        with pytest.raises(VipTierNotFoundError):
            await create_reward(shop_id=shop.id, data=replace(FIVE_OFF, minimum_tier_id="tier_x"))
        with pytest.raises(ValidationError):
            await create_reward(shop_id=shop.id, data=replace(FIVE_OFF, points_cost=-1))
        assert await Reward.filter(shop_id=shop.id).count() == 0
        assert await OutboxIntent.filter(shop_id=shop.id).count() == 0

    async def test_lookups_are_scoped_to_the_shop(self, db: str) -> None:
        shop, other = await create_shop(), await create_shop()
        theirs = await create_reward(shop_id=other.id, data=FIVE_OFF)
        with pytest.raises(RewardNotFoundError):
            await get_reward(shop_id=shop.id, reward_id=theirs.public_id)
        with pytest.raises(RewardNotFoundError):
            await update_reward(shop_id=shop.id, reward_id=theirs.public_id, data=FIVE_OFF)

    async def test_delete_only_while_never_redeemed(self, db: str) -> None:
        shop = await connected_shop()
        unused = await reward(shop, name="Unused")
        await delete_reward(shop_id=shop.id, reward_id=unused.public_id)
        assert not await Reward.filter(id=unused.id).exists()

        redeemed = await reward(shop)
        customer = await customer_with_lots(shop, (500, None))
        await redeem(shop_id=shop.id, identifier=customer.email or "", reward_id=redeemed.public_id)
        with pytest.raises(RewardInUseError):
            await delete_reward(shop_id=shop.id, reward_id=redeemed.public_id)
        assert await Reward.filter(id=redeemed.id).exists()


async def test_offers_show_what_the_customer_can_redeem_and_how_far_the_rest_are(
    db: str,
) -> None:
    shop = await connected_shop()
    silver = await create_tier(shop, points_required=100)
    gold = await create_tier(shop, points_required=5000)
    cheap = await reward(shop, name="Cheap", points_cost=300, per_customer_limit=1)
    dear = await reward(shop, name="Dear", points_cost=1000)
    golden = await reward(shop, name="Golden", points_cost=200, minimum_tier_id=gold.public_id)
    await reward(shop, name="Off", is_active=False)
    customer = await customer_with_lots(shop, (700, None), vip_tier=silver)
    await redeem(shop_id=shop.id, identifier=customer.email or "", reward_id=cheap.public_id)

    offers = await offers_for(shop_id=shop.id, identifier=customer.email or "")

    seen = {o.reward.id: (o.points_needed, o.tier_allowed, o.limit_reached) for o in offers}
    assert seen == {
        golden.id: (0, False, False),
        cheap.id: (0, True, True),
        dear.id: (600, True, False),
    }
    assert [o.reward.id for o in offers] == [golden.id, cheap.id, dear.id]
    assert not any(o.redeemable for o in offers)
