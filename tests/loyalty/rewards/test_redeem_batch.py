"""Redemptions batched per event-loop turn (loyalty.rewards.redeem_batch): many customers'
redemptions share one transaction on PostgreSQL, each decided exactly as alone; on SQLite the
batcher is not used and the same assertions hold. Both dialects run every test."""

from __future__ import annotations

import asyncio
from typing import Any

from loyalty.db import dialect
from loyalty.earning.idempotency import IdempotencyKeyReusedError
from loyalty.errors import (
    CustomerExcludedError,
    CustomerNotFoundError,
    InsufficientPointsError,
    RedemptionLimitReachedError,
    RewardNotFoundError,
)
from loyalty.jobs import JobName
from loyalty.models import Customer, EarningHistoryEntry, Redemption, Shop
from loyalty.rewards.redeem import Batcher, Redeemed, redeem
from loyalty.rewards.redeem_batch import new_batcher
from tests.loyalty.rewards.helpers import connected_shop, customer_with_lots, intents, lots_left
from tests.loyalty.rewards.helpers import reward as make_reward
from tests.loyalty.rewards.test_redeem import snapshot


def by(shop: Shop, batcher: Batcher, reward_id: str, identifier: str, **kw: Any) -> Any:
    return redeem(
        shop_id=shop.id, identifier=identifier, reward_id=reward_id, batcher=batcher, **kw
    )


def batched(batcher: Batcher) -> bool:
    """The redemptions went through the batcher, more than one at a time (PostgreSQL), or not
    at all (SQLite)."""
    if dialect() == "postgres":
        return batcher.largest_batch > 1
    return batcher.batches == 0


async def test_many_customers_at_once_each_spend_their_own_lots_oldest_first(db: str) -> None:
    shop = await connected_shop()
    five_off = await make_reward(shop)  # 500 points
    customers = [await customer_with_lots(shop, (300, None), (400, None)) for _ in range(12)]
    batcher = new_batcher()

    results = await asyncio.gather(
        *(by(shop, batcher, five_off.public_id, c.email or "") for c in customers)
    )

    assert batched(batcher)
    assert all(isinstance(r, Redeemed) and r.balance_after == 200 for r in results)
    assert len({r.redemption.discount_code for r in results}) == 12
    for customer, result in zip(customers, results, strict=True):
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.redeemed_points) == (200, 500)
        assert await lots_left(customer) == [0, 200]
        (row,) = await Redemption.filter(customer_id=customer.id)
        assert row.public_id == result.redemption.id and row.code == result.redemption.discount_code
        lots = (
            await EarningHistoryEntry.filter(customer_id=customer.id)
            .order_by("id")
            .values_list("id", flat=True)
        )
        assert row.spent_lots == [[lots[0], 300], [lots[1], 200]]
        jobs = [job for job, _ in await intents(customer)]
        assert jobs.count(JobName.SYNC_REWARD_CODES) == 1


