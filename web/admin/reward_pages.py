"""`/app/rewards…`: the Rewards pages (the catalogue listed, a reward's form) and what the
customer page shows of a customer's redemptions. Read-only: every change goes through
`/app/api/rewards` and `/app/api/redemptions` (web.admin.api), like every other admin page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from loyalty.models import Reward, RewardKind, Shop
from loyalty.paging import Window
from loyalty.rewards import catalogue
from loyalty.rewards.history import list_redemptions
from loyalty.tiers import configuration as tiers
from web.admin.api.customer_redemptions import is_cancellable
from web.admin.api.rewards import redemption_counts, tier_ids
from web.admin.documents import AdminDocument

PageContext = Callable[[Request, AdminDocument], Awaitable[dict[str, Any]]]

REDEMPTIONS_SHOWN = 50  # the customer page's latest redemptions (the API pages through all)

# Each kind as the merchant reads it, and what it is for.
KINDS: dict[RewardKind, dict[str, str]] = {
    RewardKind.FIXED_AMOUNT: {
        "label": "Amount off",
        "help": "Money off the order (or off chosen products), as a one-time discount code.",
    },
    RewardKind.PERCENTAGE: {
        "label": "Percentage off",
        "help": "A percentage off the order (or off chosen products), as a discount code.",
    },
    RewardKind.FREE_SHIPPING: {
        "label": "Free shipping",
        "help": "Free shipping on one order, as a discount code.",
    },
    RewardKind.FREE_PRODUCT: {
        "label": "Free product",
        "help": "A product variant free with an order of qualifying products.",
    },
    RewardKind.STORE_CREDIT: {
        "label": "Store credit",
        "help": "Shopify store credit in the customer's account; no code to type.",
    },
}


def _money(value: Decimal | None, currency: str) -> str:
    return f"{Decimal(value or 0):,.2f} {currency}"


def describe(reward: Reward, shop: Shop) -> str:
    """What the customer gets, in a few words: `5.00 USD off`, `10% off`, …"""
    currency = shop.currency_code
    kind = RewardKind(reward.kind)
    if reward.is_variable:
        per_point = Decimal(reward.value_per_point or 0).normalize()
        what = "off" if kind is RewardKind.FIXED_AMOUNT else "store credit"
        return (
            f"{per_point:f} {currency} {what} per point, "
            f"{reward.min_points or 0:,} to {reward.max_points or 0:,} points"
        )
    if kind is RewardKind.FIXED_AMOUNT:
        return f"{_money(reward.value, currency)} off"
    if kind is RewardKind.PERCENTAGE:
        return f"{Decimal(reward.value).normalize():f}% off"
    if kind is RewardKind.STORE_CREDIT:
        return f"{_money(reward.value, currency)} store credit"
    return KINDS[kind]["label"]


async def rewards_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    shop = document.shop
    return {
        "rewards": await catalogue.list_rewards(shop_id=shop.id),
        "redemptions": await redemption_counts(shop.id),
        "tier_names": await _tier_names(shop),
        "kinds": KINDS,
        "describe": describe,
    }


async def new_reward_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    return await _form_context(document, None)


async def edit_reward_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    reward = await catalogue.get_reward(
        shop_id=document.shop.id, reward_id=request.path_params["reward_id"]
    )
    return await _form_context(document, reward)


async def _form_context(document: AdminDocument, reward: Reward | None) -> dict[str, Any]:
    shop = document.shop
    counts = await redemption_counts(shop.id) if reward is not None else {}
    tier_public_ids = await tier_ids(shop.id)
    return {
        "reward": reward,
        "redeemed": counts.get(reward.id, 0) if reward is not None else 0,
        "minimum_tier": tier_public_ids.get(reward.minimum_tier_id or 0) if reward else None,
        "tiers": await tiers.list_tiers(shop=shop),
        "kinds": KINDS,
        "currency": shop.currency_code,
    }


async def _tier_names(shop: Shop) -> dict[int, str]:
    return {tier.id: tier.name for tier in await tiers.list_tiers(shop=shop)}


async def customer_redemptions(shop: Shop, shopify_customer_id: int) -> dict[str, Any]:
    """The customer page's part: their latest redemptions, newest first."""
    found = await list_redemptions(
        shop_id=shop.id,
        identifier=str(shopify_customer_id),
        window=Window(limit=REDEMPTIONS_SHOWN),
    )
    return {
        "redemptions": found.items,
        "redemptions_total": found.total,
        "cancellable": is_cancellable,
        "kinds": KINDS,
    }


# (path, template, context, route name), as web.admin.pages.PAGES.
PAGES: list[tuple[str, str, PageContext, str]] = [
    ("/app/rewards", "app/rewards.html", rewards_context, "admin.rewards"),
    ("/app/rewards/new", "app/reward_form.html", new_reward_context, "admin.rewards.new"),
    ("/app/rewards/{reward_id}", "app/reward_form.html", edit_reward_context, "admin.rewards.edit"),
]
