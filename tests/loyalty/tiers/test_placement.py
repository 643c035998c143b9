"""The tier placement job: a tier create or threshold edit queues it in its own transaction and
moves no one; the job re-places every customer in chunks, once, however often it runs."""

from __future__ import annotations

import asyncio

import pytest

from loyalty.errors import ValidationError
from loyalty.jobs import JobName
from loyalty.models import Activity, ActorType, Customer, OutboxIntent, Shop
from loyalty.tiers.configuration import create_tier, update_tier
from loyalty.tiers.placement import place_tiers, placement_pending
from tests.factories import create_customer, create_shop
from tests.factories import create_tier as make_tier


@pytest.fixture
async def shop(db: str) -> Shop:
    return await create_shop()


async def placements() -> list[OutboxIntent]:
    return await OutboxIntent.filter(job=str(JobName.PLACE_VIP_TIERS)).order_by("id")


class TestPlacementJob:
    async def test_an_edit_queues_the_placement_and_the_job_moves_everyone_in_chunks(
        self, shop: Shop
    ) -> None:
        """Eleven customers, chunks of three: each lands on the tier their points earn, with one
        activity row (the staff user who edited) and the syncs owed; the intent is done."""
        silver = await make_tier(shop, name="Silver", points_required=500)
        customers = [
            await create_customer(
                shop, lifetime_points=200 * n, vip_tier=silver if n >= 3 else None
            )
            for n in range(11)
        ]
        change = await create_tier(shop=shop, name="Gold", points_required=1000, staff_user_id="7")
        assert change.placing and change.jobs == [str(JobName.PLACE_VIP_TIERS)]
        [intent] = await placements()
        assert intent.customer_id is None and intent.completed_at is None
        assert await Activity.filter(kind="vip_tier_changed").count() == 0  # nothing moved yet
        assert await placement_pending(shop_id=shop.id)

        done = await place_tiers(shop_id=shop.id, chunk=3)

        assert change.tier is not None
        gold = change.tier
        assert done.customers_moved == 6  # 1000 … 2000: Silver → Gold
        assert done.jobs == [str(JobName.SYNC_SHOPIFY_METAFIELDS)]
        for n, customer in enumerate(customers):
            fresh = await Customer.get(id=customer.id)
            expected = gold.id if n >= 5 else silver.id if n >= 3 else None
            assert fresh.vip_tier_id == expected
        moved = await Activity.filter(kind="vip_tier_changed").order_by("customer_id")
        assert [a.customer_id for a in moved] == [c.id for c in customers[5:]]
        assert all(a.actor_type == ActorType.STAFF and a.actor_id == "7" for a in moved)
        assert moved[0].data["reason"] == "vip_tier_created"
        assert moved[0].data["vip_tier_id"] == gold.public_id
        assert (moved[0].data["from_tier"], moved[0].data["to_tier"]) == ("Silver", "Gold")
        [intent] = await placements()
        assert intent.completed_at is not None
        assert not await placement_pending(shop_id=shop.id)

    async def test_rerun_and_concurrent_runs_move_each_customer_once(self, shop: Shop) -> None:
        gold = await make_tier(shop, name="Gold", points_required=1000)
        customers = [await create_customer(shop, lifetime_points=1500) for _ in range(8)]
        await update_tier(shop=shop, tier_id=gold.public_id, changes={"points_required": 1200})
        await update_tier(shop=shop, tier_id=gold.public_id, changes={"points_required": 900})

        runs = await asyncio.gather(*(place_tiers(shop_id=shop.id, chunk=3) for _ in range(3)))
        again = await place_tiers(shop_id=shop.id)

        assert sum(run.customers_moved for run in runs) == 8
        assert again.customers_moved == 0
        assert await Activity.filter(kind="vip_tier_changed").count() == 8
        # Both edits' intents are done by the one pass: the latest edit is the reason given.
        assert all(i.completed_at is not None for i in await placements())
        assert {a.data["reason"] for a in await Activity.filter(kind="vip_tier_changed")} == {
            "vip_tier_updated"
        }
        for customer in customers:
            assert (await Customer.get(id=customer.id)).vip_tier_id == gold.id
        # A new edit after the pass is placed by the next run.
        await update_tier(shop=shop, tier_id=gold.public_id, changes={"points_required": 2000})
        assert (await place_tiers(shop_id=shop.id)).customers_moved == 8

    async def test_a_refused_edit_queues_nothing(self, shop: Shop) -> None:
        await make_tier(shop, points_required=500)
        other = await make_tier(shop, points_required=900)
        with pytest.raises(ValidationError):
            await update_tier(shop=shop, tier_id=other.public_id, changes={"points_required": 500})
        assert await placements() == []

    async def test_an_edit_that_moves_no_threshold_queues_nothing(self, shop: Shop) -> None:
        gold = await make_tier(shop, name="Gold", points_required=1000)
        change = await update_tier(shop=shop, tier_id=gold.public_id, changes={"name": "Golden"})
        assert not change.placing
        assert await placements() == []

    async def test_an_uninstalled_shop_is_not_placed(self, shop: Shop) -> None:
        gold = await make_tier(shop, name="Gold", points_required=1000)
        customer = await create_customer(shop, lifetime_points=5000)
        await update_tier(shop=shop, tier_id=gold.public_id, changes={"points_required": 1100})
        await Shop.filter(id=shop.id).update(uninstalled_at=customer.created_at)
        assert (await place_tiers(shop_id=shop.id)).customers_moved == 0
        assert (await Customer.get(id=customer.id)).vip_tier_id is None
        assert not await placement_pending(shop_id=shop.id)
