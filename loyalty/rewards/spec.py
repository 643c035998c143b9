"""What Shopify is asked to create for a redemption: the discount's spec (the adapter's
`DiscountSpec`) from the redemption and its reward, and the customer's gid.

The amount granted is the redemption's own (`value`, fixed when redeemed: a variable reward's
points × value per point); the reward's other terms (minimum subtotal, applies-to,
combinations) are read when the code is created, moments after the redemption.
"""

from __future__ import annotations

from decimal import Decimal

from loyalty.models import Customer, Redemption, RewardKind
from loyalty.shopify.discounts import CombinesWith, DiscountKind, DiscountSpec

KINDS = {
    RewardKind.FIXED_AMOUNT: DiscountKind.FIXED_AMOUNT,
    RewardKind.PERCENTAGE: DiscountKind.PERCENTAGE,
    RewardKind.FREE_SHIPPING: DiscountKind.FREE_SHIPPING,
    RewardKind.FREE_PRODUCT: DiscountKind.FREE_PRODUCT,
}


def customer_gid(customer: Customer) -> str:
    return f"gid://shopify/Customer/{customer.shopify_customer_id}"


def discount_spec(redemption: Redemption) -> DiscountSpec:
    """The code discount for a redemption loaded with its `reward` and `customer` (not store
    credit, which has no code)."""
    reward = redemption.reward
    assert redemption.code is not None  # every kind but store credit has one
    minimum = reward.minimum_subtotal
    return DiscountSpec(
        code=redemption.code,
        title=f"{reward.name} (loyalty reward {redemption.code})"[:255],
        kind=KINDS[RewardKind(redemption.kind)],
        customer_gid=customer_gid(redemption.customer),
        value=Decimal(redemption.value),
        free_variant_gid=reward.free_variant_gid,
        minimum_subtotal=Decimal(minimum) if minimum else None,
        collection_gids=tuple(reward.collection_gids or ()),
        product_gids=tuple(reward.product_gids or ()),
        combines_with=CombinesWith(
            order=reward.combines_with_order,
            product=reward.combines_with_product,
            shipping=reward.combines_with_shipping,
        ),
        starts_at=redemption.redeemed_at,
        ends_at=redemption.expires_at,
    )
