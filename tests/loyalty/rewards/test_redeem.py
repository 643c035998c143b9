"""redeem(): one transaction that spends points on a reward (the debit, oldest lots first, the
redemption and its code, the activity row, the code intent, the customer syncs), or a stable
error code and nothing written, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from loyalty.clock import utcnow
from loyalty.customers.members import next_expiries
from loyalty.earning.idempotency import IdempotencyKeyReusedError
from loyalty.errors import (
    CustomerExcludedError,
    CustomerNotFoundError,
    DomainError,
    InsufficientPointsError,
    InvalidPointsError,
    RedemptionLimitReachedError,
    RewardNotFoundError,
    TierNotAllowedError,
)
from loyalty.jobs import JobName
from loyalty.lifecycle.expiry import expire_due
from loyalty.models import (
    CodeStatus,
    Customer,
    EarningHistoryEntry,
    Redemption,
    RedemptionStatus,
    RewardKind,
    Shop,
)
from loyalty.rewards.catalogue import set_active
from loyalty.rewards.redeem import CODE_PREFIX, points_step, redeem
from loyalty.shopify.tokens import ShopifyUnavailableError
from tests.factories import create_customer, create_shop, create_tier
from tests.loyalty.rewards.helpers import (
    connected_shop,
    customer_with_lots,
    intents,
    kinds,
    lots_left,
    reward,
)


async def snapshot(customer: Customer) -> tuple[Any, ...]:
    """Everything a redemption writes for the customer, to show a refusal wrote nothing."""
    fresh = await Customer.get(id=customer.id)
    return (
        fresh.points_balance,
        fresh.redeemed_points,
        await lots_left(customer),
        await kinds(customer),
        await intents(customer),
        await Redemption.filter(customer_id=customer.id).count(),
    )


class TestRedeem:
    async def test_spends_the_points_and_writes_everything_in_one_go(self, db: str) -> None:
        shop = await connected_shop()
        five_off = await reward(shop)
        customer = await customer_with_lots(shop, (300, None), (400, None))

        done = await redeem(
            shop_id=shop.id, identifier=customer.email or "", reward_id=five_off.public_id
        )

        view = done.redemption
        assert not done.replayed and done.balance_after == 200
        assert view.reward_id == five_off.public_id and view.kind is RewardKind.FIXED_AMOUNT
        assert view.points_spent == 500 and view.value == Decimal("5.00")
        assert view.status is RedemptionStatus.ACTIVE and view.shopify_status is CodeStatus.PENDING
        assert view.discount_code and view.discount_code.startswith(CODE_PREFIX)
        assert view.expires_at == view.redeemed_at + timedelta(days=30)
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.redeemed_points) == (200, 500)
        assert fresh.lifetime_points == 700  # spending never lowers what was earned
        assert await lots_left(customer) == [0, 200]  # oldest lot first
        assert await kinds(customer) == ["reward_redeemed"]
        owed = await intents(customer)
        assert (
            str(JobName.SYNC_REWARD_CODES),
            {"redemption_id": view.id, "action": "create"},
        ) in owed
        assert (
            str(JobName.SYNC_SHOPIFY_METAFIELDS),
            {"event": "points_redeemed", "redemption_id": view.id},
        ) in owed
        assert set(done.jobs) == {
            str(JobName.SYNC_REWARD_CODES),
            str(JobName.SYNC_SHOPIFY_METAFIELDS),
        }

    async def test_fifo_across_lots_moves_the_next_expiry(self, db: str) -> None:
        """The lot expiring first is also the oldest: spending it moves the customer's next
        expiry to the following lot."""
        shop = await connected_shop()
        five_off = await reward(shop)
        customer = await customer_with_lots(shop, (300, 5), (300, 20), (300, 60))
        before = (await next_expiries([customer.id]))[customer.id]

        await redeem(
            shop_id=shop.id,
            identifier=str(customer.shopify_customer_id),
            reward_id=five_off.public_id,
        )

        assert await lots_left(customer) == [0, 100, 300]
        after = (await next_expiries([customer.id]))[customer.id]
        assert timedelta(days=14) < after - before < timedelta(days=16)

    async def test_a_variable_reward_spends_what_the_customer_chose(self, db: str) -> None:
        shop = await connected_shop()
        flexible = await reward(
            shop,
            name="Flexible",
            is_variable=True,
            min_points=100,
            max_points=1000,
            value_per_point=Decimal("0.01"),
        )
        customer = await customer_with_lots(shop, (1000, None))

        done = await redeem(
            shop_id=shop.id,
            identifier=customer.email or "",
            reward_id=flexible.public_id,
            points=350,
        )

        assert done.redemption.points_spent == 350 and done.redemption.value == Decimal("3.50")
        assert (await Customer.get(id=customer.id)).points_balance == 650

    async def test_store_credit_has_no_code_and_no_expiry(self, db: str) -> None:
        shop = await connected_shop(currency_code="EUR")
        credit = await reward(
            shop, name="€10 credit", kind=RewardKind.STORE_CREDIT, value=Decimal("10")
        )
        customer = await customer_with_lots(shop, (500, None))

        done = await redeem(
            shop_id=shop.id, identifier=customer.email or "", reward_id=credit.public_id
        )

        assert done.redemption.discount_code is None and done.redemption.expires_at is None
        assert (await Redemption.get(public_id=done.redemption.id)).currency_code == "EUR"

    async def test_an_idempotency_key_redeems_once(self, db: str) -> None:
        shop = await connected_shop()
        five_off = await reward(shop)
        customer = await customer_with_lots(shop, (2000, None))
        args = {
            "shop_id": shop.id,
            "identifier": customer.email or "",
            "reward_id": five_off.public_id,
        }

        first = await redeem(**args, idempotency_key="k1")
        again = await redeem(**args, idempotency_key="k1")

        assert again.replayed and again.redemption.id == first.redemption.id
        assert (await Customer.get(id=customer.id)).points_balance == 1500
        other = await customer_with_lots(shop, (2000, None))
        with pytest.raises(IdempotencyKeyReusedError):
            await redeem(**{**args, "identifier": other.email or ""}, idempotency_key="k1")
        with pytest.raises(IdempotencyKeyReusedError):  # the same key, other points
            await redeem(**args, points=600, idempotency_key="k1")
        assert (await redeem(**args, points=500, idempotency_key="k1")).replayed

    async def test_concurrent_repeats_of_one_key_redeem_once(self, db: str) -> None:
        shop = await connected_shop()
        five_off = await reward(shop)
        customer = await customer_with_lots(shop, (5000, None))

        results = await asyncio.gather(
            *(
                redeem(
                    shop_id=shop.id,
                    identifier=customer.email or "",
                    reward_id=five_off.public_id,
                    idempotency_key="same",
                )
                for _ in range(10)
            )
        )

        assert len({r.redemption.id for r in results}) == 1
        assert (await Customer.get(id=customer.id)).points_balance == 4500


class TestConcurrency:
    async def test_fifty_redemptions_with_points_for_one(self, db: str) -> None:
        """50 at once by one customer whose balance covers exactly one: one succeeds, 49 are
        refused insufficient_points, the balance ends at exactly 0 and one code is owed."""
        shop = await connected_shop()
        five_off = await reward(shop)
        customer = await customer_with_lots(shop, (200, None), (300, None))

        results = await asyncio.gather(
            *(
                redeem(
                    shop_id=shop.id, identifier=customer.email or "", reward_id=five_off.public_id
                )
                for _ in range(50)
            ),
            return_exceptions=True,
        )

        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1
        assert len(lost) == 49 and all(isinstance(e, InsufficientPointsError) for e in lost)
        assert {e.code for e in lost if isinstance(e, DomainError)} == {"insufficient_points"}
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.redeemed_points) == (0, 500)
        assert await lots_left(customer) == [0, 0]
        assert await Redemption.filter(customer_id=customer.id).count() == 1
        codes = [job for job, _ in await intents(customer) if job == JobName.SYNC_REWARD_CODES]
        assert len(codes) == 1

    async def test_simultaneous_redemptions_draw_each_lot_once(self, db: str) -> None:
        """Five at once by one customer with five 500-point lots: each waits for the one before
        (the row lock) and then sees its draw, so every lot is spent by exactly one of them and
        the lots end empty, not two draws on the oldest."""
        shop = await connected_shop()
        five_off = await reward(shop)  # 500 points
        customer = await customer_with_lots(shop, *((500, None),) * 5)

        results = await asyncio.gather(
            *(
                redeem(
                    shop_id=shop.id, identifier=customer.email or "", reward_id=five_off.public_id
                )
                for _ in range(5)
            )
        )

        assert len(results) == 5
        assert await lots_left(customer) == [0, 0, 0, 0, 0]
        drawn = [
            lot for r in await Redemption.filter(customer_id=customer.id) for lot, _ in r.spent_lots
        ]
        assert len(drawn) == 5 and len(set(drawn)) == 5 and 0 not in drawn
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.redeemed_points) == (0, 2500)


class TestRefusals:
    """Each refusal raises its stable code and writes nothing at all."""

    async def check(
        self, customer: Customer, error: type[DomainError], code: str, **kw: Any
    ) -> None:
        before = await snapshot(customer)
        with pytest.raises(error) as raised:
            await redeem(**kw)
        assert raised.value.code == code
        assert await snapshot(customer) == before

    async def test_insufficient_points(self, db: str) -> None:
        shop = await connected_shop()
        five_off = await reward(shop)
        customer = await customer_with_lots(shop, (499, None))
        await self.check(
            customer,
            InsufficientPointsError,
            "insufficient_points",
            shop_id=shop.id,
            identifier=customer.email,
            reward_id=five_off.public_id,
        )

    async def test_reward_unknown_inactive_or_another_shops(self, db: str) -> None:
        shop = await connected_shop()
        customer = await customer_with_lots(shop, (1000, None))
        inactive = await reward(shop)
        await set_active(shop_id=shop.id, reward_id=inactive.public_id, active=False)
        theirs = await reward(await connected_shop())
        for reward_id in ("reward_nope", inactive.public_id, theirs.public_id):
            await self.check(
                customer,
                RewardNotFoundError,
                "reward_not_found",
                shop_id=shop.id,
                identifier=customer.email,
                reward_id=reward_id,
            )

    async def test_customer_unknown_or_another_shops(self, db: str) -> None:
        shop = await connected_shop()
        five_off = await reward(shop)
        other_shop = await connected_shop()
        theirs = await customer_with_lots(other_shop, (1000, None))
        await self.check(
            theirs,
            CustomerNotFoundError,
            "customer_not_found",
            shop_id=shop.id,
            identifier=theirs.email,
            reward_id=five_off.public_id,
        )

    async def test_excluded_customer(self, db: str) -> None:
        shop = await connected_shop()
        five_off = await reward(shop)
        customer = await customer_with_lots(
            shop, (1000, None), is_excluded=True, excluded_by="staff"
        )
        await self.check(
            customer,
            CustomerExcludedError,
            "customer_excluded",
            shop_id=shop.id,
            identifier=customer.email,
            reward_id=five_off.public_id,
        )

    async def test_tier_not_allowed(self, db: str) -> None:
        shop = await connected_shop()
        silver = await create_tier(shop, points_required=100)
        gold = await create_tier(shop, points_required=5000)
        golden = await reward(shop, minimum_tier_id=gold.public_id)
        customer = await customer_with_lots(shop, (1000, None), vip_tier=silver)
        await self.check(
            customer,
            TierNotAllowedError,
            "tier_not_allowed",
            shop_id=shop.id,
            identifier=customer.email,
            reward_id=golden.public_id,
        )
        none = await customer_with_lots(shop, (1000, None))
        await self.check(
            none,
            TierNotAllowedError,
            "tier_not_allowed",
            shop_id=shop.id,
            identifier=none.email,
            reward_id=golden.public_id,
        )
        await Customer.filter(id=customer.id).update(vip_tier_id=gold.id)
        assert (
            await redeem(
                shop_id=shop.id, identifier=customer.email or "", reward_id=golden.public_id
            )
        ).redemption

    async def test_per_customer_limit(self, db: str) -> None:
        shop = await connected_shop()
        once = await reward(shop, per_customer_limit=1)
        customer = await customer_with_lots(shop, (5000, None))
        await redeem(shop_id=shop.id, identifier=customer.email or "", reward_id=once.public_id)
        await self.check(
            customer,
            RedemptionLimitReachedError,
            "redemption_limit_reached",
            shop_id=shop.id,
            identifier=customer.email,
            reward_id=once.public_id,
        )

    async def test_invalid_points(self, db: str) -> None:
        shop = await connected_shop()
        fixed = await reward(shop)
        flexible = await reward(
            shop,
            name="Flex",
            is_variable=True,
            min_points=100,
            max_points=1000,
            value_per_point=Decimal("0.004"),
        )
        customer = await customer_with_lots(shop, (5000, None))
        assert points_step(Decimal("0.004")) == 5  # 5 points buy a whole cent
        for reward_id, points in (
            (fixed.public_id, 499),
            (flexible.public_id, None),
            (flexible.public_id, 99),
            (flexible.public_id, 1001),
            (flexible.public_id, 102),
        ):
            await self.check(
                customer,
                InvalidPointsError,
                "invalid_points",
                shop_id=shop.id,
                identifier=customer.email,
                reward_id=reward_id,
                points=points,
            )

    @pytest.mark.parametrize(
        "state",
        [
            {"uninstalled_at": utcnow()},
            {"reauth_required_at": utcnow()},
            {"access_token_enc": None},
        ],
        ids=["uninstalled", "reauth_required", "never_connected"],
    )
    async def test_shopify_unavailable(self, db: str, state: dict[str, Any]) -> None:
        shop = await connected_shop()
        five_off = await reward(shop)
        customer = await customer_with_lots(shop, (1000, None))
        await Shop.filter(id=shop.id).update(**state)
        await self.check(
            customer,
            ShopifyUnavailableError,
            "shopify_unavailable",
            shop_id=shop.id,
            identifier=customer.email,
            reward_id=five_off.public_id,
        )


async def test_a_shop_that_never_connected_cannot_redeem(db: str) -> None:
    shop = await create_shop()
    customer = await create_customer(shop)
    with pytest.raises(ShopifyUnavailableError):
        await redeem(shop_id=shop.id, identifier=customer.email or "", reward_id="reward_x")


async def test_points_expiry_after_a_redemption_takes_only_what_is_left(db: str) -> None:
    """Redeemed points were drawn from the oldest lots, so when those lots' date comes the
    expiry takes nothing of them, and of a lot partly spent only its remainder."""
    shop = await connected_shop()
    five_off = await reward(shop)
    customer = await customer_with_lots(shop, (300, 5), (400, 10), (300, 60))
    await redeem(shop_id=shop.id, identifier=customer.email or "", reward_id=five_off.public_id)

    await expire_due(shop_id=shop.id, now=utcnow() + timedelta(days=11))

    fresh = await Customer.get(id=customer.id)
    assert await lots_left(customer) == [0, 0, 300, 0]  # the last row: the expiry entry
    expired = await EarningHistoryEntry.filter(customer_id=customer.id, action="points_expired")
    assert [e.points for e in expired] == [-200]  # only the second lot's remainder
    assert (fresh.points_balance, fresh.redeemed_points) == (300, 500)
