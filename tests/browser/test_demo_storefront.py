"""The demo storefront in Chromium, as a new user meets it after `make run`: the app serving
`/demo/storefront` itself (the demo app's credentials, loopback), the widget's calls going
through the local signing proxy to the app's real /proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from loyalty.models import Customer, EarningRule
from loyalty.settings import Settings
from loyalty.shops.demo import SHOWCASE_RULE, DemoShop, seed_demo
from tests.browser.conftest import LiveApp
from tests.browser.storefront import (
    launcher,
    open_panel,
    rule_item,
    shopper_context,
    wait_until_loaded,
    watched_page,
)
from tests.local_demo import ANN, SAM, local_demo_settings


@pytest.fixture
async def demo(db: str) -> DemoShop:
    return await seed_demo()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return local_demo_settings(settings, tmp_path)


@pytest.fixture
def instagram(demo: DemoShop) -> EarningRule:
    return next(rule for rule in demo.rules if rule.public_id == SHOWCASE_RULE)


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[Page]:
    async with shopper_context(browser) as shopper, watched_page(shopper) as page:
        yield page


def ways_to_earn(page: Page) -> Locator:
    return page.locator(".lw--section").filter(has=page.locator("[data-lw-rules]"))


class TestDemoStorefront:
    async def test_the_demo_customer_claims_instagram_and_the_balance_goes_up(
        self, live_app: LiveApp, demo: DemoShop, instagram: EarningRule, tab: Page
    ) -> None:
        await tab.goto(f"{live_app.url}/demo/storefront?as={ANN}")
        await wait_until_loaded(tab)
        balance = tab.locator(".lw--section [data-lw-field=points_balance]")
        await expect(balance).to_have_text("120")
        await expect(tab.get_by_label("Signed in as")).to_have_value(str(ANN))
        item = rule_item(ways_to_earn(tab), instagram)
        await expect(item).to_contain_text("Follow @demostore on Instagram")
        await expect(item).to_contain_text("100 points")

        async with tab.expect_popup() as popup:
            await item.get_by_role("button", name="Claim Follow @demostore on Instagram").click()
        assert (await popup.value).url == instagram.call_to_action_url

        await expect(item.get_by_role("status")).to_have_text(
            "Done! 100 points added to your balance."
        )
        await expect(balance).to_have_text("220")
        await expect(launcher(tab)).to_contain_text("220")
        dialog = await open_panel(tab)
        await expect(dialog.locator("[data-lw-history]")).to_contain_text("+100")
        ann = await Customer.get(shop=demo.shop, shopify_customer_id=ANN)
        assert ann.points_balance == 220

        await tab.reload()  # the Liquid now renders the new balance from the app's metafields
        await expect(balance).to_have_text("220")
        await expect(rule_item(ways_to_earn(tab), instagram).get_by_role("button")).to_contain_text(
            "Completed"
        )

    async def test_a_visitor_sees_the_sign_in_prompt_and_signs_in_by_choosing_a_customer(
        self, live_app: LiveApp, demo: DemoShop, instagram: EarningRule, tab: Page
    ) -> None:
        await tab.goto(f"{live_app.url}/demo/storefront")
        await wait_until_loaded(tab)
        prompt = tab.locator(".lw--section .lw-visitor").first
        await expect(prompt).to_contain_text("Sign in")
        await expect(tab.locator(".lw--section [data-lw-field=points_balance]")).to_have_count(0)
        await expect(rule_item(ways_to_earn(tab), instagram).get_by_role("button")).to_have_count(
            0
        )  # no claim button for a visitor

        await prompt.get_by_role("link", name="Sign in").click()
        await tab.get_by_label("Signed in as").select_option(str(SAM))
        await tab.get_by_role("button", name="Open").click()

        await expect(tab).to_have_url(
            f"{live_app.url}/demo/storefront?shop=demo.myshopify.com&as={SAM}"
        )
        await wait_until_loaded(tab)
        await expect(tab.locator(".lw--section [data-lw-field=points_balance]")).to_have_text("800")
        await expect(
            rule_item(ways_to_earn(tab), instagram).get_by_role("button")
        ).to_have_attribute("aria-disabled", "false")
