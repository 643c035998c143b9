"""recalculate_tier: a customer's tier follows their lifetime points, both ways."""

from __future__ import annotations

from decimal import Decimal

from tortoise.transactions import in_transaction

from loyalty.ledger.tiers import recalculate_tier
from loyalty.models import Activity, Customer, OutboxIntent
from tests.factories import create_customer, create_shop, create_tier


class TestRecalculateTier:
    async def test_moves_up_and_down_with_lifetime_points(self, db: str) -> None:
        """Highest tier reached wins; falling below a threshold moves the customer down."""
        shop = await create_shop()
        bronze = await create_tier(
            shop, name="Bronze", points_required=0, points_multiplier=Decimal("1")
        )
        silver = await create_tier(shop, name="Silver", points_required=500)
        customer = await create_customer(shop, vip_tier=bronze, lifetime_points=600)

        async with in_transaction():
            up = await recalculate_tier(customer_id=customer.id, reason="test")
        await Customer.filter(id=customer.id).update(lifetime_points=100)
        async with in_transaction():
            down = await recalculate_tier(customer_id=customer.id, reason="test")

        assert up is not None and (up.from_tier_id, up.to_tier_id) == (bronze.id, silver.id)
        assert down is not None and (down.from_tier_id, down.to_tier_id) == (silver.id, bronze.id)
        assert (await Customer.get(id=customer.id)).vip_tier_id == bronze.id
        changes = await Activity.filter(customer_id=customer.id, kind="vip_tier_changed").order_by(
            "id"
        )
        assert [(a.data["from_tier"], a.data["to_tier"]) for a in changes] == [
            ("Bronze", "Silver"),
            ("Silver", "Bronze"),
        ]
        events = await OutboxIntent.filter(customer_id=customer.id)
        assert events and all(i.payload["event"] == "vip_tier_changed" for i in events)

    async def test_an_unchanged_tier_writes_nothing(self, db: str) -> None:
        """No move, no activity, no sync."""
        shop = await create_shop()
        bronze = await create_tier(shop, points_required=0)
        customer = await create_customer(shop, vip_tier=bronze, lifetime_points=10)
        assert await recalculate_tier(customer_id=customer.id, reason="test") is None
        assert await Activity.all().count() == 0 and await OutboxIntent.all().count() == 0
