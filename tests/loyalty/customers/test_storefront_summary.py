"""The widget's summary in one statement (`storefront_summaries.summary_of`) says exactly what
the ORM path (`customer_summary`) says: balances, tier and progress, and the ten newest
entries, newest first (ties by id), pending ones without a given date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from loyalty.customers import storefront, storefront_summaries
from loyalty.models import EarningHistoryEntry, EarningStatus, Shop
from tests.factories import create_customer, create_shop, create_tier

T0 = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


async def entry(shop: Shop, customer_id: int, n: int, at: datetime, *, pending: bool) -> None:
    created = await EarningHistoryEntry.create(
        public_id=f"cer_summary{n}",
        shop_id=shop.id,
        customer_id=customer_id,
        action="follow_on_instagram",
        base_points=n,
        points_multiplier=Decimal("1.25"),
        points=n,
        status=EarningStatus.PENDING if pending else EarningStatus.APPROVED,
        points_given_at=None if pending else at,
        points_due_at=at + timedelta(days=3) if pending else None,
        dedupe_key=f"test:{n}",
    )
    await EarningHistoryEntry.filter(id=created.id).update(created_at=at)


class TestSummaryOf:
    async def test_matches_the_orm_summary(self, db: str) -> None:
        shop = await create_shop()
        await create_shop(domain="other.myshopify.com")  # its tiers are not this shop's
        bronze = await create_tier(
            shop, name="Bronze", points_required=0, points_multiplier=Decimal("1.00")
        )
        await create_tier(shop, name="Gold", points_required=2000, points_multiplier=Decimal("1.5"))
        await create_tier(
            shop, name="Silver", points_required=500, points_multiplier=Decimal("1.25")
        )
        customer = await create_customer(
            shop, vip_tier=bronze, points_balance=140, lifetime_points=140, pending_points=7
        )
        for n in range(1, 13):  # twelve entries; two share a creation time (the id decides)
            at = T0 + timedelta(minutes=min(n, 11))
            await entry(shop, customer.id, n, at, pending=n % 4 == 0)

        fast = await storefront_summaries.summary_of(
            shop_id=shop.id, shopify_customer_id=customer.shopify_customer_id
        )
        orm = await storefront.customer_summary(shop=shop, customer=customer)

        assert fast == orm
        assert fast is not None
        assert [h.points for h in fast.history] == [12, 11, 10, 9, 8, 7, 6, 5, 4, 3]
        assert fast.history[0].created_at == T0 + timedelta(minutes=11)
        assert fast.history[8].points_given_at is None and fast.history[8].points_due_at
        assert fast.next_tier is not None and fast.next_tier.name == "Silver"
        assert fast.tier is not None and fast.tier.points_multiplier == Decimal("1.00")

    async def test_a_customer_without_tier_or_history(self, db: str) -> None:
        shop = await create_shop()
        customer = await create_customer(shop, points_balance=5, lifetime_points=5)

        fast = await storefront_summaries.summary_of(
            shop_id=shop.id, shopify_customer_id=customer.shopify_customer_id
        )

        assert fast == await storefront.customer_summary(shop=shop, customer=customer)
        assert fast is not None and fast.history == [] and fast.tier is None

    async def test_unknown_here_is_none(self, db: str) -> None:
        shop, other = await create_shop(), await create_shop(domain="other.myshopify.com")
        customer = await create_customer(other)

        assert (
            await storefront_summaries.summary_of(
                shop_id=shop.id, shopify_customer_id=customer.shopify_customer_id
            )
            is None
        )
