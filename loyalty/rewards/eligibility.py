"""Who may redeem what: the one home of the tier and per-customer-limit rules, read by
`redeem` (which refuses, under the customer's lock) and by `offers_for` (what the storefront
and the admin show a customer: each active reward, whether they can redeem it now, and how
many points they still need).

- Tier: a reward with a minimum tier is for customers whose tier requires at least as many
  points as that tier (no tier: below every tier).
- Limit: redemptions count unless cancelled (a cancelled one gave its points back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.functions import Count

from loyalty.customers.members import find_member
from loyalty.models import Customer, Redemption, RedemptionStatus, Reward, VipTier
from loyalty.rewards.catalogue import list_rewards


async def tier_points(tier_ids: Iterable[int | None]) -> dict[int, int]:
    """Each tier's points_required, by id."""
    wanted = sorted({t for t in tier_ids if t is not None})
    if not wanted:
        return {}
    return dict(await VipTier.filter(id__in=wanted).values_list("id", "points_required"))


def tier_allows(reward: Reward, customer: Customer, required: dict[int, int]) -> bool:
    """`required`: tier_points of the reward's and the customer's tiers."""
    if reward.minimum_tier_id is None:
        return True
    held = required.get(customer.vip_tier_id, -1) if customer.vip_tier_id else -1
    return held >= required.get(reward.minimum_tier_id, 0)


async def used_counts(customer_id: int, reward_ids: Iterable[int]) -> dict[int, int]:
    """How many times the customer redeemed each reward (cancelled ones not counted)."""
    wanted = sorted(set(reward_ids))
    if not wanted:
        return {}
    rows = (
        await Redemption.filter(customer_id=customer_id, reward_id__in=wanted)
        .exclude(status=RedemptionStatus.CANCELLED)
        .annotate(used=Count("id"))
        .group_by("reward_id")
        .values_list("reward_id", "used")
    )
    return {int(reward_id): int(used) for reward_id, used in rows}


def limit_reached(reward: Reward, used: int) -> bool:
    return reward.per_customer_limit is not None and used >= reward.per_customer_limit


@dataclass(frozen=True, slots=True)
class Offer:
    reward: Reward
    points_needed: int  # more points the customer needs for its (minimum) cost; 0: enough
    tier_allowed: bool
    limit_reached: bool

    @property
    def redeemable(self) -> bool:
        return self.points_needed == 0 and self.tier_allowed and not self.limit_reached


async def offers_for(*, shop_id: int, identifier: str) -> list[Offer]:
    """The shop's active rewards as this customer (Shopify id or email) sees them, cheapest
    first. Raises CustomerNotFoundError."""
    customer = await find_member(shop_id=shop_id, identifier=identifier, with_tier=False)
    rewards = await list_rewards(shop_id=shop_id, is_active=True)
    required = await tier_points([customer.vip_tier_id, *(r.minimum_tier_id for r in rewards)])
    used = await used_counts(customer.id, [r.id for r in rewards])
    balance = max(customer.points_balance, 0)
    return [
        Offer(
            reward=reward,
            points_needed=max(reward.points_cost - balance, 0),
            tier_allowed=tier_allows(reward, customer, required),
            limit_reached=limit_reached(reward, used.get(reward.id, 0)),
        )
        for reward in rewards
    ]
