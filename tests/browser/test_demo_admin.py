"""The admin preview in Chromium, as a new user meets it after `make run`: /demo/admin shows the
banner and the app's real home in its frame; through the frame they go to Ways to earn, create
a custom action (the page's own links bounce for a fresh token, which the App Bridge stand-in
gets from the demo) and see the save toast. Nothing is requested from outside this machine."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, Route, expect

from loyalty.models import EarningRule, RuleCategory
from loyalty.settings import Settings
from loyalty.shops.demo import DEMO_SHOP
from tests.browser.admin import installed_shop
from tests.browser.conftest import LiveApp, park_pointer, screenshot_path
from tests.demo_app import BANNER, demo_app_settings

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@pytest.fixture
def settings(db: str, tmp_path: Path) -> Settings:
    """The process `loyalty serve --demo` runs (the live app serves it)."""
    return demo_app_settings(db, tmp_path)


async def refuse_the_internet(page: Page) -> list[str]:
    """Every request that leaves 127.0.0.1, aborted and listed (the demo runs offline)."""
    outside: list[str] = []

    async def abort(route: Route) -> None:
        outside.append(route.request.url)
        await route.abort()

    await page.route(lambda url: urlsplit(url).hostname != "127.0.0.1", abort)
    return outside


async def test_create_a_rule_through_the_admin_preview(page: Page, live_app: LiveApp) -> None:
    shop = await installed_shop(domain=DEMO_SHOP, name="Demo Store", is_demo=True)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Jobs the rule owes are recorded, not run (the local Shopify is another part's test).
    jobs: list[tuple[int, list[str]]] = []
    live_app.app.state.services.dispatcher.notify = lambda shop_id, names: jobs.append(
        (shop_id, list(names))
    )
    outside = await refuse_the_internet(page)

    await page.goto(f"{live_app.url}/demo/admin")
    await expect(page.get_by_role("note")).to_have_text(BANNER)
    await expect(page.get_by_role("link", name="Demo storefront")).to_have_attribute(
        "href", "/demo/storefront"
    )
    await expect(page.get_by_role("link", name="Local Shopify")).to_have_attribute(
        "href", "/demo/shopify"
    )
    app = page.frame_locator("iframe[title='Loyalty app']")
    await expect(app.get_by_role("heading", name="Loyalty programme")).to_be_visible()
    await park_pointer(page)
    await page.screenshot(path=screenshot_path("demo-admin-preview"))

    # The app's menu (App Bridge's s-app-nav) navigates the frame with a fresh token.
    await (
        app.get_by_role("navigation", name="Loyalty")
        .get_by_role("link", name="Ways to earn")
        .click()
    )
    await expect(app.get_by_role("region", name="No ways to earn yet")).to_be_visible()
    await app.get_by_role("button", name="Add a way to earn").click()  # a link with no token
    await app.get_by_role("button", name="Choose Custom actions").click()
    await app.get_by_label("Name").fill("Visited the demo")
    await app.get_by_label("Action key").fill("visited_demo")
    await app.get_by_label("Points", exact=True).fill("25")
    await app.get_by_role("button", name="Add way to earn").click()

    await expect(app.locator("s-table-row", has_text="Visited the demo")).to_be_visible(
        timeout=10_000
    )
    await expect(app.locator(".ab-toast")).to_contain_text("Way to earn added")
    rule = await EarningRule.get(shop=shop)
    assert (rule.category, rule.action_key, rule.points) == (
        RuleCategory.CUSTOM,
        "visited_demo",
        25,
    )
    assert outside == []
    assert errors == []
