"""Excluding and including customers: idempotent under concurrency, on both databases."""

from __future__ import annotations

import asyncio

import pytest

from loyalty.customers.exclusion import set_excluded
from loyalty.errors import CustomerNotFoundError
from loyalty.models import Activity, OutboxIntent, Shop
from tests.factories import create_customer, create_shop


@pytest.fixture
async def shop(db: str) -> Shop:
    return await create_shop()


class TestSetExcluded:
    async def test_concurrent_excludes_log_once(self, shop: Shop) -> None:
        """Ten simultaneous excludes flip the flag once: one activity row, one set of intents."""
        customer = await create_customer(shop)
        results = await asyncio.gather(
            *(
                set_excluded(
                    shop=shop,
                    shopify_customer_id=str(customer.shopify_customer_id),
                    excluded=True,
                    staff_user_id="42",
                )
                for _ in range(10)
            )
        )
        assert sum(r.changed for r in results) == 1
        assert await Activity.filter(customer_id=customer.id).count() == 1
        assert await OutboxIntent.filter(customer_id=customer.id).count() == 1

    async def test_another_shops_customer_is_not_found(self, shop: Shop) -> None:
        """Customer ids are scoped to the shop."""
        theirs = await create_customer(await create_shop())
        with pytest.raises(CustomerNotFoundError):
            await set_excluded(
                shop=shop,
                shopify_customer_id=str(theirs.shopify_customer_id),
                excluded=True,
                staff_user_id="42",
            )
