"""Many customers' widget summaries in one statement (`storefront_summaries.summaries_of`): each
key answered in its place, as the ORM path (`customer_summary`) answers it, None where the app
does not know the key."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from loyalty.customers import storefront, storefront_summaries
from loyalty.models import Customer
from tests.factories import create_customer, create_shop, create_tier


class TestSummariesOf:
    async def test_each_key_in_its_place_whatever_the_shop(self, db: str) -> None:
        """Keys of two shops, a repeat and unknown ones: one answer per key, in order; a
        customer's Shopify id under another shop is not theirs."""
        shop, other = await create_shop(), await create_shop(domain="other.myshopify.com")
        gold = await create_tier(
            other, name="Gold", points_required=0, points_multiplier=Decimal("1.5")
        )
        await create_tier(shop, name="Silver", points_required=500)
        mine = await create_customer(shop, lifetime_points=120, points_balance=90)
        theirs = await create_customer(other, vip_tier=gold, lifetime_points=7)
        keys = [
            (other.id, theirs.shopify_customer_id),
            (shop.id, mine.shopify_customer_id),
            (shop.id, theirs.shopify_customer_id),  # their Shopify id, this shop: nobody
            (other.id, theirs.shopify_customer_id),
            (shop.id, 987654321),
        ]

        found = await storefront_summaries.summaries_of(keys)

        assert found == [
            await _orm(theirs),
            await _orm(mine),
            None,
            await _orm(theirs),
            None,
        ]
        assert found[0] is not None and found[0].tier is not None
        assert found[0].tier.name == "Gold"
        assert found[1] is not None and found[1].next_tier is not None
        assert found[1].next_tier.name == "Silver"


class TestSummaryBatcher:
    async def test_requests_of_one_turn_share_a_statement(self, db: str) -> None:
        """What is asked in the same loop turn goes as one batch; each asker gets its own."""
        shop = await create_shop()
        customers = [await create_customer(shop, points_balance=n) for n in range(5)]
        batcher = storefront_summaries.new_summary_batcher()

        found = await asyncio.gather(
            *(batcher.submit((shop.id, c.shopify_customer_id)) for c in customers)
        )

        assert [s.points_balance if s else None for s in found] == [0, 1, 2, 3, 4]
        assert (batcher.batches, batcher.largest_batch) == (1, 5)


async def _orm(customer: Customer) -> storefront.CustomerSummary:
    await customer.fetch_related("shop")
    return await storefront.customer_summary(shop=customer.shop, customer=customer)
