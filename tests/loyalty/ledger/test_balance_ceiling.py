"""The balance ceiling (loyalty.ledger.ceiling) holds on every path that credits points, on
SQLite and PostgreSQL: a customer at MAX_BALANCE - 5 is refused 10 points and given 5.

Request paths (the award API, custom actions) answer 422 `balance_limit` through the real HTTP
surface with a real API key and write nothing; background paths (purchases, birthdays,
approvals) credit nothing, write one `points_refused` activity and complete.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from loyalty.db import dialect
from loyalty.earning.award import Actor, award_rule
from loyalty.earning.purchases import PaidOrder, award_purchase
from loyalty.errors import ValidationError
from loyalty.ledger.award_batch import AwardBatcher
from loyalty.ledger.ceiling import MAX_BALANCE
from loyalty.lifecycle.approvals import approve_due
from loyalty.lifecycle.occasions import award_occasions
from loyalty.models import (
    Activity,
    ActorType,
    Customer,
    EarningHistoryEntry,
    EarningStatus,
    IdempotencyRecord,
    OutboxIntent,
    RuleCategory,
    Shop,
)
from loyalty.shops.api_keys import ShopContext
from tests.factories import create_api_key, create_customer, create_rule, create_shop, create_tier
from tests.loyalty.lifecycle.entries import pending_entry

NEAR = MAX_BALANCE - 5
NOW = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
DETAIL = f"The balance can hold at most {MAX_BALANCE} points"  # the adjustments' own words


async def snapshot(customer: Customer) -> dict[str, Any]:
    """Everything a credit could write for the customer."""
    fresh = await Customer.get(id=customer.id)
    return {
        "counters": (fresh.points_balance, fresh.lifetime_points, fresh.pending_points),
        "tier": fresh.vip_tier_id,  # type: ignore[attr-defined]
        "entries": sorted(
            await EarningHistoryEntry.filter(customer_id=customer.id).values_list(
                "public_id", "status"
            )
        ),
        "activities": sorted(
            await Activity.filter(customer_id=customer.id).values_list("kind", flat=True)
        ),
        "intents": await OutboxIntent.filter(customer_id=customer.id).count(),
        "idempotency": await IdempotencyRecord.all().count(),
    }


async def refusals(customer: Customer) -> list[dict[str, Any]]:
    return list(
        await Activity.filter(customer_id=customer.id, kind="points_refused").values_list(
            "data", flat=True
        )
    )


def without_refusals(after: dict[str, Any]) -> dict[str, Any]:
    """A snapshot with its `points_refused` activities taken out."""
    return {**after, "activities": [k for k in after["activities"] if k != "points_refused"]}


def assert_refused_422(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["status"], error["code"], error["title"], error["detail"]) == (
        "422",
        "balance_limit",
        "Invalid value",
        DETAIL,
    )


@pytest.fixture
async def shop(db: str) -> Shop:
    return await create_shop(points_expiry_days=365)


async def near_ceiling(shop: Shop, **counters: int) -> Customer:
    fields: dict[str, Any] = {"points_balance": NEAR, "lifetime_points": NEAR}
    fields.update(counters)
    return await create_customer(shop, **fields)


def context(shop: Shop) -> ShopContext:
    return ShopContext(id=shop.id, domain=shop.domain, points_expiry_days=shop.points_expiry_days)


# ---------------------------------------------------------------------------------------------
# The award API: POST /api/v1/earning-rules/{id}/award


async def award(client: httpx.AsyncClient, key: str, rule_id: str, who: Customer) -> Any:
    return await client.post(
        f"/api/v1/earning-rules/{rule_id}/award",
        json={"customer_identifier": str(who.shopify_customer_id)},
        headers={"Authorization": key},
    )


class TestAwardApi:
    @pytest.mark.parametrize(
        "counters",
        [
            {},  # balance and lifetime both 5 below the ceiling
            {"points_balance": 0},  # spent everything: only lifetime is near the ceiling
            {"points_balance": 0, "lifetime_points": 0, "pending_points": NEAR},
        ],
    )
    async def test_past_the_ceiling_is_a_422_that_writes_nothing(
        self, client: httpx.AsyncClient, shop: Shop, counters: dict[str, int]
    ) -> None:
        """10 points to a customer with a counter 5 below the ceiling (pending only for a rule
        with an approval time): 422 balance_limit, nothing written. Then 5 points fit exactly;
        and that rule again is "already awarded" (409), which the ceiling never hides."""
        key = (await create_api_key(shop)).secret
        days = 3 if "pending_points" in counters else 0
        ten = await create_rule(shop, points=10, approval_time_days=days)
        five = await create_rule(shop, points=5, approval_time_days=days)
        customer = await near_ceiling(shop, **counters)
        before = await snapshot(customer)

        response = await award(client, key, ten.public_id, customer)

        assert_refused_422(response)
        assert await snapshot(customer) == before
        accepted = await award(client, key, five.public_id, customer)
        assert accepted.status_code == 201, accepted.text
        fresh = await Customer.get(id=customer.id)
        if days:
            assert fresh.pending_points == MAX_BALANCE
        else:
            assert fresh.lifetime_points == MAX_BALANCE
            assert fresh.points_balance == before["counters"][0] + 5
        again = await award(client, key, five.public_id, customer)
        assert again.status_code == 409, again.text

    async def test_concurrent_awards_cannot_race_past_the_ceiling(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Four different 5-point rules at once: exactly one fits, three are refused."""
        key = (await create_api_key(shop)).secret
        rules = [await create_rule(shop, points=5) for _ in range(4)]
        customer = await near_ceiling(shop)

        responses = await asyncio.gather(
            *(award(client, key, rule.public_id, customer) for rule in rules)
        )

        assert sorted(r.status_code for r in responses) == [201, 422, 422, 422]
        fresh = await Customer.get(id=customer.id)
        assert fresh.points_balance == MAX_BALANCE
        assert await EarningHistoryEntry.filter(customer_id=customer.id).count() == 1
        kinds = await Activity.filter(customer_id=customer.id).values_list("kind", flat=True)
        assert kinds == ["points_awarded"]

    async def test_concurrent_statements_cannot_race_past_the_ceiling(self, shop: Shop) -> None:
        """Without the batcher each award is its own statement on its own connection
        (PostgreSQL): six 5-point awards at once, each checking the balance as last committed,
        not as its snapshot saw it. Exactly one fits."""
        customer = await near_ceiling(shop)
        rules = [await create_rule(shop, points=5) for _ in range(6)]

        results = await asyncio.gather(
            *(
                award_rule(
                    shop=context(shop),
                    rule_id=rule.public_id,
                    customer_identifier=str(customer.shopify_customer_id),
                    actor=Actor(ActorType.SYSTEM),
                )
                for rule in rules
            ),
            return_exceptions=True,
        )

        refused = [r for r in results if isinstance(r, ValidationError)]
        assert len(refused) == 5 and all(r.code == "balance_limit" for r in refused)
        assert not [r for r in results if isinstance(r, BaseException) and r not in refused]
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.lifetime_points) == (MAX_BALANCE, MAX_BALANCE)
        assert await EarningHistoryEntry.filter(customer_id=customer.id).count() == 1

    async def test_a_refused_award_never_stops_the_others_of_its_batch(self, shop: Shop) -> None:
        """One batch (PostgreSQL; one by one on SQLite): 10 then 10 then 5 points to a customer
        15 below the ceiling, and 100 to another. The second 10 is refused; the 5 that follows
        it still fits and is awarded, as it would be alone; the other customer is untouched."""
        customer = await near_ceiling(shop, points_balance=NEAR - 10, lifetime_points=NEAR - 10)
        other = await create_customer(shop)
        first, second, small = [await create_rule(shop, points=p) for p in (10, 10, 5)]
        hundred = await create_rule(shop, points=100)
        batcher = AwardBatcher()

        def go(rule_id: str, who: Customer) -> Any:
            return award_rule(
                shop=context(shop),
                rule_id=rule_id,
                customer_identifier=str(who.shopify_customer_id),
                actor=Actor(ActorType.SYSTEM),
                batcher=batcher,
            )

        results = await asyncio.gather(
            go(first.public_id, customer),
            go(second.public_id, customer),
            go(small.public_id, customer),
            go(hundred.public_id, other),
            return_exceptions=True,
        )

        assert not isinstance(results[0], BaseException)
        assert isinstance(results[1], ValidationError) and results[1].code == "balance_limit"
        assert not isinstance(results[2], BaseException)
        assert not isinstance(results[3], BaseException)
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.lifetime_points) == (MAX_BALANCE, MAX_BALANCE)
        assert await EarningHistoryEntry.filter(customer_id=customer.id).count() == 2
        assert (await Customer.get(id=other.id)).points_balance == 100
        if dialect() == "postgres":
            assert batcher.largest_batch == 4  # they did share one statement


