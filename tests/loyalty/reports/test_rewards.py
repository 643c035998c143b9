"""loyalty.reports.rewards: each reward's redemptions, per shop, counted from the
(shop_id, reward_id) index alone (migration 0020), on SQLite and PostgreSQL."""

from __future__ import annotations

from loyalty.db import dialect
from loyalty.reports import rewards
from tests.loyalty.rewards.helpers import connected_shop, customer_with_lots
from tests.loyalty.rewards.test_redemption_life import redeemed
from tests.loyalty.test_big_shop_indexes import plan_of


class TestRedemptionCounts:
    async def test_counts_each_rewards_redemptions_of_the_shop(self, db: str) -> None:
        shop, other = await connected_shop(), await connected_shop()
        ada = await customer_with_lots(shop, (2_000, None))
        first = await redeemed(shop, ada)
        second = await redeemed(shop, ada, name="Another")
        again = await redeemed(shop, ada, name="Again")
        await redeemed(other, await customer_with_lots(other, (900, None)))
        counts = await rewards.redemption_counts(shop_id=shop.id)
        assert counts == {first.reward_id: 1, second.reward_id: 1, again.reward_id: 1}

    async def test_reads_the_index_only(self, db: str) -> None:
        """`COUNT(*)`: the plan never visits a redemption's row (the ORM's `COUNT("id")` did)."""
        shop = await connected_shop()
        plan = await plan_of(
            lambda: rewards.redemption_counts(shop_id=shop.id),
            "GROUP BY reward_id",
            "idx_redemption_shop_reward",
        )
        covering = "Index Only Scan" if dialect() == "postgres" else "COVERING INDEX"
        assert covering in plan and "idx_redemption_shop_reward" in plan, plan
