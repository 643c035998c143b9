"""Loyalty histories for the partner tests: shops whose customers went through the changes the
marketing syncs turn into events, written through the app's own services and lifecycle jobs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from loyalty.clock import utcnow
from loyalty.lifecycle.approvals import approve_due
from loyalty.lifecycle.expiry import expire_due, notify_expiring_soon
from loyalty.models import Platform, Shop
from loyalty.settings import Settings
from tests.factories import create_customer, create_rule, create_tier
from tests.loyalty.lifecycle.entries import lot
from tests.loyalty.sync.harness import award, connected_shop, enable


async def eventful_shop(settings: Settings, platform: Platform) -> Shop:
    """A shop whose customers went through every kind of loyalty event: earned at once,
    pending then approved (crossing into a tier), expired, expiring soon; and a customer
    in no tier, so the properties carry their empty values too."""
    shop = await connected_shop(settings)
    await enable(settings, shop, platform)
    await create_tier(shop, name="Gold", points_required=100, points_multiplier=Decimal("1"))
    customer, plain = await create_customer(shop), await create_customer(shop)
    await award(shop, await create_rule(shop, points=150, approval_time_days=1), customer)
    await award(shop, await create_rule(shop, points=5), plain)
    now = utcnow()
    await approve_due(shop_id=shop.id, now=now + timedelta(days=2))
    await lot(customer, expires=now - timedelta(days=1), points=5)
    await expire_due(shop_id=shop.id, now=now)
    await lot(customer, expires=now + timedelta(days=3), points=5)
    await notify_expiring_soon(shop_id=shop.id, now=now)
    return shop
