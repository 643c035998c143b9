"""A customer's loyalty state as the syncs show it everywhere (Shopify metafields, marketing
profiles): balances, tier name, membership, referral code and link, and the next expiry (its
date in the shop's timezone and the points expiring that day). Read fresh for every run, so a
sync always pushes the *current* state and repeating one is harmless."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loyalty.customers.referral_codes import links_for
from loyalty.models import Customer, EarningHistoryEntry, EarningStatus, Shop

MEMBER = "member"
EXCLUDED = "excluded"


@dataclass(frozen=True, slots=True)
class CustomerState:
    id: int
    shopify_customer_id: int
    email: str | None
    first_name: str
    points_balance: int
    pending_points: int
    lifetime_points: int
    vip_tier: str | None  # the tier's name
    status: str  # "member" or "excluded"
    next_expiry_date: date | None  # in the shop's timezone
    next_expiry_points: int  # points expiring on that date (0 when none)
    last_activity_at: datetime | None
    redacted: bool  # customers/redact erased them: nothing personal may be sent anywhere
    referral_code: str | None = None  # the member's code (loyalty.customers.referral_codes)
    referral_url: str | None = None  # the friend's landing page for that code

    @property
    def gid(self) -> str:
        return f"gid://shopify/Customer/{self.shopify_customer_id}"


def shop_zone(shop: Shop) -> ZoneInfo:
    try:
        return ZoneInfo(shop.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def load_states(
    *, shop: Shop, customer_ids: list[int], now: datetime
) -> dict[int, CustomerState]:
    """The current state of each of the shop's customers in `customer_ids` (absent: unknown,
    or another shop's). Two queries, whatever the number of customers."""
    if not customer_ids:
        return {}
    customers = await Customer.filter(id__in=customer_ids, shop_id=shop.id).select_related(
        "vip_tier"
    )
    lots = await EarningHistoryEntry.filter(
        customer_id__in=[c.id for c in customers],
        status=EarningStatus.APPROVED,
        points_remaining__gt=0,
        points_expiry_at__gt=now,
    ).values_list("customer_id", "points_remaining", "points_expiry_at")
    links = await links_for(
        shop_id=shop.id, shop_domain=shop.domain, customer_ids=[c.id for c in customers]
    )
    zone = shop_zone(shop)
    by_day: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for customer_id, remaining, expiry_at in lots:
        day = _as_utc(expiry_at).astimezone(zone).date()
        by_day[int(customer_id)][day] += int(remaining)
    states = {}
    for customer in customers:
        days = by_day.get(customer.id)
        first = min(days) if days else None
        states[customer.id] = CustomerState(
            id=customer.id,
            shopify_customer_id=customer.shopify_customer_id,
            email=customer.email,
            first_name=customer.first_name,
            points_balance=customer.points_balance,
            pending_points=customer.pending_points,
            lifetime_points=customer.lifetime_points,
            vip_tier=customer.vip_tier.name if customer.vip_tier else None,
            status=EXCLUDED if customer.is_excluded else MEMBER,
            next_expiry_date=first,
            next_expiry_points=days[first] if days and first else 0,
            last_activity_at=customer.updated_at,
            redacted=customer.redacted_at is not None,
            referral_code=links[customer.id][0] if customer.id in links else None,
            referral_url=links[customer.id][1] if customer.id in links else None,
        )
    return states


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
