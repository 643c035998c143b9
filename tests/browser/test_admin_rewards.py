"""Rewards in Chromium, acting as a merchant: add a reward (a bad amount first: the catalogue's
message under the field, nothing written), switch it off and find it on the list; a variable
store credit through the type's own fields; a redeemed reward refuses deletion and offers to
switch it off; and on a customer's page, cancel their redemption and see the points back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.async_api import Page, expect

from loyalty.jobs import JobName
from loyalty.models import Customer, Redemption, RedemptionStatus, Reward, RewardKind
from loyalty.rewards.redeem import redeem
from tests.browser.admin import AdminPage, installed_shop
from tests.browser.conftest import LiveApp
from tests.loyalty.rewards.helpers import customer_with_lots, reward

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


class TestRewards:
    @pytest.mark.screenshot
    async def test_add_a_reward_then_switch_it_off(self, page: Page, live_app: LiveApp) -> None:
        shop = await installed_shop()
        admin = AdminPage(page, live_app)
        await admin.open("/app/rewards")
        await expect(page.get_by_role("region", name="No rewards yet")).to_be_visible()
        await page.get_by_role("button", name="Add your first reward").click()
        await expect(page.get_by_label("Type")).to_be_visible()

        await page.get_by_label("Name").fill("Ten percent off")
        await page.get_by_label("Type").select_option("percentage")
        # A percentage has no points range and no free variant; it may have a minimum.
        await expect(page.get_by_label("Points to spend")).to_be_hidden()
        await expect(page.get_by_label("Free product variant")).to_be_hidden()
        await expect(page.get_by_label("Minimum order subtotal (USD)")).to_be_visible()
        await page.get_by_label("Points it costs").fill("800")
        await page.get_by_label("Value", exact=True).fill("150")
        await page.get_by_role("button", name="Add reward").click()

        value = page.get_by_label("Value", exact=True)
        await expect(value).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("s-text-field[name=value] .sf-error")).to_have_text(
            "a percentage is at most 100"
        )
        assert await Reward.filter(shop=shop).count() == 0
        await admin.screenshot("admin-reward-form")

        await value.fill("10")
        await page.get_by_label("Minimum order subtotal (USD)").fill("30")
        await page.get_by_role("button", name="Add reward").click()
        row = page.locator("s-table-row", has_text="Ten percent off")
        await expect(row).to_contain_text("10% off", timeout=10_000)
        await expect(row).to_contain_text("800 points")
        await expect(page.locator(".ab-toast")).to_contain_text("Reward added")
        saved = await Reward.get(shop=shop)
        assert (saved.kind, saved.points_cost, saved.value) == (
            RewardKind.PERCENTAGE,
            800,
            Decimal("10.00"),
        )
        assert (saved.minimum_subtotal, saved.code_validity_days, saved.is_active) == (
            Decimal("30.00"),
            30,
            True,
        )

        await row.get_by_role("switch").click()
        await expect(page.locator(".ab-toast").last).to_contain_text("Ten percent off is off")
        await saved.refresh_from_db()
        assert saved.is_active is False
        await page.reload()
        await admin.ready()
        row = page.locator("s-table-row", has_text="Ten percent off")
        await expect(row).to_be_visible()
        await expect(row.get_by_role("switch")).not_to_be_checked()
        assert admin.errors == []

    async def test_a_variable_store_credit(self, page: Page, live_app: LiveApp) -> None:
        """The range's fields replace the fixed cost; the cost saved is the range's low end."""
        shop = await installed_shop()
        admin = AdminPage(page, live_app)
        await admin.open("/app/rewards/new")
        await page.get_by_label("Name").fill("Store credit")
        await page.get_by_label("Type").select_option("store_credit")
        await expect(page.get_by_label("Code valid for (days)")).to_be_hidden()
        await page.get_by_label("Points to spend").select_option("true")
        await expect(page.get_by_label("Points it costs")).to_be_hidden()
        await expect(page.get_by_label("Value", exact=True)).to_be_hidden()
        await page.get_by_label("At least (points)").fill("100")
        await page.get_by_label("At most (points)").fill("2000")
        await page.get_by_label("Value per point (USD)").fill("0.01")
        await page.get_by_role("button", name="Add reward").click()
        row = page.locator("s-table-row", has_text="Store credit")
        await expect(row).to_contain_text("100–2,000 points", timeout=10_000)
        saved = await Reward.get(shop=shop)
        assert (saved.kind, saved.is_variable, saved.points_cost) == (
            RewardKind.STORE_CREDIT,
            True,
            100,
        )
        assert (saved.value_per_point, saved.code_validity_days) == (Decimal("0.0100"), None)
        assert admin.errors == []

    @pytest.mark.screenshot
    async def test_a_redeemed_reward_is_switched_off_not_deleted(
        self, page: Page, live_app: LiveApp
    ) -> None:
        shop = await installed_shop()
        used = await reward(shop, name="Five off")
        unused = await reward(shop, name="Never used", points_cost=900)
        customer = await customer_with_lots(shop, (500, None))
        await redeem(
            shop_id=shop.id, identifier=str(customer.shopify_customer_id), reward_id=used.public_id
        )
        await reward(
            shop,
            name="Free shipping",
            kind=RewardKind.FREE_SHIPPING,
            points_cost=300,
            value=Decimal(0),
            combines_with_order=True,
        )
        admin = AdminPage(page, live_app)
        await admin.open("/app/rewards")
        await expect(page.locator("[data-reward]")).to_have_count(3)
        await admin.screenshot("admin-rewards")
        await page.get_by_role("link", name="Edit Five off").click()
        await expect(page.get_by_role("heading", name="Five off")).to_be_visible()
        await page.get_by_role("button", name="Delete").click()
        dialog = page.get_by_role("dialog", name="Delete Five off?")
        await expect(dialog).to_contain_text("cannot be deleted")
        await dialog.get_by_role("button", name="Switch it off").click()
        await expect(page.get_by_role("heading", name="Rewards", exact=True)).to_be_visible(
            timeout=10_000
        )
        await used.refresh_from_db()
        assert used.is_active is False and await Reward.filter(id=used.id).exists()

        await admin.open(f"/app/rewards/{unused.public_id}")
        await page.get_by_role("button", name="Delete").click()
        await page.get_by_role("dialog").get_by_role("button", name="Delete reward").click()
        # Back on the list once the delete answered (the edit page has no rows to count).
        await expect(page.locator("[data-reward]")).to_have_count(2, timeout=10_000)
        await expect(page.locator("s-table-row", has_text="Never used")).to_have_count(
            0, timeout=10_000
        )
        assert not await Reward.filter(id=unused.id).exists()
        assert admin.errors == []


class TestCustomerRedemptions:
    @pytest.mark.screenshot
    async def test_cancel_a_redemption_and_see_the_points_back(
        self, page: Page, live_app: LiveApp
    ) -> None:
        shop = await installed_shop()
        five = await reward(shop, name="$5 off", points_cost=500)
        customer = await customer_with_lots(
            shop, (700, None), first_name="Ada", last_name="Lovelace"
        )
        done = await redeem(
            shop_id=shop.id, identifier=str(customer.shopify_customer_id), reward_id=five.public_id
        )
        code = done.redemption.discount_code
        assert code is not None
        admin = AdminPage(page, live_app)
        await admin.open(f"/app/customers/{customer.shopify_customer_id}")
        balance = page.locator('[data-balance="balance"] [data-value]')
        await expect(balance).to_have_text("200")
        row = page.locator("[data-redemption]", has_text=code)
        await expect(row.locator("[data-status]")).to_have_text("Active")
        await admin.screenshot("admin-customer-redemptions")

        await row.get_by_role("button", name=f"Cancel $5 off ({code})").click()
        dialog = page.get_by_role("dialog", name="Cancel $5 off?")
        await expect(dialog).to_contain_text(f"The code {code} stops working in Shopify")
        await dialog.get_by_label("Reason (for your team)").fill("Redeemed by mistake")
        await dialog.get_by_role("button", name="Cancel redemption").click()

        await expect(balance).to_have_text("700", timeout=10_000)
        await expect(page.locator(".ab-toast")).to_contain_text(
            "Redemption cancelled: the points are back"
        )
        row = page.locator("[data-redemption]", has_text=code)
        await expect(row.locator("[data-status]")).to_have_text("Cancelled")
        await expect(row).to_contain_text("“Redeemed by mistake”")
        await expect(row.get_by_role("button")).to_have_count(0)
        await expect(page.locator('[data-activity="redemption_cancelled"]')).to_contain_text(
            "Redemption cancelled by staff"
        )
        redemption = await Redemption.get(public_id=done.redemption.id)
        assert redemption.status is RedemptionStatus.CANCELLED
        assert (await Customer.get(id=customer.id)).points_balance == 700
        assert any(str(JobName.SYNC_REWARD_CODES) in jobs for _, jobs in admin.jobs)
        assert admin.errors == []
