"""What the storefront widget shows: a customer's balances, tier and progress, and the ways to
earn with the points this customer would get and whether they already did.

Read-only, except `ensure_customer`, which enrolls a logged-in Shopify customer the app has not
seen yet (their webhook may still be on its way) so they can claim at once. The widget's
page-view read (many customers' summaries in one statement) is in
loyalty.customers.storefront_summaries; `summarise` is the tier-progress rule both share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from loyalty.customers import lookup
from loyalty.models import (
    API_AWARDABLE_CATEGORIES,
    Customer,
    EarningHistoryEntry,
    EarningRule,
    EarningStatus,
    Shop,
    VipTier,
)
from loyalty.points import ONE, multiplied_points
from loyalty.shops.api_keys import ShopContext

RECENT_HISTORY = 10


@dataclass(frozen=True)
class StorefrontRule:
    id: str
    name: str
    label: str
    category: str
    action: str
    base_points: int
    points: int  # with this customer's multiplier (per currency unit for purchase rules)
    call_to_action_url: str | None
    approval_time_days: int
    claimable: bool  # social/engagement: the widget may claim it
    completed: bool  # this customer already earned it (claimable rules are once per customer)


@dataclass(frozen=True)
class TierView:
    id: str
    name: str
    points_required: int
    points_multiplier: Decimal


@dataclass(frozen=True)
class HistoryItem:
    id: str
    action: str
    points: int
    status: str
    points_given_at: datetime | None
    points_due_at: datetime | None
    points_expiry_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class CustomerSummary:
    shopify_customer_id: int
    excluded: bool
    points_balance: int
    pending_points: int
    lifetime_points: int
    tier: TierView | None
    next_tier: TierView | None
    points_to_next_tier: int | None
    progress_to_next_tier: float | None  # 0..1 between the current and the next threshold
    history: list[HistoryItem] = field(default_factory=list)


def shop_context(shop: Shop) -> ShopContext:
    """What the award service needs to know about the shop."""
    return ShopContext(id=shop.id, domain=shop.domain, points_expiry_days=shop.points_expiry_days)


async def ensure_customer(*, shop: Shop, shopify_customer_id: int) -> Customer:
    """The customer, enrolled (zero balances, entry tier) if the app has not seen them yet."""
    customer = await lookup.by_shopify_id(shop.id, shopify_customer_id)
    if customer is not None:
        return customer
    entry_tier = (
        await VipTier.filter(shop=shop, points_required__lte=0).order_by("-points_required").first()
    )
    customer, _ = await Customer.get_or_create(
        shop=shop,
        shopify_customer_id=shopify_customer_id,
        defaults={"vip_tier": entry_tier},
    )
    return customer


def _view(tier: VipTier) -> TierView:
    return TierView(tier.public_id, tier.name, tier.points_required, tier.points_multiplier)


async def tiers_of(shop: Shop) -> list[TierView]:
    return [_view(t) for t in await VipTier.filter(shop=shop).order_by("points_required")]


async def ways_to_earn(*, shop: Shop, customer: Customer | None) -> list[StorefrontRule]:
    """Active rules: those a shopper can claim first (the widget's buttons lead), then the rest;
    most valuable first within each group."""
    multiplier = ONE
    completed: set[int] = set()
    if customer is not None:
        if customer.vip_tier_id is not None:
            tier = await VipTier.get_or_none(id=customer.vip_tier_id)
            multiplier = tier.points_multiplier if tier else ONE
        earned = (
            await EarningHistoryEntry.filter(
                customer=customer, rule_id__isnull=False, order_id__isnull=True
            )
            .exclude(status=EarningStatus.REJECTED)
            .values_list("rule_id", flat=True)
        )
        completed = {int(rule_id) for rule_id in earned}  # type: ignore[call-overload]
    rules = await EarningRule.filter(shop=shop, is_active=True).order_by("-points", "id")
    rules.sort(key=lambda rule: rule.category not in API_AWARDABLE_CATEGORIES)  # stable
    return [
        StorefrontRule(
            id=rule.public_id,
            name=rule.name,
            label=rule.customer_facing_label or rule.name,
            category=str(rule.category),
            action=rule.action,
            base_points=rule.points,
            points=multiplied_points(rule.points, multiplier),
            call_to_action_url=rule.call_to_action_url,
            approval_time_days=rule.approval_time_days,
            claimable=rule.category in API_AWARDABLE_CATEGORIES,
            completed=rule.id in completed,
        )
        for rule in rules
    ]


async def customer_summary(*, shop: Shop, customer: Customer) -> CustomerSummary:
    tiers = await VipTier.filter(shop=shop).order_by("points_required")
    entries = (
        await EarningHistoryEntry.filter(customer=customer)
        .order_by("-created_at", "-id")
        .limit(RECENT_HISTORY)
    )
    return summarise(
        customer.shopify_customer_id,
        excluded=customer.is_excluded,
        balances=(customer.points_balance, customer.pending_points, customer.lifetime_points),
        tier_pk=customer.vip_tier_id,
        tiers=[(t.id, _view(t)) for t in tiers],
        history=[
            HistoryItem(
                id=e.public_id,
                action=e.action,
                points=e.points,
                status=str(e.status),
                points_given_at=e.points_given_at,
                points_due_at=e.points_due_at,
                points_expiry_at=e.points_expiry_at,
                created_at=e.created_at,
            )
            for e in entries
        ],
    )


def summarise(
    shopify_customer_id: int,
    *,
    excluded: bool,
    balances: tuple[int, int, int],  # current, pending, lifetime
    tier_pk: int | None,
    tiers: list[tuple[int, TierView]],  # (primary key, view), by points required
    history: list[HistoryItem],
) -> CustomerSummary:
    balance, pending, lifetime = balances
    held = next((view for pk, view in tiers if pk == tier_pk), None)
    floor = held.points_required if held else 0
    next_tier = next(
        (view for _, view in tiers if view.points_required > max(floor, lifetime)), None
    )
    to_next = progress = None
    if next_tier is not None:
        to_next = next_tier.points_required - lifetime
        span = next_tier.points_required - floor
        done = (lifetime - floor) / span if span > 0 else 0.0
        progress = round(min(1.0, max(0.0, done)), 4)
    return CustomerSummary(
        shopify_customer_id=shopify_customer_id,
        excluded=excluded,
        points_balance=balance,
        pending_points=pending,
        lifetime_points=lifetime,
        tier=held,
        next_tier=next_tier,
        points_to_next_tier=to_next,
        progress_to_next_tier=progress,
        history=history,
    )
