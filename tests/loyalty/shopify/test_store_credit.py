"""Store-credit rewards in Shopify (loyalty/shopify/discounts.py), through the real AdminApi
against the schema-validating stand-in: credit and debit in the customer's currency, Shopify's
refusals (below zero, another currency) as DiscountRefused, outages raised for a retry; and
what running twice does, since Shopify offers no idempotency for these mutations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

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
from tests.loyalty.shopify.test_discounts import CUSTOMER, admin, lose_answers_after, shop_id
from tests.loyalty.shopify.test_shopify_tokens import GRAPHQL_URL

__all__ = ["admin", "shop_id"]  # the fixtures this module uses


@pytest.fixture
async def shopify() -> AsyncIterator[ShopifyAdmin]:
    standin = ShopifyAdmin(customers=[customer_node(501)])
    with respx.mock(assert_all_called=False) as mock:
        mock.post(GRAPHQL_URL).mock(side_effect=standin)
        yield standin


async def move(
    function: Any, admin: AdminApi, shop_id: int, amount: str, currency: str = "EUR", **more: Any
) -> StoreCreditDone | DiscountRefused:
    """credit_store_credit or debit_store_credit for CUSTOMER (key "r-1" unless given)."""
    more.setdefault("key", "r-1")
    done: StoreCreditDone | DiscountRefused = await function(
        admin, shop_id, customer_gid=CUSTOMER, amount=Decimal(amount), currency=currency, **more
    )
    return done


credit = partial(move, credit_store_credit)
debit = partial(move, debit_store_credit)


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

    async def test_without_since_a_second_call_is_a_second_credit(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        """The limit, pinned: storeCreditAccountCredit takes no idempotency key, is not one of
        the `@idempotent` mutations, and its transactions carry nothing of ours (the key) to
        look up. A caller that does not say since when it may have tried gets a second credit.
        If Shopify adds a key, this test is the one to flip."""
        first = await credit(admin, shop_id, "10.00", key="redemption-42")
        second = await credit(admin, shop_id, "10.00", key="redemption-42")
        assert isinstance(first, StoreCreditDone) and isinstance(second, StoreCreditDone)
        assert first.transaction_gid != second.transaction_gid
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("20.00")


class TestRetried:
    """A caller that recorded when it first tried (`since`) gets the transaction an earlier
    attempt made instead of a second one."""

    async def test_a_credit_whose_answer_was_lost_is_found_not_repeated(
        self, shop_id: int, admin: AdminApi
    ) -> None:
        """Shopify made the credit but its answer was lost (every answer after it is a 503):
        the retry, since the first attempt, finds that credit and makes none."""
        shopify = ShopifyAdmin(customers=[customer_node(501)])
        since = datetime.now(UTC)
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(GRAPHQL_URL).mock(
                side_effect=lose_answers_after(shopify, "StoreCreditCredit")
            )
            with pytest.raises(ShopifyUnavailableError):
                await credit(admin, shop_id, "10.00", since=since)
            assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("10.00")
            route.mock(side_effect=shopify)
            again = await credit(admin, shop_id, "10.00", since=since)
        made = shopify.store_credit_accounts[0].transactions[0]["id"]
        assert again == StoreCreditDone(made, already_done=True)
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("10.00")

    async def test_a_first_attempt_that_never_arrived_credits_now(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        """Found nothing of that kind, amount and currency since then: credit now."""
        await credit(admin, shop_id, "9.99")  # another amount
        await credit(admin, shop_id, "10.00", "USD")  # another currency
        done = await credit(admin, shop_id, "10.00", since=datetime.now(UTC))
        assert isinstance(done, StoreCreditDone) and not done.already_done
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("19.99")

    async def test_older_transactions_and_excluded_ones_are_not_adopted(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        """A same-amount credit from before `since` (beyond the clock skew allowed), or one the
        caller says belongs to another redemption, is not this operation's."""
        old = await credit(admin, shop_id, "10.00")
        other = await credit(admin, shop_id, "10.00")
        assert isinstance(old, StoreCreditDone) and isinstance(other, StoreCreditDone)
        an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        shopify.store_credit_accounts[0].transactions[0]["createdAt"] = an_hour_ago
        since = datetime.now(UTC) - timedelta(seconds=30)
        done = await credit(
            admin, shop_id, "10.00", since=since, exclude=frozenset({other.transaction_gid})
        )
        assert isinstance(done, StoreCreditDone) and not done.already_done
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("30.00")

    async def test_a_retried_debit_is_found_too(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        await credit(admin, shop_id, "10.00")
        since = datetime.now(UTC)
        first = await debit(admin, shop_id, "4.00", since=since)
        again = await debit(admin, shop_id, "4.00", since=since)
        assert isinstance(first, StoreCreditDone) and not first.already_done
        assert again == StoreCreditDone(first.transaction_gid, already_done=True)
        assert shopify.store_credit_balance(CUSTOMER, "EUR") == Decimal("6.00")
