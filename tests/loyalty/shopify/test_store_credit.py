"""Store-credit rewards in Shopify (loyalty/shopify/discounts.py), through the real AdminApi
against the schema-validating stand-in: credit and debit in the customer's currency, Shopify's
refusals (below zero, another currency) as DiscountRefused, outages raised for a retry; and
what running twice does, since Shopify offers no idempotency for these mutations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import respx

from loyalty.shopify.admin_api import AdminApi
from loyalty.shopify.discounts import (
    DiscountRefused,
    StoreCreditDone,
    credit_store_credit,
    debit_store_credit,
)
from loyalty.shopify.tokens import ShopifyUnavailableError
from standins.shopify_admin import ShopifyAdmin, customer_node
from tests.loyalty.shopify.test_discounts import CUSTOMER, admin, shop_id
from tests.loyalty.shopify.test_shopify_tokens import GRAPHQL_URL

__all__ = ["admin", "shop_id"]  # the fixtures this module uses


@pytest.fixture
async def shopify() -> AsyncIterator[ShopifyAdmin]:
    standin = ShopifyAdmin(customers=[customer_node(501)])
    with respx.mock(assert_all_called=False) as mock:
        mock.post(GRAPHQL_URL).mock(side_effect=standin)
        yield standin


async def credit(
    admin: AdminApi, shop_id: int, amount: str, currency: str = "EUR", key: str = "r-1"
) -> StoreCreditDone | DiscountRefused:
    return await credit_store_credit(
        admin, shop_id, customer_gid=CUSTOMER, amount=Decimal(amount), currency=currency, key=key
    )


async def debit(
    admin: AdminApi, shop_id: int, amount: str, currency: str = "EUR", key: str = "r-1"
) -> StoreCreditDone | DiscountRefused:
    return await debit_store_credit(
        admin, shop_id, customer_gid=CUSTOMER, amount=Decimal(amount), currency=currency, key=key
    )


class TestStoreCredit:
    async def test_credit_then_debit_in_the_customers_currency(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        credited = await credit(admin, shop_id, "10.00")
        assert isinstance(credited, StoreCreditDone) and not credited.already_done
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("10.00")
        debited = await debit(admin, shop_id, "4.00")
        assert isinstance(debited, StoreCreditDone)
        assert debited.transaction_gid != credited.transaction_gid
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("6.00")
        assert shopify.rejected == []

    async def test_a_debit_below_zero_is_refused_and_moves_nothing(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        """The customer spent the credit: Shopify's INSUFFICIENT_FUNDS, permanent."""
        await credit(admin, shop_id, "5.00")
        refused = await debit(admin, shop_id, "5.01")
        assert isinstance(refused, DiscountRefused) and refused.codes == ("INSUFFICIENT_FUNDS",)
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("5.00")

    async def test_debit_without_an_account_and_a_zero_credit_are_refused(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        none = await debit(admin, shop_id, "1.00")
        assert isinstance(none, DiscountRefused) and none.codes == ("ACCOUNT_NOT_FOUND",)
        zero = await credit(admin, shop_id, "0")
        assert isinstance(zero, DiscountRefused) and zero.codes == ("NEGATIVE_OR_ZERO_AMOUNT",)

    async def test_accounts_are_per_currency(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        await credit(admin, shop_id, "3.00", "EUR")
        await credit(admin, shop_id, "7.00", "USD")
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("3.00")
        assert shopify.store_credit_balance(CUSTOMER, "USD") == Decimal("7.00")
        refused = await debit(admin, shop_id, "5.00", "EUR")
        assert isinstance(refused, DiscountRefused) and refused.codes == ("INSUFFICIENT_FUNDS",)

    async def test_an_outage_raises_for_the_job_to_retry(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        shopify.answer_next(*[httpx.Response(503)] * 6)
        with pytest.raises(ShopifyUnavailableError):
            await credit(admin, shop_id, "10.00")
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal(0)

    async def test_the_same_key_twice_credits_twice_shopify_has_no_idempotency_here(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        """The limit, pinned: storeCreditAccountCredit takes no idempotency key, is not one of
        the `@idempotent` mutations, and its transactions carry nothing of ours to look up.
        So a second call with the same key is a second credit; the caller must not call again
        once it has a transaction_gid. If Shopify adds a key, this test is the one to flip."""
        first = await credit(admin, shop_id, "10.00", key="redemption-42")
        second = await credit(admin, shop_id, "10.00", key="redemption-42")
        assert isinstance(first, StoreCreditDone) and isinstance(second, StoreCreditDone)
        assert first.transaction_gid != second.transaction_gid
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("20.00")
