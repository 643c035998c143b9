"""What the storefront widget shows: a customer's balances, tier and progress, and the ways to
earn with the points this customer would get and whether they already did.

Read-only, except `ensure_customer`, which enrolls a logged-in Shopify customer the app has not
seen yet (their webhook may still be on its way) so they can claim at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from loyalty import sql
from loyalty.clock import parse_db_datetime
from loyalty.customers import lookup
from loyalty.db import dialect
from loyalty.models import (
    API_AWARDABLE_CATEGORIES,
    Customer,
    EarningHistoryEntry,
    EarningRule,
    EarningStatus,
    Shop,
    VipTier,
)
from loyalty.points import ONE, as_multiplier, multiplied_points
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
    return _summary(
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


def _summary(
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


# The widget's call on every storefront page view: the customer, the shop's tiers and the recent
# history in one round trip (three ORM queries before: bench/storefront-proxy). The two lists come
# back as JSON text, in no promised order; Python orders them.
_SUMMARY_SQL = """
SELECT c.shopify_customer_id, c.is_excluded, c.points_balance, c.pending_points,
       c.lifetime_points, c.vip_tier_id,
       (SELECT {agg}({obj}('pk', t.id, 'id', t.public_id, 'name', t.name,
                          'points_required', t.points_required,
                          'points_multiplier', t.points_multiplier))
        FROM vip_tier t WHERE t.shop_id = c.shop_id) AS tiers,
       (SELECT {agg}({obj}('pk', e.id, 'id', e.public_id, 'action', e.action,
                          'points', e.points, 'status', e.status,
                          'points_given_at', e.points_given_at, 'points_due_at', e.points_due_at,
                          'points_expiry_at', e.points_expiry_at, 'created_at', e.created_at))
        FROM (SELECT * FROM earning_history_entry h WHERE h.customer_id = c.id
              ORDER BY h.created_at DESC, h.id DESC LIMIT {limit}) AS e) AS history
FROM customer c WHERE c.shop_id = $1 AND c.shopify_customer_id = $2
"""
_SUMMARY_BY_DIALECT = {
    "postgres": _SUMMARY_SQL.format(agg="json_agg", obj="json_build_object", limit=RECENT_HISTORY),
    "sqlite": _SUMMARY_SQL.format(agg="json_group_array", obj="json_object", limit=RECENT_HISTORY),
}


async def summary_of(*, shop_id: int, shopify_customer_id: int) -> CustomerSummary | None:
    """`customer_summary` of the shop's customer with this Shopify id, in one statement; None
    when the app does not know the customer (the caller enrolls them: `ensure_customer`)."""
    row = await sql.fetch_one(_SUMMARY_BY_DIALECT[dialect()], shop_id, shopify_customer_id)
    if row is None:
        return None
    tiers = sorted(json.loads(row["tiers"] or "[]"), key=lambda t: t["points_required"])
    entries = sorted(
        json.loads(row["history"] or "[]"),
        key=lambda e: (parse_db_datetime(e["created_at"]), e["pk"]),
        reverse=True,
    )
    return _summary(
        int(row["shopify_customer_id"]),
        excluded=bool(row["is_excluded"]),
        balances=(row["points_balance"], row["pending_points"], row["lifetime_points"]),
        tier_pk=row["vip_tier_id"],
        tiers=[
            (
                t["pk"],
                TierView(
                    t["id"], t["name"], t["points_required"], as_multiplier(t["points_multiplier"])
                ),
            )
            for t in tiers
        ],
        history=[
            HistoryItem(
                id=e["id"],
                action=e["action"],
                points=e["points"],
                status=e["status"],
                points_given_at=parse_db_datetime(e["points_given_at"]),
                points_due_at=parse_db_datetime(e["points_due_at"]),
                points_expiry_at=parse_db_datetime(e["points_expiry_at"]),
                created_at=_required(parse_db_datetime(e["created_at"])),
            )
            for e in entries
        ],
    )


def _required(value: datetime | None) -> datetime:
    assert value is not None  # created_at is NOT NULL
    return value
