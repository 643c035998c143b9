"""VIP tiers in Chromium: the list with members per tier, editing a tier with the live preview
(a bad multiplier first: a field message, nothing written), and customers moving on save."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.async_api import Page, expect

from loyalty.models import Customer, VipTier
from loyalty.tiers.placement import place_tiers
from tests.browser.admin import AdminPage, installed_shop
from tests.browser.conftest import LiveApp
from tests.factories import create_customer, create_tier

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


class TestVipTiers:
    @pytest.mark.screenshot
    async def test_edit_a_tier_with_the_preview(self, page: Page, live_app: LiveApp) -> None:
        """Lowering Gold's threshold previews, then moves, the customers it now reaches."""
        shop = await installed_shop()
        bronze = await create_tier(
            shop, name="Bronze", points_required=0, points_multiplier=Decimal("1.00")
        )
        silver = await create_tier(shop, name="Silver", points_required=500, badge_color="#8A8A8A")
        gold = await create_tier(
            shop,
            name="Gold",
            points_required=2000,
            points_multiplier=Decimal("1.50"),
            badge_color="#B98900",
        )
        for points in (50, 120, 600, 900, 1500, 1800, 2600):
            tier = gold if points >= 2000 else silver if points >= 500 else bronze
            await create_customer(shop, lifetime_points=points, vip_tier=tier)
        admin = AdminPage(page, live_app)
        await admin.open("/app/tiers")
        gold_row = page.locator(f'[data-tier="{gold.public_id}"]')
        await expect(gold_row.locator("[data-members]")).to_have_text("1")
        await admin.screenshot("admin-tiers")

        await gold_row.get_by_role("link", name="Edit Gold").click()
        threshold = page.get_by_label("Starts at (lifetime points)")
        await expect(threshold).to_have_value("2000")
        await threshold.fill("1500")
        edited = page.locator("[data-preview-rows] s-table-row[data-edited]")
        await expect(edited).to_contain_text("Gold (this tier)")
        await expect(edited).to_contain_text("3")  # 1500, 1800 and 2600

        await page.get_by_label("Points multiplier").fill("12")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_label("Points multiplier")).to_have_attribute(
            "aria-invalid", "true"
        )
        await expect(
            page.locator("s-text-field[name=points_multiplier] .sf-error")
        ).to_contain_text("Points multiplier must be between 1.00 and 10.00")
        await gold.refresh_from_db()
        assert gold.points_required == 2000
        await admin.screenshot("admin-tier-form")

        await page.get_by_label("Points multiplier").fill("1.75")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator(".ab-toast")).to_contain_text(
            "Tier saved: moving customers to their tiers in the background", timeout=10_000
        )
        await gold.refresh_from_db()
        assert (gold.points_required, gold.points_multiplier) == (1500, Decimal("1.75"))
        # The save queued the placement job (recorded here, not run): run it as the worker would.
        assert (shop.id, ["place_vip_tiers"]) in admin.jobs
        assert (await place_tiers(shop_id=shop.id)).customers_moved == 2
        assert await Customer.filter(shop=shop, vip_tier=gold).count() == 3
        await page.reload()
        await expect(page.locator(f'[data-tier="{gold.public_id}"] [data-members]')).to_have_text(
            "3"
        )
        assert admin.errors == []

    async def test_delete_a_tier_after_confirming(self, page: Page, live_app: LiveApp) -> None:
        """The modal asks first; its members fall back to the tier below."""
        shop = await installed_shop()
        silver = await create_tier(shop, name="Silver", points_required=500)
        gold = await create_tier(shop, name="Gold", points_required=2000)
        await create_customer(shop, lifetime_points=2500, vip_tier=gold)
        admin = AdminPage(page, live_app)
        await admin.open(f"/app/tiers/{gold.public_id}")
        await page.get_by_role("button", name="Delete tier").first.click()
        dialog = page.get_by_role("dialog", name="Delete Gold?")
        await expect(dialog).to_be_visible()
        await dialog.get_by_role("button", name="Delete tier").click()
        await expect(page.locator(".ab-toast")).to_contain_text("Tier deleted", timeout=10_000)
        assert not await VipTier.filter(id=gold.id).exists()
        assert await Customer.filter(shop=shop, vip_tier=silver).count() == 1
        assert admin.errors == []
