"""Fixtures for `/api/v1`: a shop (connected to Shopify) with VIP tiers, rules, a reward,
customers and two API keys (full and read-only), and a client that sends the key. Every test
that takes them runs on SQLite and on PostgreSQL (through `db`/`client`)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from loyalty.models import RuleCategory
from tests.factories import create_api_key, create_customer, create_rule, create_tier
from tests.loyalty.rewards.helpers import connected_shop, reward
from tests.web.public_api.helpers import Api, World


@pytest.fixture
async def world(db: str) -> World:
    shop = await connected_shop(points_expiry_days=365)
    bronze = await create_tier(
        shop, name="Bronze", points_required=0, points_multiplier=Decimal("1.00")
    )
    gold = await create_tier(
        shop, name="Gold", points_required=1000, points_multiplier=Decimal("1.50")
    )
    return World(
        shop=shop,
        key=(await create_api_key(shop)).secret,
        read_key=(await create_api_key(shop, read_only=True)).secret,
        bronze=bronze,
        gold=gold,
        rule=await create_rule(shop, points=100),
        quiz=await create_rule(
            shop,
            name="Quiz",
            action="custom",
            category=RuleCategory.CUSTOM,
            action_key="quiz_completed",
            points=50,
        ),
        review=await create_rule(
            shop,
            name="Review",
            action="custom",
            category=RuleCategory.CUSTOM,
            action_key="review_written",
            points=10,
            repeatable=True,
            limit_count=2,
            limit_period_days=7,
        ),
        reward=await reward(shop),
        ann=await create_customer(
            shop, shopify_customer_id=6789012345, email="Ann@Example.com", vip_tier=bronze
        ),
        bob=await create_customer(
            shop,
            shopify_customer_id=6789012346,
            email="bob@example.com",
            vip_tier=gold,
            points_balance=1200,
            lifetime_points=1200,
        ),
    )


@pytest.fixture
def api(client: httpx.AsyncClient, world: World) -> Api:
    return Api(client, world.key)
