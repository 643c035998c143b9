"""Customers in Chromium: search, open a customer, adjust their points (a zero first: a field
message, nothing written), exclude them after confirming, and include them again."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.async_api import Page, expect

from loyalty.clock import utcnow
from loyalty.models import Activity, ActorType, Customer, EarningHistoryEntry, EarningStatus
from tests.browser.admin import AdminPage, installed_shop
from tests.browser.conftest import LiveApp
from tests.factories import create_customer, create_rule, create_tier

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

PEOPLE = [
    ("Ada", "Lovelace", "ada@example.com", 1250),
    ("Grace", "Hopper", "grace@example.com", 2400),
    ("Alan", "Turing", "alan@example.com", 300),
    ("Katherine", "Johnson", "katherine@example.com", 80),
    ("Edsger", "Dijkstra", "edsger@example.com", 0),
]


class TestCustomers:
    @pytest.mark.screenshot
    async def test_search_adjust_exclude_include(self, page: Page, live_app: LiveApp) -> None:
        """The whole customer-service path, checked against the database at each step."""
        shop = await installed_shop(points_expiry_days=365)
        silver = await create_tier(shop, name="Silver", points_required=500)
        gold = await create_tier(shop, name="Gold", points_required=2000)
        rule = await create_rule(shop, name="Follow us on Instagram", approval_time_days=7)
        grace = None
        for first, last, email, points in PEOPLE:
            tier = gold if points >= 2000 else silver if points >= 500 else None
            customer = await create_customer(
                shop,
                first_name=first,
                last_name=last,
                email=email,
                points_balance=points,
                lifetime_points=points,
                vip_tier=tier,
            )
            if first == "Grace":
                grace = customer
        assert grace is not None
        await EarningHistoryEntry.create(
            public_id="cer_grace_pending",
            shop_id=shop.id,
            customer_id=grace.id,
            rule_id=rule.id,
            action=rule.action,
            base_points=100,
            points_multiplier=Decimal("1.50"),
            points=150,
            status=EarningStatus.PENDING,
            points_due_at=utcnow() + timedelta(days=7),
            dedupe_key=f"rule:{rule.id}",
        )
        await Customer.filter(id=grace.id).update(pending_points=150)

        admin = AdminPage(page, live_app)
        await admin.open("/app/customers")
        await expect(page.locator("[data-customer]")).to_have_count(5)
        await admin.screenshot("admin-customers")

        await page.get_by_label("Search customers").fill("grace@")
        await page.get_by_role("button", name="Search").click()
        await expect(page.locator("[data-customer]")).to_have_count(1, timeout=10_000)
        await page.get_by_role("link", name="Grace Hopper").click()
        await expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
        await expect(page.locator("[data-entry]")).to_contain_text("Pending")

        adjustment = page.get_by_label("Points to add or remove")
        await adjustment.fill("0")
        await page.get_by_role("button", name="Adjust points").click()
        await expect(adjustment).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("s-number-field[name=adjustment] .sf-error")).to_contain_text(
            "must not be 0"
        )
        assert await EarningHistoryEntry.filter(customer_id=grace.id).count() == 1

        await adjustment.fill("250")
        await page.get_by_label("Note (for your team)").fill("Goodwill: parcel arrived late")
        await page.get_by_role("button", name="Adjust points").click()
        await expect(page.locator(".ab-toast")).to_contain_text(
            "Added 250 points: the balance is now 2,650", timeout=10_000
        )
        await expect(page.locator('[data-balance="balance"] [data-value]')).to_have_text("2,650")
        await expect(page.locator("[data-activity=points_adjusted]")).to_contain_text("+250 points")
        await grace.refresh_from_db()
        assert (grace.points_balance, grace.lifetime_points) == (2650, 2650)
        logged = await Activity.get(customer_id=grace.id, kind="points_adjusted")
        assert (logged.actor_type, logged.actor_id) == (ActorType.STAFF, "42")
        added = await EarningHistoryEntry.get(public_id=logged.data["entry_id"])
        assert added.points_expiry_at is not None  # the shop's points expire after a year
        await expect(page.locator(f'[data-entry="{added.public_id}"]')).to_contain_text(
            added.points_expiry_at.strftime("%-d %b %Y")
        )
        await admin.screenshot("admin-customer")

        await page.get_by_role("button", name="Exclude from the programme").click()
        dialog = page.get_by_role("dialog", name="Exclude Grace Hopper?")
        await dialog.get_by_role("button", name="Exclude").click()
        await expect(
            page.get_by_role("alert").or_(page.locator("[data-excluded]"))
        ).to_contain_text("Excluded from the programme", timeout=10_000)
        await grace.refresh_from_db()
        assert grace.is_excluded and grace.excluded_by == "staff"
        await expect(page.get_by_role("button", name="Adjust points")).to_be_disabled()

        await page.get_by_role("button", name="Include in the programme").click()
        await expect(page.locator(".ab-toast")).to_contain_text(
            "back in the programme", timeout=10_000
        )
        await grace.refresh_from_db()
        assert not grace.is_excluded
        assert admin.errors == []
