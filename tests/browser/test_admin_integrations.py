"""Integrations in Chromium: a wrong key is a field message; a good one connects (and is never
shown again), sync turns on, "Test connection" shows what the API answered, a stored sync
failure reads in plain words, and events whose answer was lost can be sent again."""

from __future__ import annotations

from datetime import timedelta

import pytest
import respx
from playwright.async_api import Page, expect

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import (
    DeliveryStatus,
    EventDelivery,
    Integration,
    IntentOutcome,
    OutboxIntent,
    Platform,
)
from loyalty.partners.integrations import record_outcome
from tests.browser.admin import AdminPage, installed_shop
from tests.browser.conftest import LiveApp
from tests.factories import create_customer

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

KLAVIYO_KEY = "pk_live_5f2b8c1d9e3a4b6c7d8e9f0a1b2c3d4e"


class TestIntegrations:
    async def test_connect_turn_on_and_test_klaviyo(self, page: Page, live_app: LiveApp) -> None:
        """From not connected to syncing; the key never comes back to the page."""
        shop = await installed_shop()
        admin = AdminPage(page, live_app)
        await admin.open("/app/integrations")
        klaviyo = page.locator('[data-integration="klaviyo"]')
        await expect(klaviyo.locator("[data-status]")).to_contain_text("Not connected")

        key = klaviyo.get_by_label("Klaviyo private API key")
        await key.fill("ABC123")  # the public site id: the usual mistake
        await klaviyo.get_by_role("button", name="Connect").click()
        await expect(klaviyo.locator("s-password-field .sf-error")).to_contain_text(
            "start with pk_"
        )
        assert not await Integration.filter(shop=shop).exists()

        await key.fill(KLAVIYO_KEY)
        await klaviyo.get_by_role("button", name="Connect").click()
        await expect(klaviyo.locator("[data-status]")).to_contain_text("…3d4e")
        await expect(key).to_have_value("")
        assert KLAVIYO_KEY not in await page.content()
        row = await Integration.get(shop=shop, platform=Platform.KLAVIYO)
        assert row.credentials_enc and KLAVIYO_KEY not in row.credentials_enc

        if not row.enabled:
            await klaviyo.get_by_role("button", name="Turn sync on").click()
        await expect(klaviyo.locator("[data-status]")).to_contain_text("Syncing")
        await row.refresh_from_db()
        assert row.enabled

        # The app runs in this process, so respx answers its calls to Klaviyo: first the key
        # works, then Klaviyo refuses it, and the card says so in plain words.
        result = klaviyo.locator("[data-test-result]")
        profiles = f"{live_app.settings.klaviyo_base_url}/api/profiles"
        with respx.mock(assert_all_called=True) as klaviyo_api:
            klaviyo_api.get(profiles).respond(200, json={"data": [], "links": {}})
            await klaviyo.get_by_role("button", name="Test connection").click()
            await expect(result).to_contain_text("Connected to Klaviyo: the API key works.")
        with respx.mock(assert_all_called=True) as klaviyo_api:
            klaviyo_api.get(profiles).respond(
                401,
                json={
                    "errors": [{"status": 401, "detail": "Incorrect authentication credentials."}]
                },
            )
            await klaviyo.get_by_role("button", name="Test connection").click()
            await expect(result).to_contain_text("Klaviyo answered")
        status = klaviyo.locator("[data-status]")
        await expect(status).to_contain_text("Sync failing")
        await expect(klaviyo.locator("[data-last-error]")).to_contain_text(
            "The platform refused the API key"
        )
        await row.refresh_from_db()
        assert row.last_error is not None and row.last_success_at is not None
        assert admin.errors == []

    @pytest.mark.screenshot
    async def test_a_failing_sync_reads_in_plain_words(self, page: Page, live_app: LiveApp) -> None:
        """A stored 401 from the platform says the key was refused and what to do."""
        shop = await installed_shop()
        await Integration.create(
            shop=shop, platform=Platform.OMNISEND, enabled=True, credentials_enc="unreadable"
        )
        await record_outcome(
            shop_id=shop.id,
            shop_label=shop.domain,
            platform=Platform.OMNISEND,
            succeeded=False,
            error="HTTP 401 from Omnisend: Unauthorized",
        )
        admin = AdminPage(page, live_app)
        await admin.open("/app/integrations")
        omnisend = page.locator('[data-integration="omnisend"]')
        await expect(omnisend.locator("[data-last-error]")).to_contain_text(
            "The platform refused the API key"
        )
        await expect(omnisend.locator("[data-last-error]")).to_contain_text(
            "HTTP 401 from Omnisend"
        )
        await expect(omnisend.locator("[data-status]")).to_contain_text("Sync failing")
        await expect(page.locator('[data-integration="klaviyo"] [data-status]')).to_contain_text(
            "Not connected"
        )
        await admin.screenshot("admin-integrations")
        assert admin.errors == []

    async def test_updates_given_up_on_are_listed_and_retried(
        self, page: Page, live_app: LiveApp
    ) -> None:
        """A Klaviyo intent dead-lettered after its retry window: the card lists it with the
        error; "Retry all" makes it pending again and says how many."""
        shop = await installed_shop()
        await Integration.create(
            shop=shop, platform=Platform.KLAVIYO, enabled=True, credentials_enc="unreadable"
        )
        customer = await create_customer(shop, first_name="Ada")
        intent = await OutboxIntent.create(
            shop=shop,
            customer=customer,
            job=JobName.SYNC_KLAVIYO_PROFILES,
            completed_at=utcnow(),
            dead_at=utcnow(),
            attempts=41,
            last_error="HTTP 429 from Klaviyo for 48 hours",
        )
        admin = AdminPage(page, live_app)
        await admin.open("/app/integrations")
        klaviyo = page.locator('[data-integration="klaviyo"]')
        dead = klaviyo.locator("[data-dead-letters]")
        await expect(dead).to_be_visible()
        await expect(dead.locator("[data-dead-rows]")).to_contain_text("HTTP 429 from Klaviyo")

        await dead.get_by_role("button", name="Retry all").click()

        await expect(dead).to_be_hidden()
        assert any("1" in toast for toast in await admin.toasts())
        await intent.refresh_from_db()
        # Pending again with a new window (the in-process worker may already be trying it).
        assert intent.dead_at is None and intent.retry_from is not None
        assert admin.errors == []

    async def test_shopify_failing_shows_on_its_card_until_the_work_goes_through(
        self, page: Page, live_app: LiveApp
    ) -> None:
        """A metafield sync held after Shopify answered 503: the Shopify card says it is
        failing, in plain words and with what Shopify said; once delivered, it no longer does."""
        shop = await installed_shop()
        customer = await create_customer(shop)
        intent = await OutboxIntent.create(
            shop=shop,
            customer=customer,
            job=JobName.SYNC_SHOPIFY_METAFIELDS,
            attempts=3,
            claimed_until=utcnow() + timedelta(minutes=5),
            last_error="Shopify answered 503",
        )
        admin = AdminPage(page, live_app)
        await admin.open("/app/integrations")
        card = page.locator('[data-dead-letter-source="shopify"]')
        await expect(card.locator("[data-status]")).to_contain_text("Sync failing")
        failing = card.locator("[data-last-error]")
        await expect(failing).to_contain_text("1 update waits because Shopify did not take them")
        await expect(failing).to_contain_text("What Shopify said: Shopify answered 503")

        await OutboxIntent.filter(id=intent.id).update(
            completed_at=utcnow(), outcome=IntentOutcome.DELIVERED
        )
        await page.reload()
        await admin.ready()
        await expect(card.locator("[data-status]")).to_contain_text("Every update was delivered")
        await expect(failing).to_be_hidden()
        assert admin.errors == []

    async def test_events_whose_answer_was_lost_can_be_sent_again(
        self, page: Page, live_app: LiveApp
    ) -> None:
        """A Postscript event recorded unconfirmed: the card says it may not have arrived and
        may show twice; "Send again" makes its intent pending again and says how many."""
        shop = await installed_shop()
        # Sync off: the re-sent intent stays pending, so the test sees it as the button left it.
        await Integration.create(
            shop=shop, platform=Platform.POSTSCRIPT, enabled=False, credentials_enc="unreadable"
        )
        customer = await create_customer(shop, first_name="Ada")
        intent = await OutboxIntent.create(
            shop=shop,
            customer=customer,
            job=JobName.SYNC_POSTSCRIPT_SUBSCRIBERS,
            completed_at=utcnow(),
            outcome=IntentOutcome.DELIVERED,
            attempts=1,
        )
        await EventDelivery.create(
            shop_id=shop.id,
            platform=str(Platform.POSTSCRIPT),
            event_key="points:1",
            intent_id=intent.id,
            status=DeliveryStatus.UNCONFIRMED,
            at=utcnow(),
        )
        admin = AdminPage(page, live_app)
        await admin.open("/app/integrations")
        postscript = page.locator('[data-integration="postscript"]')
        banner = postscript.locator("[data-unconfirmed]")
        await expect(banner).to_contain_text(
            "1 event may not have reached Postscript: the answer was lost. "
            "Sending again may show some twice."
        )
        await expect(page.locator('[data-integration="klaviyo"] [data-unconfirmed]')).to_be_hidden()

        await banner.get_by_role("button", name="Send again").click()

        await expect(banner).to_be_hidden()
        assert any("1 event" in toast for toast in await admin.toasts())
        await intent.refresh_from_db()
        assert intent.completed_at is None and intent.retry_from is not None
        assert not await EventDelivery.filter(shop_id=shop.id).exists()
        assert admin.errors == []
