"""Awards made at the same moment share one statement on PostgreSQL (AwardBatcher); each still
gets exactly the outcome it would get alone. On SQLite the batcher is not used and the same
outcomes hold, so every test here runs on both backends."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

from loyalty.clock import utcnow
from loyalty.db import dialect
from loyalty.earning.award import Actor, award_rule
from loyalty.errors import (
    AlreadyAwardedError,
    CustomerExcludedError,
    EarningRuleNotFoundError,
)
from loyalty.ledger.award_batch_pg import AwardBatcher, PgAward
from loyalty.models import ActorType, Customer, EarningHistoryEntry, Shop
from loyalty.shops.api_keys import ShopContext
from tests.factories import create_customer, create_rule, create_shop, create_tier

ACTOR = Actor(ActorType.SYSTEM)


def context(shop: Shop) -> ShopContext:
    return ShopContext(id=shop.id, domain=shop.domain, points_expiry_days=None)


class TestBatchedAwards:
    async def test_mixed_outcomes_in_one_batch_are_each_correct(self, db: str) -> None:
        """One batch holding a success, an in-batch duplicate, an excluded customer, an unknown
        rule and a second rule for the same customer: each request gets its own answer."""
        shop = await create_shop()
        tier = await create_tier(shop, points_required=0, points_multiplier=Decimal("1.50"))
        ann = await create_customer(shop, vip_tier=tier)
        eve = await create_customer(shop, is_excluded=True)
        follow = await create_rule(shop, points=100)
        review = await create_rule(shop, points=10)
        batcher = AwardBatcher()

        def go(rule_id: str, who: Customer) -> object:
            return award_rule(
                shop=context(shop),
                rule_id=rule_id,
                customer_identifier=str(who.shopify_customer_id),
                actor=ACTOR,
                batcher=batcher,
            )

        results = await asyncio.gather(
            go(follow.public_id, ann),
            go(follow.public_id, ann),  # the same award twice in one batch
            go(follow.public_id, eve),
            go("rule_missing", ann),
            go(review.public_id, ann),
            return_exceptions=True,
        )

        outcomes = [type(r).__name__ for r in results]
        assert sorted(outcomes[:2]) == ["AlreadyAwardedError", "AwardedEntry"]
        assert isinstance(results[2], CustomerExcludedError)
        assert isinstance(results[3], EarningRuleNotFoundError)
        assert outcomes[4] == "AwardedEntry"
        ann = await Customer.get(id=ann.id)
        assert (ann.points_balance, ann.lifetime_points) == (150 + 15, 150 + 15)
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 2
        if dialect() == "postgres":
            assert batcher.largest_batch >= 2  # they really did share a statement

    async def test_a_batch_that_fails_as_a_whole_is_retried_one_by_one(self, db: str) -> None:
        """A request that breaks the statement fails alone; the rest of its batch succeeds."""
        shop = await create_shop()
        rule = await create_rule(shop)
        customers = [await create_customer(shop) for _ in range(3)]
        if dialect() != "postgres":
            # SQLite does not batch: the same requests succeed one by one.
            for c in customers:
                await award_rule(
                    shop=context(shop),
                    rule_id=rule.public_id,
                    customer_identifier=str(c.shopify_customer_id),
                    actor=ACTOR,
                )
            assert await EarningHistoryEntry.all().count() == 3
            return
        batcher = AwardBatcher()
        good = [
            PgAward(
                shop.id,
                rule.public_id,
                c.shopify_customer_id,
                None,
                f"cer_batch{i}",
                utcnow(),
                None,
                "system",
                None,
            )
            for i, c in enumerate(customers)
        ]
        # public_id is VARCHAR(32): this one makes the whole statement fail.
        bad = replace(good[1], entry_public_id="cer_" + "x" * 40)

        results = await asyncio.gather(
            batcher.submit(good[0]),
            batcher.submit(bad),
            batcher.submit(good[2]),
            return_exceptions=True,
        )

        assert results[0]["inserted"] is True and results[2]["inserted"] is True
        assert isinstance(results[1], Exception)
        assert await EarningHistoryEntry.all().count() == 2

    async def test_a_burst_of_identical_awards_still_lands_once(self, db: str) -> None:
        """Fifty identical awards through one batcher: one entry, one balance change."""
        shop = await create_shop()
        rule = await create_rule(shop, points=7)
        customer = await create_customer(shop)
        batcher = AwardBatcher(max_batch=8)  # several batches, racing each other

        results = await asyncio.gather(
            *(
                award_rule(
                    shop=context(shop),
                    rule_id=rule.public_id,
                    customer_identifier=customer.email or "",
                    actor=ACTOR,
                    batcher=batcher,
                )
                for _ in range(50)
            ),
            return_exceptions=True,
        )

        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(isinstance(r, AlreadyAwardedError) for r in results if isinstance(r, Exception))
        assert (await Customer.get(id=customer.id)).points_balance == 7
