"""Issue 15's new user, end to end in Chromium: the app served by uvicorn in demo mode on a real
port, as `make run` serves it, so the local Shopify receives the app's real Admin API calls
through ShopifyRedirect (the sync jobs run in-process, as on the embedded default).

They open the admin preview, create a social rule in the framed admin, follow the demo bar to
the storefront, sign in as the demo customer and claim the new rule in the widget, and see the
balance in the widget, the new metafield values on the local Shopify page (which updates by
itself) and the entry on the framed admin's customer page. No request leaves 127.0.0.1: the
rule's call-to-action page, which the claim opens, is answered by a stand-in and listed."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, FrameLocator, Page, Route, expect

from loyalty.crypto import SecretBox
from loyalty.models import Customer, EarningHistoryEntry, EarningRule, RuleCategory
from loyalty.settings import Settings
from loyalty.shops.demo import DemoShop, seed_demo
from loyalty.shops.demo_mode import demo_admin_base_url
from tests.browser.conftest import LiveApp
from tests.browser.storefront import rule_item, wait_until_loaded
from tests.local_demo import ANN, local_demo_settings

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

PROFILE = "https://pinterest.com/demostore"
TIMEOUT = 15_000  # a sync job's round trip to the local Shopify, on a busy machine


@pytest.fixture
def live_port() -> int:
    """A free port, known before the app starts: its settings name the local Shopify there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, live_port: int) -> Settings:
    """What `loyalty serve --demo --port PORT` runs with, metafields pushed without delay and
    the outbox swept each second (the seed's syncs are owed from before the app started: the
    sweep dispatches them once they are 5 seconds old, as it does after `make run`)."""
    return local_demo_settings(settings, tmp_path).with_overrides(
        shopify_admin_base_url=demo_admin_base_url(live_port),
        outbox_sweep_interval=1,
        metafield_sync_delay=0,
        metafield_sync_max_wait=0,
    )


@pytest.fixture
async def demo(settings: Settings) -> DemoShop:
    """What `make run` does first: `loyalty demo` seeds the shop and connects it."""
    return await seed_demo(box=SecretBox(settings.secret_key))


async def stay_on_this_machine(context: BrowserContext) -> list[str]:
    """Every request for anywhere but 127.0.0.1, listed and answered here (never sent)."""
    outside: list[str] = []

    async def answer(route: Route) -> None:
        outside.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html", body="<h1>Social page</h1>")

    await context.route(lambda url: urlsplit(url).hostname != "127.0.0.1", answer)
    return outside


def watch(page: Page, errors: list[str]) -> Page:
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    return page


async def create_social_rule(admin: Page) -> FrameLocator:
    """In the framed admin: Ways to earn → Add → Social, Pinterest, 40 points."""
    app = admin.frame_locator("iframe[title='Loyalty app']")
    await expect(app.get_by_role("heading", name="Loyalty programme")).to_be_visible()
    nav = app.get_by_role("navigation", name="Loyalty")
    await nav.get_by_role("link", name="Ways to earn").click()
    await app.get_by_role("button", name="Add a way to earn").click()
    await app.get_by_role("button", name="Choose Social").click()
    await app.get_by_label("Name").fill("Follow on Pinterest")
    await app.get_by_label("Network").select_option("follow_on_pinterest")
    await app.get_by_label("Profile URL").fill(PROFILE)
    await app.get_by_label("Points", exact=True).fill("40")
    await app.get_by_label("Label customers see").fill("Follow us on Pinterest")
    await app.get_by_role("button", name="Add way to earn").click()
    await expect(app.locator(".ab-toast")).to_contain_text("Way to earn added")
    await expect(app.locator("s-table-row", has_text="Follow on Pinterest")).to_be_visible()
    return app


async def test_a_new_user_creates_a_rule_claims_it_and_sees_it_everywhere(
    context: BrowserContext, demo: DemoShop, live_app: LiveApp
) -> None:
    context.set_default_timeout(TIMEOUT)
    outside = await stay_on_this_machine(context)
    errors: list[str] = []
    admin = watch(await context.new_page(), errors)

    await admin.goto(f"{live_app.url}/demo/admin")
    app = await create_social_rule(admin)
    rule = await EarningRule.get(shop=demo.shop, action="follow_on_pinterest")
    assert (rule.category, rule.points) == (RuleCategory.SOCIAL, 40)

    # The local Shopify page, opened once: it shows the seeded balance the sync pushed, and
    # later the new one, without a reload.
    shopify = watch(await context.new_page(), errors)
    href = await admin.get_by_role("link", name="Local Shopify").get_attribute("href")
    await shopify.goto(live_app.url + str(href))
    ann_card = shopify.locator(f'[data-customer="gid://shopify/Customer/{ANN}"]')
    points = ann_card.locator("tr", has_text="$app.points").first
    await expect(points).to_contain_text("120")

    # The demo storefront, from the admin preview's link, signed in as the demo customer.
    storefront = watch(await context.new_page(), errors)
    href = await admin.get_by_role("link", name="Demo storefront").get_attribute("href")
    await storefront.goto(live_app.url + str(href))
    await storefront.get_by_label("Signed in as").select_option(str(ANN))
    await storefront.get_by_role("button", name="Open").click()
    await wait_until_loaded(storefront)
    balance = storefront.locator(".lw--section [data-lw-field=points_balance]")
    await expect(balance).to_have_text("120")
    item = rule_item(storefront, rule).first
    await expect(item).to_contain_text("Follow us on Pinterest")
    async with storefront.expect_popup() as popup:
        await item.get_by_role("button", name="Claim Follow us on Pinterest").click()
    assert (await popup.value).url == PROFILE
    await expect(item.get_by_role("status")).to_have_text("Done! 40 points added to your balance.")
    await expect(balance).to_have_text("160")

    # "Shopify" received the new values: the page, never reloaded, shows them.
    await expect(points).to_contain_text("160")
    await expect(ann_card.locator("tr", has_text="$app.lifetime_points")).to_contain_text("160")
    ann = await Customer.get(shop=demo.shop, shopify_customer_id=ANN)
    assert (ann.points_balance, ann.lifetime_points) == (160, 160)

    # The framed admin's customer page lists the entry.
    await admin.bring_to_front()
    await (
        app.get_by_role("navigation", name="Loyalty").get_by_role("link", name="Customers").click()
    )
    await app.get_by_role("link", name="Ann Bronze").click()
    await expect(app.get_by_role("heading", name="Ann Bronze")).to_be_visible()
    entry = app.locator("[data-entry]", has_text="Follow on Pinterest")
    await expect(entry).to_contain_text("+40")
    await expect(entry).to_contain_text("Approved")
    assert await EarningHistoryEntry.filter(customer=ann, rule=rule).count() == 1

    assert outside == [PROFILE]  # the claim's popup, answered by the stand-in above
    assert errors == []
