"""Referrals as the public API (a customer's, read-only) and the admin (the shop's) list them:
filtered by status, sorted and paged."""

from __future__ import annotations

from loyalty.customers.members import find_member
from loyalty.models import Referral, ReferralStatus
from loyalty.paging import NEWEST_FIRST, Paged, Sort, Window
from loyalty.referrals.views import RELATED, ReferralView, view

REFERRAL_SORTS = {"created_at": "created_at", "updated_at": "updated_at", "status": "status"}


async def list_referrals(
    *,
    shop_id: int,
    identifier: str | None = None,
    status: ReferralStatus | None = None,
    sort: Sort = NEWEST_FIRST,
    window: Window = Window(),  # noqa: B008  # frozen dataclass: an immutable default
) -> Paged[ReferralView]:
    """The shop's referrals, or with `identifier` (Shopify id or email) the ones that customer
    made as the advocate (CustomerNotFoundError when there is no such customer)."""
    query = Referral.filter(shop_id=shop_id)
    if identifier is not None:
        customer = await find_member(shop_id=shop_id, identifier=identifier, with_tier=False)
        query = query.filter(advocate_id=customer.id)
    if status is not None:
        query = query.filter(status=status)
    total = await query.count()
    rows = (
        await query.select_related(*RELATED)
        .order_by(*sort.order_by(REFERRAL_SORTS))
        .offset(window.offset)
        .limit(window.limit)
    )
    return Paged([view(row) for row in rows], total)
