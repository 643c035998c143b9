"""A sign-up rule made in Chromium: the chooser offers Sign-up and Newsletter (not Referrals),
the form says when it awards, and "Only after their first paid order" is stored."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from loyalty.models import EarningRule, RuleCategory
from tests.browser.admin import AdminPage, installed_shop
from tests.browser.conftest import LiveApp

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


class TestSignupRule:
    async def test_create_a_sign_up_rule_that_waits_for_the_first_order(
        self, page: Page, live_app: LiveApp
    ) -> None:
        shop = await installed_shop()
        admin = AdminPage(page, live_app)
        await admin.open("/app/rules/new")
        await expect(page.get_by_text("What should customers earn points for?")).to_be_visible()
        await expect(page.get_by_role("button", name="Choose Newsletter")).to_be_visible()
        # Referrals are offered now that they award (the advocate's points, issue 17)
        await expect(page.get_by_role("button", name="Choose Referrals")).to_be_visible()
        await page.get_by_role("button", name="Choose Sign-up").click()
        await expect(
            page.get_by_text("with new customer accounts that is their first sign-in")
        ).to_be_visible()

        await page.get_by_label("Name").fill("Welcome points")
        await page.get_by_label("Points", exact=True).fill("200")
        await page.get_by_label("Approve after (days)").fill("3")
        await page.get_by_role("switch", name="Only after their first paid order").click()
        await page.get_by_role("button", name="Add way to earn").click()

        row = page.locator("s-table-row", has_text="Welcome points")
        await expect(row).to_contain_text("200 points at the first paid order", timeout=10_000)
        rule = await EarningRule.get(shop=shop)
        assert (rule.category, rule.action, rule.points) == (
            RuleCategory.SIGNUP,
            "create_account",
            200,
        )
        assert (rule.after_first_order, rule.approval_time_days, rule.is_active) == (
            True,
            3,
            True,
        )
        assert admin.errors == []