# ---------------------------------------------------------------------------------------------
# Custom actions: POST /api/v1/actions


async def action(
    client: httpx.AsyncClient,
    key: str,
    who: Customer,
    idempotency_key: str | None = None,
    *,
    action_key: str = "quiz_completed",
) -> Any:
    headers = {"Authorization": key}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return await client.post(
        "/api/v1/actions",
        json={"action_key": action_key, "customer_id": who.shopify_customer_id},
        headers=headers,
    )


async def quiz(shop: Shop, points: int, action_key: str = "quiz_completed") -> None:
    await create_rule(
        shop,
        name="Quiz",
        action="custom",
        category=RuleCategory.CUSTOM,
        action_key=action_key,
        points=points,
        repeatable=True,
    )


class TestCustomActions:
    @pytest.mark.parametrize("idempotency_key", [None, "quiz-1"])
    async def test_past_the_ceiling_is_a_422_that_writes_nothing(
        self, client: httpx.AsyncClient, shop: Shop, idempotency_key: str | None
    ) -> None:
        """10 points 5 below the ceiling: 422, no entry, activity, intent or stored response
        (so a retry with the same key is decided afresh, not replayed). Then an action of 5
        points fits exactly: 201."""
        key = (await create_api_key(shop)).secret
        await quiz(shop, points=10)
        await quiz(shop, points=5, action_key="survey_answered")
        customer = await near_ceiling(shop)
        before = await snapshot(customer)

        response = await action(client, key, customer, idempotency_key)

        assert_refused_422(response)
        assert await snapshot(customer) == before
        assert_refused_422(await action(client, key, customer, idempotency_key))
        accepted = await action(client, key, customer, None, action_key="survey_answered")
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["data"]["attributes"]["points_balance"] == MAX_BALANCE
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.lifetime_points) == (MAX_BALANCE, MAX_BALANCE)

    async def test_concurrent_completions_cannot_race_past_the_ceiling(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        key = (await create_api_key(shop)).secret
        await quiz(shop, points=5)
        customer = await near_ceiling(shop)

        responses = await asyncio.gather(*(action(client, key, customer) for _ in range(4)))

        assert sorted(r.status_code for r in responses) == [201, 422, 422, 422]
        assert (await Customer.get(id=customer.id)).points_balance == MAX_BALANCE


# ---------------------------------------------------------------------------------------------
# Purchases (orders/paid)


def paid(order_id: int, customer: Customer, subtotal: str) -> PaidOrder:
    return PaidOrder(
        order_id=order_id,
        order_number=f"#{order_id}",
        subtotal=Decimal(subtotal),
        email=customer.email,
        customer=None,  # a guest checkout matched by email: the customer row is not touched
    )


class TestPurchases:
    @pytest.mark.parametrize("subtotal", ["10.00", "1000000000000.00"])
    async def test_past_the_ceiling_credits_nothing_and_says_why(
        self, shop: Shop, subtotal: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """10 points (or far more than any counter holds) 5 below the ceiling: skipped as
        `balance_limit`, nothing credited, one points_refused activity, a WARNING."""
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        customer = await near_ceiling(shop)
        before = await snapshot(customer)

        with caplog.at_level(logging.WARNING, logger="loyalty.ledger.ceiling"):
            result = await award_purchase(shop=shop, order=paid(7001, customer, subtotal), now=NOW)

        assert result.skipped == "balance_limit" and result.entries == []
        after = await snapshot(customer)
        assert after["activities"] == sorted([*before["activities"], "points_refused"])
        assert without_refusals(after) == before
        [refusal] = await refusals(customer)
        assert refusal["reason"] == "balance_limit" and refusal["order_id"] == 7001
        assert any(r.levelno == logging.WARNING for r in caplog.records)
        fitting = await award_purchase(shop=shop, order=paid(7002, customer, "5.00"), now=NOW)
        assert fitting.skipped is None and len(fitting.entries) == 1
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.lifetime_points) == (MAX_BALANCE, MAX_BALANCE)

    async def test_a_refusal_in_the_callers_transaction_keeps_the_rest(self, shop: Shop) -> None:
        """Webhook processing runs the award in its own transaction: the refusal rolls back
        only the credit (a savepoint), so the caller commits and the job completes."""
        from tortoise.transactions import in_transaction

        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        customer = await near_ceiling(shop)
        async with in_transaction():
            await Shop.filter(id=shop.id).update(name="Renamed in the caller's transaction")
            result = await award_purchase(shop=shop, order=paid(7003, customer, "10.00"), now=NOW)

        assert result.skipped == "balance_limit"
        assert (await Shop.get(id=shop.id)).name == "Renamed in the caller's transaction"
        assert len(await refusals(customer)) == 1


# ---------------------------------------------------------------------------------------------
# Birthdays (occasions)


class TestOccasions:
    async def test_past_the_ceiling_credits_nothing_and_says_why_once(self, shop: Shop) -> None:
        """10 birthday points 5 below the ceiling: nothing credited; the hourly runs of the
        day meet it again but record it once. With the rule at 5 points, the next run awards
        them: exactly the ceiling."""
        rule = await create_rule(
            shop, name="Birthday", action="birthday", category=RuleCategory.BIRTHDAY, points=10
        )
        customer = await near_ceiling(shop, date_of_birth=date(1990, 5, 15))
        before = await snapshot(customer)

        first = await award_occasions(shop_id=shop.id, now=NOW)
        again = await award_occasions(shop_id=shop.id, now=NOW + timedelta(hours=1))

        assert (first.done, again.done) == (0, 0)
        after = await snapshot(customer)
        assert after["activities"] == sorted([*before["activities"], "points_refused"])
        assert without_refusals(after) == before
        [refusal] = await refusals(customer)
        assert refusal["reason"] == "balance_limit" and refusal["source"] == "birthday"
        await type(rule).filter(id=rule.id).update(points=5)
        assert (await award_occasions(shop_id=shop.id, now=NOW + timedelta(hours=2))).done == 1
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.lifetime_points) == (MAX_BALANCE, MAX_BALANCE)

    async def test_a_tier_multiplier_counts(self, shop: Shop) -> None:
        """4 points × 1.50 = 6 do not fit 5 below the ceiling."""
        tier = await create_tier(shop, points_required=0, points_multiplier=Decimal("1.50"))
        await create_rule(
            shop, name="Birthday", action="birthday", category=RuleCategory.BIRTHDAY, points=4
        )
        customer = await near_ceiling(shop, date_of_birth=date(1990, 5, 15), vip_tier_id=tier.id)

        run = await award_occasions(shop_id=shop.id, now=NOW)

        assert run.done == 0
        assert (await Customer.get(id=customer.id)).points_balance == NEAR
        assert len(await refusals(customer)) == 1


