"""Settings in Chromium: the programme form through App Bridge's save bar (a bad value first:
a field message, nothing written), a compliance export downloaded as JSON, and a bulk re-sync
of every customer with its progress."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from loyalty.clock import utcnow
from loyalty.customers.compliance import export_customer_data
from loyalty.models import OutboxIntent, Shop
from tests.browser.admin import AdminPage, installed_shop
from tests.browser.conftest import LiveApp
from tests.factories import create_customer

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


class TestSettings:
    async def test_save_settings_through_the_save_bar(self, page: Page, live_app: LiveApp) -> None:
        """Zero days is refused at the field; then expiry, tag and timezone are saved."""
        shop = await installed_shop()
        admin = AdminPage(page, live_app)
        await admin.open("/app/settings")
        save_bar = page.get_by_role("region", name="Unsaved changes")
        await expect(save_bar).to_be_hidden()

        expiry = page.get_by_label("Points expire after (days)")
        await expiry.fill("0")
        await expect(save_bar).to_be_visible()
        await save_bar.get_by_role("button", name="Save").click()
        await expect(
            page.locator("s-number-field[name=points_expiry_days] .sf-error")
        ).to_have_text("Points expire after (days) must be at least 1")
        await shop.refresh_from_db()
        assert shop.points_expiry_days is None

        await expiry.fill("365")
        await page.get_by_label("Exclusion tag").fill("wholesale")
        await page.get_by_label("Shop timezone").select_option("Europe/London")
        await save_bar.get_by_role("button", name="Save").click()
        await expect(page.locator(".ab-toast")).to_contain_text("Settings saved", timeout=10_000)
        shop = await Shop.get(id=shop.id)
        assert (shop.points_expiry_days, shop.exclusion_tag, shop.timezone) == (
            365,
            "wholesale",
            "Europe/London",
        )
        await expect(page.get_by_label("Points expire after (days)")).to_have_value("365")
        assert admin.errors == []

    @pytest.mark.screenshot
    async def test_download_a_data_request_and_resync_everyone(
        self, page: Page, live_app: LiveApp, tmp_path: Path
    ) -> None:
        """The export downloads as the JSON we hold; the re-sync owes each customer a sync and
        shows the updates being sent until all are."""
        shop = await installed_shop(
            backfill_requested_at=utcnow(), backfill_completed_at=utcnow(), backfill_customers=3
        )
        asker = await create_customer(shop, email="asker@example.com", points_balance=120)
        await create_customer(shop)
        await create_customer(shop)
        export = await export_customer_data(
            shop=shop,
            shopify_customer_id=asker.shopify_customer_id,
            email=asker.email,
            shopify_request_id=4242,
            orders_requested=[],
            now=utcnow(),
        )
        admin = AdminPage(page, live_app)
        await admin.open("/app/settings")
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Download the data for asker@example.com").click()
        download = await info.value
        assert download.suggested_filename == f"data-request-{export.id}.json"
        saved = tmp_path / "export.json"
        await download.save_as(saved)
        record = json.loads(saved.read_text())
        assert record["customer"]["email"] == "asker@example.com"
        assert record["customer"]["points_balance"] == 120

        await page.get_by_role("button", name="Re-sync all customers").click()
        progress = page.locator("[data-resync-text]")
        await expect(progress).to_contain_text("0 of 3 updates sent")
        owed = await OutboxIntent.filter(shop_id=shop.id).order_by("id")
        assert len(owed) == 3
        assert admin.jobs == [(shop.id, ["sync_shopify_metafields"])]

        # A worker delivers one update: the page, polling, shows the progress move.
        await OutboxIntent.filter(id=owed[0].id).update(completed_at=utcnow())
        await expect(progress).to_contain_text("1 of 3 updates sent", timeout=10_000)
        await admin.screenshot("admin-settings")
        await OutboxIntent.filter(shop_id=shop.id).update(completed_at=utcnow())
        await expect(progress).to_contain_text("all 3 updates sent", timeout=10_000)
        await expect(page.get_by_role("button", name="Re-sync all customers")).to_be_enabled()
        assert admin.errors == []
