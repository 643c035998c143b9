"""A customer's redemptions as the public API (`reward-history`), the storefront ("my rewards")
and the admin read them: filtered by status, sorted and paged. Read-only."""

from __future__ import annotations

from loyalty.customers.members import find_member
from loyalty.models import Redemption, RedemptionStatus
from loyalty.paging import NEWEST_FIRST, Paged, Sort, Window
from loyalty.rewards.views import RedemptionView, view

REWARD_HISTORY_SORTS = {"created_at": "created_at", "points_spent": "points_spent"}


async def list_redemptions(
    *,
    shop_id: int,
    identifier: str,
    status: RedemptionStatus | None = None,
    sort: Sort = NEWEST_FIRST,
    window: Window = Window(),  # noqa: B008  # frozen dataclass: an immutable default
) -> Paged[RedemptionView]:
    """The customer's (`identifier`: Shopify id or email) redemptions. Raises
    CustomerNotFoundError."""
    customer = await find_member(shop_id=shop_id, identifier=identifier, with_tier=False)
    query = Redemption.filter(shop_id=shop_id, customer_id=customer.id)
    if status is not None:
        query = query.filter(status=status)
    total = await query.count()
    rows = (
        await query.select_related("reward", "customer")
        .order_by(*sort.order_by(REWARD_HISTORY_SORTS))
        .offset(window.offset)
        .limit(window.limit)
    )
    return Paged([view(row) for row in rows], total)