# ---------------------------------------------------------------------------------------------
# Approvals of pending points


class TestApprovals:
    async def test_past_the_ceiling_credits_nothing_and_rejects_the_entry(self, shop: Shop) -> None:
        """10 pending points fall due 5 below the ceiling: nothing credited, the entry is
        rejected so no later run meets it again, its points leave the pending balance, and one
        points_refused activity says why. The 5 pending points due after it still fit: they
        are approved, exactly to the ceiling."""
        customer = await near_ceiling(shop)
        entry = await pending_entry(customer, due=NOW - timedelta(minutes=2), points=10)
        await pending_entry(customer, due=NOW - timedelta(minutes=1), points=5)

        run = await approve_due(shop_id=shop.id, now=NOW)
        again = await approve_due(shop_id=shop.id, now=NOW + timedelta(hours=1))

        assert (run.done, run.more, again.done) == (1, False, 0)
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.lifetime_points, fresh.pending_points) == (
            MAX_BALANCE,
            MAX_BALANCE,
            0,
        )
        rejected = await EarningHistoryEntry.get(id=entry.id)
        assert rejected.status is EarningStatus.REJECTED
        assert (rejected.points_given_at, rejected.points_remaining) == (None, 0)
        kinds = await Activity.filter(customer_id=customer.id).values_list("kind", flat=True)
        assert sorted(kinds) == ["points_approved", "points_refused"]
        [refusal] = await refusals(customer)
        assert refusal["reason"] == "balance_limit" and refusal["points"] == 10
