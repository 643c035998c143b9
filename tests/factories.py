"""Plain async factories: `await create_customer(shop, **overrides)`."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from loyalty import ids
from loyalty.models import ApiKeyScope, Customer, EarningRule, RuleCategory, Shop, VipTier
from loyalty.shops.api_keys import IssuedApiKey, issue_api_key

_sequence = itertools.count(1)


async def create_shop(**overrides: Any) -> Shop:
    n = next(_sequence)
    fields: dict[str, Any] = {"domain": f"shop-{n}.myshopify.com", "name": f"Shop {n}"}
    fields.update(overrides)
    return await Shop.create(**fields)


async def create_rule(shop: Shop, **overrides: Any) -> EarningRule:
    fields: dict[str, Any] = {
        "public_id": ids.new_public_id(ids.RULE),
        "name": "Follow us on Instagram",
        "action": "follow_on_instagram",
        "category": RuleCategory.SOCIAL,
        "points": 100,
        "is_active": True,
        "approval_time_days": 0,
    }
    fields.update(overrides)
    return await EarningRule.create(shop=shop, **fields)


async def create_tier(shop: Shop, **overrides: Any) -> VipTier:
    n = next(_sequence)
    fields: dict[str, Any] = {
        "public_id": ids.new_public_id(ids.VIP_TIER),
        "name": f"Tier {n}",
        "points_required": n * 100,
        "points_multiplier": Decimal("1.50"),
    }
    fields.update(overrides)
    return await VipTier.create(shop=shop, **fields)


async def create_customer(shop: Shop, **overrides: Any) -> Customer:
    n = next(_sequence)
    fields: dict[str, Any] = {
        "shopify_customer_id": 6789012345 + n,
        "email": f"customer{n}@example.com",
        "first_name": "Ann",
        "last_name": f"Customer {n}",
    }
    fields.update(overrides)
    return await Customer.create(shop=shop, **fields)


async def create_api_key(shop: Shop, *, read_only: bool = False) -> IssuedApiKey:
    scope = ApiKeyScope.READ_ONLY if read_only else ApiKeyScope.FULL
    return await issue_api_key(shop=shop, name="test", scope=scope)
