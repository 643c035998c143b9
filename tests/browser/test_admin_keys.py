"""API keys in Chromium: a bad name is a field message; a new key is shown once with a copy
button, works out of the page only through its hash, and is revoked after confirming."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, Page, expect

from loyalty.models import ApiKey
from loyalty.shops.api_keys import hash_key
from tests.browser.admin import AdminPage, installed_shop
from tests.browser.conftest import LiveApp
from tests.factories import create_api_key

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


class TestApiKeys:
    @pytest.mark.screenshot
    async def test_create_copy_and_revoke_a_key(
        self, page: Page, context: BrowserContext, live_app: LiveApp
    ) -> None:
        """Shown once, copied to the clipboard, listed by prefix, revoked for real."""
        await context.grant_permissions(["clipboard-read", "clipboard-write"])
        shop = await installed_shop()
        await create_api_key(shop, read_only=True)
        admin = AdminPage(page, live_app)
        await admin.open("/app/api-keys")
        await expect(page.get_by_role("link", name="API documentation")).to_have_attribute(
            "href", "/api/v1/docs"
        )

        await page.get_by_label("Name").fill("x" * 101)
        await page.get_by_role("button", name="Create key").click()
        await expect(page.locator("s-text-field[name=name] .sf-error")).to_have_text(
            "Name must be at most 100 characters"
        )
        assert await ApiKey.filter(shop=shop).count() == 1

        await page.get_by_label("Name").fill("Helpdesk")
        await page.get_by_role("button", name="Create key").click()
        secret_box = page.locator("[data-secret]")
        await expect(secret_box).to_have_text(re.compile(r"^lk_"))
        secret = await secret_box.text_content()
        assert secret is not None
        key = await ApiKey.get(shop=shop, name="Helpdesk")
        assert key.key_hash == hash_key(secret) and secret.startswith(key.prefix)
        await admin.screenshot("admin-api-keys")

        await page.get_by_role("button", name="Copy key").click()
        await expect(page.locator(".ab-toast")).to_contain_text("Key copied")
        assert await page.evaluate("navigator.clipboard.readText()") == secret

        await page.get_by_role("button", name="I've stored it safely").click()
        row = page.locator(f'[data-key="{key.public_id}"]')
        await expect(row).to_contain_text("Helpdesk", timeout=10_000)
        assert secret not in await page.content()  # never shown again

        await row.get_by_role("button", name="Revoke Helpdesk").click()
        dialog = page.get_by_role("dialog", name="Revoke Helpdesk?")
        await dialog.get_by_role("button", name="Revoke key").click()
        await expect(page.locator(f'[data-key="{key.public_id}"]')).to_contain_text(
            "Revoked", timeout=10_000
        )
        await key.refresh_from_db()
        assert key.revoked_at is not None
        assert admin.errors == []
