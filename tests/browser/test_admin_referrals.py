"""The Referrals page in Chromium, acting as a merchant: the referrals listed with the reason a
blocked one was stopped, filtered to the blocked ones, one approved (it leaves the blocked list
and is pending, its friend's code owed); and a fraud rule switched off in the programme form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.async_api import Page, expect

from loyalty.clock import utcnow
from loyalty.models import Referral, ReferralProgramme, ReferralStatus, RuleCategory, Shop
from loyalty.referrals.codes import code_for
from loyalty.referrals.start import start_referral
from tests.browser.admin import AdminPage, installed_shop
from tests.browser.conftest import LiveApp
from tests.factories import create_customer, create_rule
from tests.loyalty.rewards.helpers import reward

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


async def shop_with_referrals() -> Shop:
    """Referrals on; Ann referred Bo (pending) and herself under another case (blocked)."""
    shop = await installed_shop()
    gift = await reward(shop, name="$5 off", value=Decimal("5.00"))
    await create_rule(
        shop, name="Refer a friend", action="referral", category=RuleCategory.REFERRAL, points=300
    )
    await ReferralProgramme.create(shop=shop, enabled=True, friend_reward=gift)
    ann = await create_customer(shop, email="ann@example.com")
    code = await code_for(shop_id=shop.id, customer_id=ann.id)
    assert code is not None
    for email in ("bo@example.com", "ANN@example.com"):
        await start_referral(
            shop=shop, code=code, friend_email=email, ip="203.0.113.9", device_id=None, now=utcnow()
        )
    return shop


class TestReferralsPage:
    async def test_approve_a_blocked_referral(self, page: Page, live_app: LiveApp) -> None:
        shop = await shop_with_referrals()
        admin = AdminPage(page, live_app)
        await admin.open("/app/referrals")
        listed = page.locator("[data-referrals] s-table-row")
        await expect(listed).to_have_count(2)
        held = await Referral.get(shop=shop, status=ReferralStatus.BLOCKED)
        blocked = page.locator(f'[data-referral="{held.public_id}"]')
        await expect(blocked).to_contain_text("Blocked")
        await expect(blocked.locator("[data-block-reason]")).not_to_be_empty()

        await page.locator("[data-status-filter]").get_by_role("button", name="Blocked").click()
        await admin.ready()
        await expect(listed).to_have_count(1)
        await listed.get_by_role("button", name="Approve the referral of ANN@example.com").click()
        await expect(page.locator(".ab-toast").last).to_contain_text("Referral approved")
        await expect(page.locator("[data-referrals] [data-empty]")).to_contain_text(
            "No blocked referrals"
        )
        referral = await Referral.get(id=held.id)
        assert referral.status == ReferralStatus.PENDING and referral.approved_at is not None
        assert admin.errors == []

    async def test_switch_a_fraud_rule_off(self, page: Page, live_app: LiveApp) -> None:
        shop = await shop_with_referrals()
        admin = AdminPage(page, live_app)
        await admin.open("/app/referrals")
        await page.locator('[data-check="ip_limit"]').click()
        await page.get_by_label("Within (hours)").fill("48")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator(".ab-toast").last).to_contain_text("Referral settings saved")
        settings = await ReferralProgramme.get(shop=shop)
        assert settings.disabled_checks == ["ip_limit"] and settings.window_hours == 48
        await admin.ready()
        await expect(page.locator('[data-check="ip_limit"]')).to_have_js_property("checked", False)
        assert admin.errors == []
