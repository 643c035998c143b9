"""The programme's members as the public API reads them: one by Shopify id or email, or a
filtered, sorted page of them, each with the date their next points expire. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from loyalty import sql
from loyalty.clock import parse_db_datetime
from loyalty.customers import lookup
from loyalty.customers.identifiers import normalize_email, parse_customer_identifier
from loyalty.errors import CustomerNotFoundError
from loyalty.models import Customer
from loyalty.paging import NEWEST_FIRST, Paged, Sort, Window
from loyalty.reports import customer_counts

LoyaltyStatus = Literal["member", "excluded"]
# Public names (the seed's) → columns. `points` is the spendable balance, `current_points`.
CUSTOMER_SORTS = {
    "created_at": "created_at",
    "points": "points_balance",
    "lifetime_points": "lifetime_points",
    "redeemed_points": "redeemed_points",
}
MAX_FILTER_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Member:
    customer: Customer  # with `vip_tier` fetched
    points_expire_at: datetime | None  # when the oldest unspent points expire, if they do


async def find_member(
    *, shop_id: int, identifier: str, with_tier: bool = True, lock: bool = False
) -> Customer:
    """The shop's customer by Shopify customer id (or `gid://shopify/Customer/…`) or email,
    case-insensitive; with several customers on one email, the first enrolled. `lock`: the
    row locked (`FOR UPDATE`, inside the caller's transaction) by the same statement. Raises
    CustomerNotFoundError (also for another shop's customer)."""
    customer: Customer | None = None
    query = lookup.matching(shop_id, parse_customer_identifier(identifier))
    if query is not None:
        if with_tier:
            query = query.select_related("vip_tier")
        if lock:
            query = query.select_for_update()
        customer = await query.first()
    if customer is None:
        raise CustomerNotFoundError("No customer with that Shopify customer ID or email exists")
    return customer


async def get_member(*, shop_id: int, identifier: str) -> Member:
    """Raises CustomerNotFoundError."""
    customer = await find_member(shop_id=shop_id, identifier=identifier)
    expiries = await next_expiries([customer.id])
    return Member(customer, expiries.get(customer.id))


async def list_members(
    *,
    shop_id: int,
    email: str | None = None,
    loyalty_status: LoyaltyStatus | None = None,
    sort: Sort = NEWEST_FIRST,
    window: Window = Window(),  # noqa: B008  # frozen dataclass: an immutable default
) -> Paged[Member]:
    """`email`: a substring of the email, compared as emails are (ASCII case-insensitive)."""
    query = Customer.filter(shop_id=shop_id)
    fragment = normalize_email(email)
    if fragment:
        query = query.filter(email_key__contains=fragment)
    if loyalty_status is not None:
        query = query.filter(is_excluded=loyalty_status == "excluded")
    if fragment:
        total = await query.count()
    else:  # the shop's counts, not a count over every customer
        counts = await customer_counts.customer_counts(shop_id=shop_id)
        total = (
            counts.everyone
            if loyalty_status is None
            else counts.with_status(loyalty_status == "excluded")
        )
    customers = (
        await query.select_related("vip_tier")
        .order_by(*sort.order_by(CUSTOMER_SORTS))
        .offset(window.offset)
        .limit(window.limit)
    )
    expiries = await next_expiries([c.id for c in customers])
    return Paged([Member(c, expiries.get(c.id)) for c in customers], total)


async def next_expiries(customer_ids: list[int]) -> dict[int, datetime]:
    """For each customer, when their oldest still-unspent approved points expire."""
    if not customer_ids:
        return {}
    marks = ", ".join(f"${n}" for n in range(1, len(customer_ids) + 1))
    rows = await sql.fetch_all(
        f"""
        SELECT customer_id, MIN(points_expiry_at) AS expires_at FROM earning_history_entry
        WHERE customer_id IN ({marks}) AND status = 'approved' AND points_remaining > 0
          AND points_expiry_at IS NOT NULL
        GROUP BY customer_id
        """,
        *customer_ids,
    )
    found: dict[int, datetime] = {}
    for row in rows:
        when = parse_db_datetime(row["expires_at"])
        if when is not None:
            found[int(row["customer_id"])] = when
    return found
