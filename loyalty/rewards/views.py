"""A redemption as every surface shows it (the API's `reward_history_entry`, the storefront's
"my rewards", the admin's customer page): plain values read from the row and its reward."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from loyalty.models import CodeStatus, Redemption, RedemptionStatus, RewardKind


@dataclass(frozen=True, slots=True)
class RedemptionView:
    id: str  # "cr_…"
    reward_id: str
    reward_name: str
    kind: RewardKind  # the API's `reward_discount_type`
    shopify_customer_id: int
    points_spent: int
    value: Decimal  # amount or percent granted (0: free shipping, free product)
    discount_code: str | None  # None for store credit
    status: RedemptionStatus
    shopify_status: CodeStatus
    is_refunded: bool  # the points came back (cancelled, refused, or expired with refund)
    redeemed_at: datetime
    expires_at: datetime | None
    used_at: datetime | None  # the API's `discount_code_redeemed_at`
    used_order_id: int | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime


def view(redemption: Redemption) -> RedemptionView:
    """The view of a redemption loaded with its `reward` and `customer`."""
    reward = redemption.reward
    return RedemptionView(
        id=redemption.public_id,
        reward_id=reward.public_id,
        reward_name=reward.name,
        kind=RewardKind(redemption.kind),
        shopify_customer_id=redemption.customer.shopify_customer_id,
        points_spent=redemption.points_spent,
        value=Decimal(redemption.value),
        discount_code=redemption.code,
        status=RedemptionStatus(redemption.status),
        shopify_status=CodeStatus(redemption.shopify_status),
        is_refunded=redemption.points_refunded_at is not None,
        redeemed_at=redemption.redeemed_at,
        expires_at=redemption.expires_at,
        used_at=redemption.used_at,
        used_order_id=redemption.used_order_id,
        cancel_reason=redemption.cancel_reason,
        created_at=redemption.created_at,
        updated_at=redemption.updated_at,
    )
