"""The home page in Chromium: the dashboard's numbers and chart, the setup checklist, and the
customer import's progress."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.async_api import Page, expect

from loyalty.clock import utcnow
from loyalty.models import EarningHistoryEntry, EarningStatus, Shop
from tests.browser.admin import AdminPage, installed_shop
from tests.browser.conftest import LiveApp
from tests.factories import create_customer, create_rule, create_tier

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


async def seed_programme(shop: Shop) -> None:
    """A month of awards over a few customers, two tiers and a couple of rules."""
    await create_tier(shop, name="Silver", points_required=500)
    await create_tier(shop, name="Gold", points_required=2000)
    rule = await create_rule(shop, name="Follow us on Instagram")
    await create_rule(
        shop, name="Points per purchase", category="purchase", action="place_order", points=5
    )
    now = utcnow()
    for n in range(12):
        customer = await create_customer(shop, lifetime_points=300 * n, points_balance=200 * n)
        for day in range(0, 30, 1 + n % 4):
            points = 40 + (day * 37 + n * 11) % 160
            await EarningHistoryEntry.create(
                public_id=f"cer_seed_{n}_{day}",
                shop_id=shop.id,
                customer_id=customer.id,
                rule_id=rule.id,
                action=rule.action,
                base_points=points,
                points_multiplier=Decimal("1.00"),
                points=points,
                status=EarningStatus.APPROVED,
                dedupe_key=f"seed:{day}",
                points_remaining=points,
                created_at=now - timedelta(days=day, hours=n % 5),
            )


class TestHome:
    @pytest.mark.screenshot
    async def test_the_dashboard_shows_a_month_of_points(
        self, page: Page, live_app: LiveApp
    ) -> None:
        """Numbers, a bar per day, the setup guide; screenshot at 1280 px."""
        shop = await installed_shop()
        await seed_programme(shop)
        admin = AdminPage(page, live_app)
        await admin.open("/app")
        await expect(page.locator("svg.points-chart rect")).to_have_count(30)
        await expect(page.locator('[data-stat="members"] [data-value]')).to_have_text("12")
        await expect(page.get_by_role("heading", name="Set up your programme")).to_be_visible()
        await admin.screenshot("admin-home")
        assert admin.errors == []
