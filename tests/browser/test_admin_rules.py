"""Ways to earn in Chromium: choose a category, create a custom action (a field-level message
first, nothing written), see it listed, switch it off, edit a social rule."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from loyalty.models import EarningRule, RuleCategory
from tests.browser.admin import AdminPage, installed_shop
from tests.browser.conftest import LiveApp
from tests.factories import create_rule

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


class TestWaysToEarn:
    @pytest.mark.screenshot
    async def test_create_a_custom_action_and_switch_it_off(
        self, page: Page, live_app: LiveApp
    ) -> None:
        """Empty state → chooser → form; a bad key is a field message and writes nothing; a
        good one lands in the list, whose switch turns it off for real."""
        shop = await installed_shop()
        admin = AdminPage(page, live_app)
        await admin.open("/app/rules")
        await expect(page.get_by_role("region", name="No ways to earn yet")).to_be_visible()

        # The page's own links leave the token behind: the bounce page gets a fresh one.
        await page.get_by_role("button", name="Add a way to earn").click()
        await expect(page.get_by_text("What should customers earn points for?")).to_be_visible()
        await page.get_by_role("button", name="Choose Custom actions").click()
        await expect(page.get_by_label("Action key")).to_be_visible()

        await page.get_by_label("Name").fill("Completed the style quiz")
        await page.get_by_label("Action key").fill("Style Quiz!")
        await page.get_by_label("How often can a customer earn it?").select_option("true")
        await page.get_by_label("At most (times)").fill("3")
        await page.get_by_label("Within (days)").fill("30")
        await page.get_by_label("Points", exact=True).fill("50")
        await page.get_by_role("button", name="Add way to earn").click()

        key = page.get_by_label("Action key")
        await expect(key).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("s-text-field[name=action_key] .sf-error")).to_have_text(
            "Action key must be 1 to 64 lowercase letters, digits or underscores"
        )
        assert await EarningRule.filter(shop=shop).count() == 0
        await admin.screenshot("admin-rule-form")

        await key.fill("style_quiz")
        await page.get_by_role("button", name="Add way to earn").click()
        row = page.locator("s-table-row", has_text="Completed the style quiz")
        await expect(row).to_contain_text("every time, at most 3 per 30 days", timeout=10_000)
        await expect(page.locator(".ab-toast")).to_contain_text("Way to earn added")
        rule = await EarningRule.get(shop=shop)
        assert (rule.category, rule.action_key, rule.repeatable) == (
            RuleCategory.CUSTOM,
            "style_quiz",
            True,
        )
        assert (rule.limit_count, rule.limit_period_days, rule.points) == (3, 30, 50)

        await row.get_by_role("switch").click()
        await expect(page.locator(".ab-toast").last).to_contain_text(
            "Completed the style quiz is off"
        )
        await rule.refresh_from_db()
        assert rule.is_active is False
        assert admin.errors == []

    @pytest.mark.screenshot
    async def test_edit_a_social_rule(self, page: Page, live_app: LiveApp) -> None:
        """The form is the rule's; a save changes it and returns to the list."""
        shop = await installed_shop()
        await create_rule(
            shop,
            name="Points per purchase",
            category=RuleCategory.PURCHASE,
            action="place_order",
            points=5,
            approval_time_days=14,
        )
        rule = await create_rule(
            shop,
            name="Follow us",
            customer_facing_label="Follow @shop",
            call_to_action_url="https://instagram.com/shop",
        )
        admin = AdminPage(page, live_app)
        await admin.open("/app/rules")
        await admin.screenshot("admin-rules")
        await page.get_by_role("link", name="Edit Follow us").click()
        await page.get_by_label("Network").select_option("follow_on_tiktok")
        await page.get_by_label("Profile URL").fill("not a url")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_label("Profile URL")).to_have_attribute("aria-invalid", "true")
        await page.get_by_label("Profile URL").fill("https://tiktok.com/@shop")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("heading", name="Ways to earn", exact=True)).to_be_visible(
            timeout=10_000
        )
        await rule.refresh_from_db()
        assert (rule.action, rule.call_to_action_url) == (
            "follow_on_tiktok",
            "https://tiktok.com/@shop",
        )
        assert admin.errors == []
