"""VIP tier configuration and the set-based re-assignment behind it, on both databases."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from loyalty.errors import ValidationError, VipTierNotFoundError
from loyalty.ledger.tier_reassignment import reassign_tiers
from loyalty.models import Activity, Customer, Integration, OutboxIntent, Platform, Shop, VipTier
from loyalty.tiers.configuration import create_tier, delete_tier, update_tier
from tests.factories import create_customer, create_shop
from tests.factories import create_tier as make_tier


@pytest.fixture
async def shop(db: str) -> Shop:
    return await create_shop()


async def tier_of(customer: Customer) -> int | None:
    await customer.refresh_from_db()
    return customer.vip_tier_id


class TestReassignTiers:
    async def test_assigns_the_highest_tier_reached(self, shop: Shop) -> None:
        """Each customer lands on the highest threshold at or below their lifetime points."""
        bronze = await make_tier(shop, points_required=0)
        silver = await make_tier(shop, points_required=500)
        gold = await make_tier(shop, points_required=1000)
        customers = {
            points: await create_customer(shop, lifetime_points=points)
            for points in (0, 499, 500, 999, 1000, 10_000)
        }
        moved = await reassign_tiers(shop_id=shop.id, staff_user_id="7", reason={})
        assert moved.customers_moved == 6
        expected = {
            0: bronze.id,
            499: bronze.id,
            500: silver.id,
            999: silver.id,
            1000: gold.id,
            10_000: gold.id,
        }
        assert {p: await tier_of(c) for p, c in customers.items()} == expected

    async def test_a_second_run_moves_no_one(self, shop: Shop) -> None:
        """Re-assignment is idempotent: nothing to move, nothing written."""
        await make_tier(shop, points_required=100)
        await create_customer(shop, lifetime_points=150)
        await reassign_tiers(shop_id=shop.id, staff_user_id=None, reason={})
        activities, intents = await Activity.all().count(), await OutboxIntent.all().count()
        again = await reassign_tiers(shop_id=shop.id, staff_user_id=None, reason={})
        assert (again.customers_moved, again.jobs) == (0, [])
        assert (await Activity.all().count(), await OutboxIntent.all().count()) == (
            activities,
            intents,
        )

    async def test_only_the_shops_customers_move(self, shop: Shop) -> None:
        """Another shop's customers and tiers are untouched."""
        other = await create_shop()
        await make_tier(shop, points_required=0)
        await make_tier(other, points_required=0)
        theirs = await create_customer(other, lifetime_points=50)
        await reassign_tiers(shop_id=shop.id, staff_user_id=None, reason={})
        assert await tier_of(theirs) is None

    async def test_without_tier_treats_it_as_gone(self, shop: Shop) -> None:
        """Members of the excluded tier fall to the next one down, or to none."""
        bronze = await make_tier(shop, points_required=0)
        gold = await make_tier(shop, points_required=1000)
        member = await create_customer(shop, lifetime_points=2000, vip_tier=gold)
        await reassign_tiers(
            shop_id=shop.id, staff_user_id=None, reason={}, without_tier_id=gold.id
        )
        assert await tier_of(member) == bronze.id

    async def test_owes_each_enabled_platform_a_sync(self, shop: Shop) -> None:
        """Intents cover the metafields and every marketing platform the shop enabled."""
        await Integration.create(shop=shop, platform=Platform.KLAVIYO, enabled=True)
        await Integration.create(shop=shop, platform=Platform.OMNISEND, enabled=False)
        await make_tier(shop, points_required=0)
        customer = await create_customer(shop)
        moved = await reassign_tiers(
            shop_id=shop.id, staff_user_id="7", reason={"reason": "r", "vip_tier_id": "tier_x"}
        )
        assert moved.jobs == ["sync_klaviyo_profiles", "sync_shopify_metafields"]
        intents = await OutboxIntent.filter(customer_id=customer.id)
        assert sorted(i.job for i in intents) == moved.jobs
        assert intents[0].payload == {"reason": "r", "vip_tier_id": "tier_x"}


class TestTierChanges:
    async def test_concurrent_creates_at_one_threshold_make_one_tier(self, shop: Shop) -> None:
        """However many race, one tier exists per threshold; the rest get duplicate_threshold."""
        results = await asyncio.gather(
            *(create_tier(shop=shop, name=f"T{n}", points_required=100) for n in range(5)),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 4
        assert all(isinstance(e, ValidationError) for e in errors)
        assert {e.code for e in errors if isinstance(e, ValidationError)} == {"duplicate_threshold"}
        assert await VipTier.filter(shop=shop).count() == 1

    async def test_update_of_another_shops_tier_is_not_found(self, shop: Shop) -> None:
        """Tier ids are scoped to the shop."""
        theirs = await make_tier(await create_shop())
        with pytest.raises(VipTierNotFoundError):
            await update_tier(shop=shop, tier_id=theirs.public_id, changes={"name": "x"})
        with pytest.raises(VipTierNotFoundError):
            await delete_tier(shop=shop, tier_id=theirs.public_id)

    async def test_multiplier_is_stored_exactly(self, shop: Shop) -> None:
        """The Decimal sent is the Decimal read back, on both databases."""
        change = await create_tier(
            shop=shop, name="Gold", points_required=10, points_multiplier=Decimal("1.15")
        )
        assert change.tier is not None
        stored = await VipTier.get(id=change.tier.id)
        assert Decimal(str(stored.points_multiplier)) == Decimal("1.15")

    async def test_deleting_the_only_tier_leaves_members_without_one(self, shop: Shop) -> None:
        """With no tier left, former members have none, and each move is logged."""
        gold = await make_tier(shop, points_required=0)
        member = await create_customer(shop, vip_tier=gold)
        change = await delete_tier(shop=shop, tier_id=gold.public_id, staff_user_id="7")
        assert change.customers_moved == 1
        assert await tier_of(member) is None
        activity = await Activity.get(customer_id=member.id)
        assert activity.data["from_tier_id"] == gold.id
        assert activity.data["to_tier_id"] is None
