"""What Shopify is asked to create for a redemption: the discount's spec (the adapter's
`DiscountSpec`) from the redemption and its reward, and the customer's gid.

The amount granted is the redemption's own (`value`, fixed when redeemed: a variable reward's
points × value per point); the reward's other terms (minimum subtotal, applies-to,
combinations) are read when the code is created, moments after the redemption.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from loyalty.models import Customer, Redemption, Reward, RewardKind
from loyalty.shopify.discounts import CombinesWith, DiscountKind, DiscountSpec

KINDS = {
    RewardKind.FIXED_AMOUNT: DiscountKind.FIXED_AMOUNT,
    RewardKind.PERCENTAGE: DiscountKind.PERCENTAGE,
    RewardKind.FREE_SHIPPING: DiscountKind.FREE_SHIPPING,
    RewardKind.FREE_PRODUCT: DiscountKind.FREE_PRODUCT,
}


CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed
CODE_LENGTH = 10  # 50 bits: not guessable, so a code is never a coupon for strangers


def discount_code(prefix: str) -> str:
    """A new code for a discount we create: the prefix says which (a reward, a friend's)."""
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def customer_gid(customer: Customer) -> str:
    return f"gid://shopify/Customer/{customer.shopify_customer_id}"


def discount_spec(redemption: Redemption) -> DiscountSpec:
    """The code discount for a redemption loaded with its `reward` and `customer` (not store
    credit, which has no code): only that customer can use it."""
    assert redemption.code is not None  # every kind but store credit has one
    return reward_discount(
        redemption.reward,
        code=redemption.code,
        title=f"{redemption.reward.name} (loyalty reward {redemption.code})",
        kind=RewardKind(redemption.kind),
        customer_gid=customer_gid(redemption.customer),
        value=Decimal(redemption.value),
        starts_at=redemption.redeemed_at,
        ends_at=redemption.expires_at,
    )


def reward_discount(
    reward: Reward,
    *,
    code: str,
    title: str,
    kind: RewardKind,
    customer_gid: str | None,
    value: Decimal,
    starts_at: datetime,
    ends_at: datetime | None,
) -> DiscountSpec:
    """A code discount on `reward`'s terms (minimum subtotal, applies-to, combinations), for
    one customer (`customer_gid`) or, with None, any buyer (a referred friend's code)."""
    minimum = reward.minimum_subtotal
    return DiscountSpec(
        code=code,
        title=title[:255],
        kind=KINDS[kind],
        customer_gid=customer_gid,
        value=value,
        free_variant_gid=reward.free_variant_gid,
        minimum_subtotal=Decimal(minimum) if minimum else None,
        collection_gids=tuple(reward.collection_gids or ()),
        product_gids=tuple(reward.product_gids or ()),
        combines_with=CombinesWith(
            order=reward.combines_with_order,
            product=reward.combines_with_product,
            shipping=reward.combines_with_shipping,
        ),
        starts_at=starts_at,
        ends_at=ends_at,
    )