async def test_a_batch_decides_each_as_alone_and_refusals_write_nothing(db: str) -> None:
    """In one turn: a customer twice with points for one, a customer short of points, an
    excluded one, an unknown one, an unknown reward, a reward at its per-customer limit, and a
    plain one. Each gets what it would get alone; every refusal writes nothing."""
    shop = await connected_shop()
    five_off = await make_reward(shop)
    once = await make_reward(shop, name="Once", per_customer_limit=1)
    twice = await customer_with_lots(shop, (500, None))
    short = await customer_with_lots(shop, (499, None))
    excluded = await customer_with_lots(shop, (900, None), is_excluded=True)
    limited = await customer_with_lots(shop, (2000, None))
    plain = await customer_with_lots(shop, (600, None))
    await redeem(shop_id=shop.id, identifier=limited.email or "", reward_id=once.public_id)
    before = {c.id: await snapshot(c) for c in (short, excluded, limited)}
    batcher = new_batcher()

    results = await asyncio.gather(
        by(shop, batcher, five_off.public_id, twice.email or ""),
        by(shop, batcher, five_off.public_id, short.email or ""),
        by(shop, batcher, five_off.public_id, twice.email or ""),
        by(shop, batcher, five_off.public_id, excluded.email or ""),
        by(shop, batcher, five_off.public_id, "nobody@example.com"),
        by(shop, batcher, "rw_unknown", plain.email or ""),
        by(shop, batcher, once.public_id, limited.email or ""),
        by(shop, batcher, five_off.public_id, plain.email or ""),
        return_exceptions=True,
    )

    assert batched(batcher)
    twice_results = [results[0], results[2]]
    assert sum(isinstance(r, Redeemed) for r in twice_results) == 1
    assert sum(isinstance(r, InsufficientPointsError) for r in twice_results) == 1
    assert isinstance(results[1], InsufficientPointsError)
    assert results[1].meta == {"points_required": 500, "points_balance": 499}
    assert isinstance(results[3], CustomerExcludedError)
    assert isinstance(results[4], CustomerNotFoundError)
    assert isinstance(results[5], RewardNotFoundError)
    assert isinstance(results[6], RedemptionLimitReachedError)
    assert isinstance(results[7], Redeemed) and results[7].balance_after == 100
    assert {c.id: await snapshot(c) for c in (short, excluded, limited)} == before
    fresh = await Customer.get(id=twice.id)
    assert (fresh.points_balance, fresh.redeemed_points) == (0, 500)
    assert await Redemption.filter(customer_id=twice.id).count() == 1
    assert await lots_left(plain) == [100]


async def test_fifty_at_once_by_one_customer_through_the_batcher(db: str) -> None:
    shop = await connected_shop()
    five_off = await make_reward(shop)
    customer = await customer_with_lots(shop, (200, None), (300, None))
    batcher = new_batcher()

    results = await asyncio.gather(
        *(by(shop, batcher, five_off.public_id, customer.email or "") for _ in range(50)),
        return_exceptions=True,
    )

    assert sum(isinstance(r, Redeemed) for r in results) == 1
    assert sum(isinstance(r, InsufficientPointsError) for r in results) == 49
    fresh = await Customer.get(id=customer.id)
    assert (fresh.points_balance, fresh.redeemed_points) == (0, 500)
    assert await lots_left(customer) == [0, 0]
    assert await Redemption.filter(customer_id=customer.id).count() == 1


async def test_a_batch_that_fails_rolls_back_and_each_runs_alone(db: str) -> None:
    """Two customers send the same idempotency key in one turn: the batch's write meets the
    key's unique index and writes nothing; alone, the first redeems and the second is refused
    as a reused key. Nothing is written twice."""
    shop = await connected_shop()
    five_off = await make_reward(shop)
    first = await customer_with_lots(shop, (1000, None))
    second = await customer_with_lots(shop, (1000, None))
    batcher = new_batcher()

    results = await asyncio.gather(
        by(shop, batcher, five_off.public_id, first.email or "", idempotency_key="same"),
        by(shop, batcher, five_off.public_id, second.email or "", idempotency_key="same"),
        return_exceptions=True,
    )

    assert sum(isinstance(r, Redeemed) for r in results) == 1
    assert sum(isinstance(r, IdempotencyKeyReusedError) for r in results) == 1
    assert await Redemption.filter(shop_id=shop.id).count() == 1
    balances = sorted([(await Customer.get(id=c.id)).points_balance for c in (first, second)])
    assert balances == [500, 1000]


async def test_two_processes_batching_the_same_customers_never_deadlock(db: str) -> None:
    """Two batchers (two web processes) each redeem for the same customers, named in opposite
    orders, at once: the locks are taken in one order, so every redemption goes through."""
    shop = await connected_shop()
    five_off = await make_reward(shop)
    customers = [await customer_with_lots(shop, (500, None), (500, None)) for _ in range(6)]
    one, other = new_batcher(), new_batcher()

    results = await asyncio.wait_for(
        asyncio.gather(
            *(by(shop, one, five_off.public_id, c.email or "") for c in customers),
            *(by(shop, other, five_off.public_id, c.email or "") for c in reversed(customers)),
        ),
        timeout=60,
    )

    assert len(results) == 12 and all(isinstance(r, Redeemed) for r in results)
    for customer in customers:
        assert (await Customer.get(id=customer.id)).points_balance == 0
        assert await lots_left(customer) == [0, 0]
