"""A customer's points ledger as the public API reads it: their earning-history entries,
filtered by status, sorted and paged. Read-only."""

from __future__ import annotations

from loyalty.customers.members import find_member
from loyalty.models import EarningHistoryEntry, EarningStatus
from loyalty.paging import NEWEST_FIRST, Paged, Sort, Window

HISTORY_SORTS = {
    "created_at": "created_at",
    "points": "points",
    "points_given_at": "points_given_at",
}


async def list_history(
    *,
    shop_id: int,
    identifier: str,
    status: EarningStatus | None = None,
    sort: Sort = NEWEST_FIRST,
    window: Window = Window(),  # noqa: B008  # frozen dataclass: an immutable default
) -> Paged[EarningHistoryEntry]:
    """Entries with `rule` fetched. Raises CustomerNotFoundError."""
    customer = await find_member(shop_id=shop_id, identifier=identifier, with_tier=False)
    query = EarningHistoryEntry.filter(customer_id=customer.id)
    if status is not None:
        query = query.filter(status=status)
    total = await query.count()
    entries = (
        await query.select_related("rule")
        .order_by(*sort.order_by(HISTORY_SORTS))
        .offset(window.offset)
        .limit(window.limit)
    )
    return Paged(list(entries), total)
