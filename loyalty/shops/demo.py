"""The demo shops: an idempotent seed that shows every path of the award API, rewards of each
common kind to spend the points on (a fixed amount, a percentage, free shipping and a variable
store credit), which pass loyalty.rewards.catalogue's validation (a test holds every one to it:
this layer sits below the catalogue and cannot call it), active sign-up and newsletter rules,
and the referral programme switched on (a referral rule paying the advocate, the $5 reward for
the friend), so the demo storefront shows each member's share panel.

Running it again changes nothing that exists; it only adds a fresh customer when every demo
customer already holds the showcase award, so the printed curl always earns a first 201.

`demo.myshopify.com` keeps the documented public ids (`rule_demo_instagram`, …); any other demo
shop (`loyalty demo --shop`) gets the same ids with a suffix derived from its domain, because
public ids are unique across shops. A shop that exists and is not a demo shop is never seeded.
Given a SecretBox the seed also connects the shop to the local Shopify (a fresh demo token,
loyalty.shops.demo_mode) and owes a sync of the programme and of every customer, in the same
transaction, so what the local Shopify holds (it forgets on restart) is written again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from loyalty.crypto import SecretBox
from loyalty.models import (
    ApiKeyScope,
    Customer,
    EarningHistoryEntry,
    EarningRule,
    ReferralProgramme,
    Reward,
    RewardKind,
    RuleCategory,
    Shop,
    VipTier,
)
from loyalty.outbox.intents import write_customer_sync_intents, write_shop_sync_intent
from loyalty.shops.api_keys import IssuedApiKey, issue_api_key
from loyalty.shops.demo_mode import DemoRefused, connect_demo_shop

DEMO_SHOP = "demo.myshopify.com"
SHOWCASE_RULE = "rule_demo_instagram"

TIERS: list[dict[str, Any]] = [
    {
        "public_id": "tier_demo_bronze",
        "name": "Bronze",
        "points_required": 0,
        "points_multiplier": Decimal("1.00"),
    },
    {
        "public_id": "tier_demo_silver",
        "name": "Silver",
        "points_required": 500,
        "points_multiplier": Decimal("1.25"),
    },
    {
        "public_id": "tier_demo_gold",
        "name": "Gold",
        "points_required": 2000,
        "points_multiplier": Decimal("1.50"),
    },
]

RULES: list[dict[str, Any]] = [
    {
        "public_id": SHOWCASE_RULE,
        "name": "Follow us on Instagram",
        "action": "follow_on_instagram",
        "category": RuleCategory.SOCIAL,
        "points": 100,
        "is_active": True,
        "approval_time_days": 0,
        "customer_facing_label": "Follow @demostore on Instagram",
        "call_to_action_url": "https://instagram.com/demostore",
    },
    {
        "public_id": "rule_demo_review",
        "name": "Write a product review",
        "action": "write_review",
        "category": RuleCategory.ENGAGEMENT,
        "points": 25,
        "is_active": True,
        "approval_time_days": 14,
        "customer_facing_label": "Review a product you bought",
    },
    {
        "public_id": "rule_demo_tiktok",
        "name": "Follow us on TikTok",
        "action": "follow_on_tiktok",
        "category": RuleCategory.SOCIAL,
        "points": 50,
        "is_active": False,
        "approval_time_days": 0,
        "customer_facing_label": "Follow @demostore on TikTok",
        "call_to_action_url": "https://tiktok.com/@demostore",
    },
    {
        "public_id": "rule_demo_purchase",
        "name": "Place an order",
        "action": "place_order",
        "category": RuleCategory.PURCHASE,
        "points": 5,
        "is_active": True,
        "approval_time_days": 0,
        "customer_facing_label": "5 points for every $1 spent",
    },
    {  # a custom action for POST /api/v1/actions: up to 3 quizzes per customer in 30 days
        "public_id": "rule_demo_quiz",
        "name": "Take the skin-type quiz",
        "action": "custom",
        "category": RuleCategory.CUSTOM,
        "action_key": "quiz_completed",
        "repeatable": True,
        "limit_count": 3,
        "limit_period_days": 30,
        "points": 20,
        "is_active": True,
        "approval_time_days": 0,
        "customer_facing_label": "Take our skin-type quiz",
    },
    {  # a new account (customers/create) earns it once; the seeded customers, whose creation
        # time is not known, never do
        "public_id": "rule_demo_signup",
        "name": "Create an account",
        "action": "create_account",
        "category": RuleCategory.SIGNUP,
        "points": 200,
        "is_active": True,
        "approval_time_days": 0,
        "customer_facing_label": "Create an account",
    },
    {  # customers_email_marketing_consent/update becoming `subscribed` earns it once
        "public_id": "rule_demo_newsletter",
        "name": "Subscribe to our newsletter",
        "action": "newsletter_signup",
        "category": RuleCategory.NEWSLETTER,
        "points": 50,
        "is_active": True,
        "approval_time_days": 0,
        "customer_facing_label": "Subscribe to our newsletter",
    },
    {  # the advocate's points when a referred friend's first paid order arrives
        "public_id": "rule_demo_referral",
        "name": "Refer a friend",
        "action": "referral",
        "category": RuleCategory.REFERRAL,
        "points": 500,
        "is_active": True,
        "approval_time_days": 0,
        "customer_facing_label": "Refer a friend",
    },
]
# The referral programme: on, the friend gets this reward's code, every fraud rule on.
REFERRAL_FRIEND_REWARD = "reward_demo_5_off"

# Each a RewardFields (loyalty.rewards.catalogue) plus its fixed public id.
REWARDS: list[dict[str, Any]] = [
    {
        "public_id": "reward_demo_5_off",
        "name": "$5 off your order",
        "kind": RewardKind.FIXED_AMOUNT,
        "points_cost": 500,
        "value": Decimal("5.00"),
        "code_validity_days": 30,
    },
    {
        "public_id": "reward_demo_10_percent",
        "name": "10% off your order",
        "kind": RewardKind.PERCENTAGE,
        "points_cost": 1000,
        "value": Decimal("10.00"),
        "minimum_subtotal": Decimal("30.00"),
        "code_validity_days": 30,
    },
    {
        "public_id": "reward_demo_free_ship",
        "name": "Free shipping",
        "kind": RewardKind.FREE_SHIPPING,
        "points_cost": 300,
        "combines_with_order": True,
        "combines_with_product": True,
        "code_validity_days": 30,
    },
    {  # the customer chooses how many points: 1 cent each, 100 to 2,000 points
        "public_id": "reward_demo_credit",
        "name": "Store credit, 1 cent a point",
        "kind": RewardKind.STORE_CREDIT,
        "points_cost": 100,
        "is_variable": True,
        "min_points": 100,
        "max_points": 2000,
        "value_per_point": Decimal("0.01"),
    },
]

CUSTOMERS: list[dict[str, Any]] = [
    {
        "shopify_customer_id": 7000000001,
        "email": "ann.bronze@example.com",
        "first_name": "Ann",
        "last_name": "Bronze",
        "lifetime_points": 120,
        "tier": "tier_demo_bronze",
    },
    {
        "shopify_customer_id": 7000000002,
        "email": "sam.silver@example.com",
        "first_name": "Sam",
        "last_name": "Silver",
        "lifetime_points": 800,
        "tier": "tier_demo_silver",
    },
    {
        "shopify_customer_id": 7000000003,
        "email": "gus.gold@example.com",
        "first_name": "Gus",
        "last_name": "Gold",
        "lifetime_points": 2500,
        "tier": "tier_demo_gold",
    },
    {
        "shopify_customer_id": 7000000004,
        "email": "eve.excluded@example.com",
        "first_name": "Eve",
        "last_name": "Excluded",
        "lifetime_points": 0,
        "tier": "tier_demo_bronze",
        "is_excluded": True,
    },
]


@dataclass(frozen=True)
class DemoShop:
    shop: Shop
    api_key: IssuedApiKey
    rules: list[EarningRule]
    tiers: list[VipTier]
    rewards: list[Reward]
    customers: list[Customer]
    showcase_customer: Customer  # has not yet earned the showcase rule


PUBLIC_ID_MAX = 32  # the public_id columns' length


def public_id(base: str, domain: str) -> str:
    """The demo public id `base` for the shop: as documented for the demo shop, suffixed with
    a digest of the domain for any other (public ids are unique across shops)."""
    if domain == DEMO_SHOP:
        return base
    suffixed = f"{base}_{hashlib.sha256(domain.encode()).hexdigest()[:8]}"
    assert len(suffixed) <= PUBLIC_ID_MAX, f"demo id {base!r} too long to suffix"
    return suffixed


async def seed_demo(*, domain: str = DEMO_SHOP, box: SecretBox | None = None) -> DemoShop:
    """Seed (or top up) the demo shop `domain`; with `box`, connect it to the local Shopify.
    Raises DemoRefused for a shop that exists and is not a demo shop."""
    shop, _ = await Shop.get_or_create(
        domain=domain,
        defaults={"name": "Demo Store", "points_expiry_days": 365, "is_demo": True},
    )
    if not shop.is_demo and _seeded_before_demo_flag(shop):
        shop.is_demo = True
        await shop.save(update_fields=["is_demo", "updated_at"])
    if not shop.is_demo:
        raise DemoRefused(f"{domain} is a real shop, not a demo shop: it is never seeded")
    tiers: dict[str, VipTier] = {}
    for spec in TIERS:
        tier, _ = await VipTier.get_or_create(
            public_id=public_id(spec["public_id"], domain),
            defaults={**spec, "public_id": public_id(spec["public_id"], domain), "shop": shop},
        )
        tiers[spec["public_id"]] = tier
    rules = []
    for spec in RULES:
        rule, _ = await EarningRule.get_or_create(
            public_id=public_id(spec["public_id"], domain),
            defaults={**spec, "public_id": public_id(spec["public_id"], domain), "shop": shop},
        )
        rules.append(rule)
    rewards = []
    for spec in REWARDS:
        reward, _ = await Reward.get_or_create(
            public_id=public_id(spec["public_id"], domain),
            defaults={**spec, "public_id": public_id(spec["public_id"], domain), "shop": shop},
        )
        rewards.append(reward)
    customers = []
    for spec in CUSTOMERS:
        fields = {k: v for k, v in spec.items() if k != "tier"}
        fields["points_balance"] = fields["lifetime_points"]
        customer, _ = await Customer.get_or_create(
            shop=shop,
            shopify_customer_id=spec["shopify_customer_id"],
            defaults={**fields, "vip_tier": tiers[spec["tier"]]},
        )
        customers.append(customer)
    await ReferralProgramme.get_or_create(
        shop=shop,
        defaults={
            "enabled": True,
            "friend_reward": next(
                r for r in rewards if r.public_id == public_id(REFERRAL_FRIEND_REWARD, domain)
            ),
        },
    )
    showcase = await _customer_without_showcase_award(shop, customers, tiers["tier_demo_bronze"])
    if box is not None:
        await _connect(shop, box)
    key = await issue_api_key(shop=shop, name="demo (loyalty demo)", scope=ApiKeyScope.FULL)
    return DemoShop(
        shop=shop,
        api_key=key,
        rules=rules,
        tiers=list(tiers.values()),
        rewards=rewards,
        customers=await Customer.filter(shop=shop).order_by("id").prefetch_related("vip_tier"),
        showcase_customer=showcase,
    )


def _seeded_before_demo_flag(shop: Shop) -> bool:
    """The demo shop an earlier `loyalty demo` seeded, before shops were marked (0013): never
    installed and never given a token, which a real shop always was."""
    return shop.domain == DEMO_SHOP and shop.installed_at is None and not shop.access_token_enc


async def _connect(shop: Shop, box: SecretBox) -> None:
    """A fresh token, and every customer and the programme owed to the local Shopify."""
    reason = {"reason": "demo_connected"}
    async with in_transaction():
        await connect_demo_shop(shop, box)
        await write_shop_sync_intent(shop_id=shop.id, reason=reason)
        for customer in await Customer.filter(shop=shop).only("id"):
            await write_customer_sync_intents(
                shop_id=shop.id, customer_id=customer.id, reason=reason
            )


async def _customer_without_showcase_award(
    shop: Shop, customers: list[Customer], entry_tier: VipTier
) -> Customer:
    showcase_rule = public_id(SHOWCASE_RULE, shop.domain)
    awarded = set(
        await EarningHistoryEntry.filter(shop=shop, rule__public_id=showcase_rule).values_list(
            "customer_id", flat=True
        )
    )
    for customer in await Customer.filter(shop=shop, is_excluded=False).order_by("id"):
        if customer.id not in awarded:
            return customer
    next_id = max(c.shopify_customer_id for c in await Customer.filter(shop=shop)) + 1
    return await Customer.create(
        shop=shop,
        shopify_customer_id=next_id,
        email=f"guest{next_id - 7000000000}@example.com",
        first_name="Guest",
        last_name=str(next_id - 7000000000),
        vip_tier=entry_tier,
    )
