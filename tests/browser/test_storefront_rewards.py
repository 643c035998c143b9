"""Rewards in the storefront, as shoppers use them: the theme extension's real blocks and scripts
in Chromium, the live app behind the app proxy (tests/browser/storefront.py), and Shopify's Admin
API as the schema-validating stand-in, so the code a shopper applies on the cart page is the one
the app created in Shopify."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
import respx
from playwright.async_api import Browser, Locator, Page, Route, expect

from loyalty.clock import utcnow
from loyalty.models import Customer, Redemption, RewardKind, Shop
from standins.shopify_admin import ShopifyAdmin, customer_node
from tests.browser.conftest import LiveApp, park_pointer, screenshot_path
from tests.browser.storefront import (
    Storefront,
    launcher,
    open_panel,
    serve_storefront,
    shopper_context,
    wait_until_loaded,
    watched_page,
)
from tests.loyalty.rewards.helpers import connected_shop, customer_with_lots, reward
from tests.loyalty.sync.harness import graphql_url

RICH, POOR = 555, 556


@dataclass
class Catalogue:
    shop: Shop
    rich: Customer  # 700 points
    poor: Customer  # 120 points


@pytest.fixture
async def catalogue(db: str) -> Catalogue:
    shop = await connected_shop(domain="rewards-front.myshopify.com", name="Demo store")
    await reward(shop, name="$5 off", description="Five dollars off your next order")
    await reward(shop, name="Free shipping", kind=RewardKind.FREE_SHIPPING, points_cost=300)
    await reward(shop, name="$20 off", points_cost=2000, value=Decimal("20.00"))
    rich = await customer_with_lots(shop, (300, None), (400, None), shopify_customer_id=RICH)
    poor = await customer_with_lots(shop, (120, None), shopify_customer_id=POOR)
    return Catalogue(shop, rich, poor)


@pytest.fixture
async def shopify(catalogue: Catalogue) -> AsyncIterator[ShopifyAdmin]:
    """The shop's Admin API, which the app's code job calls once a redemption commits (the app
    runs in this process); the storefront and the app on 127.0.0.1 are reached for real."""
    stand_in = ShopifyAdmin(customers=[customer_node(RICH), customer_node(POOR)])
    with respx.mock(assert_all_called=False) as mock:
        mock.post(graphql_url(catalogue.shop)).mock(side_effect=stand_in)
        mock.route(host="127.0.0.1").pass_through()
        yield stand_in


@pytest.fixture
async def front(
    catalogue: Catalogue, live_app: LiveApp, shopify: ShopifyAdmin
) -> AsyncIterator[Storefront]:
    async with serve_storefront(catalogue.shop, live_app, shopify=shopify) as storefront:
        yield storefront


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[Page]:
    """A shopper's tab (tests/browser/storefront.py) that may use the clipboard."""
    async with shopper_context(browser) as context:
        await context.grant_permissions(["clipboard-read", "clipboard-write"])
        async with watched_page(context) as page:
            yield page


def item(scope: Page | Locator, name: str) -> Locator:
    return scope.locator("[data-lw-reward]", has_text=name)


async def live_in_shopify(shopify: ShopifyAdmin, code: str) -> None:
    """The app's job has created the code in Shopify (it runs right after the commit)."""
    for _ in range(200):
        if code in shopify.discount_codes:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{code} never reached Shopify")


class TestRedeem:
    @pytest.mark.screenshot
    async def test_a_shopper_redeems_copies_the_code_and_applies_it_on_the_cart(
        self, front: Storefront, tab: Page, catalogue: Catalogue, shopify: ShopifyAdmin
    ) -> None:
        front.customer_id = RICH
        await tab.goto(front.url)
        dialog = await open_panel(tab)
        five = item(dialog, "$5 off")
        await expect(five).to_contain_text("500 points")
        await expect(item(dialog, "$20 off")).to_contain_text("1,300 points more to go")
        await expect(item(dialog, "$20 off").get_by_role("button")).to_have_count(0)
        await expect(dialog.locator("[data-lw-codes]")).to_contain_text("No active codes yet")

        await five.get_by_role("button", name="Redeem $5 off").click()

        await expect(five.get_by_role("status")).to_have_text("Done! Your code is ready.")
        row = await Redemption.get(customer_id=catalogue.rich.id)
        code = row.code or ""
        await expect(five.locator(".lw-code__value")).to_have_text(code)
        await expect(launcher(tab)).to_contain_text("200")
        await expect(dialog.locator("[data-lw-codes] [data-lw-code]")).to_contain_text(code)
        await expect(item(dialog, "Free shipping")).to_contain_text("100 points more to go")
        # The same picture every run: the reloads the redemption set off drawn, the panel
        # scrolled to its top, nothing focused.
        await wait_until_loaded(tab)
        await dialog.evaluate(
            "el => { document.activeElement.blur(); "
            "[el, ...el.querySelectorAll('*')].forEach((e) => { e.scrollTop = 0; }); }"
        )
        await park_pointer(tab)
        await tab.screenshot(path=screenshot_path("storefront-rewards"), animations="disabled")

        await five.get_by_role("button", name="Copy code").click()
        await expect(five.get_by_role("button", name="Copied")).to_be_visible()
        assert await tab.evaluate("navigator.clipboard.readText()") == code

        await live_in_shopify(shopify, code)
        await tab.goto(f"{front.url}/cart")
        block = tab.locator(".lw--section")
        mine = block.locator("[data-lw-codes] [data-lw-code]")
        await expect(mine).to_have_count(1)
        await expect(mine).to_contain_text(code)
        await expect(tab.locator("[data-cart-discount]")).to_have_text("No discount applied")
        await mine.get_by_role("link", name="Apply to cart").click()

        await expect(tab).to_have_url(f"{front.url}/cart")
        await expect(tab.locator("[data-cart-discount]")).to_have_text(f"Discount {code} applied")
        await expect(mine).to_contain_text(code)  # the page's lists loaded again
        await expect(item(block, "$5 off")).to_contain_text("300 points more to go")
        await wait_until_loaded(tab)
        await park_pointer(tab)
        await tab.screenshot(path=screenshot_path("storefront-rewards-cart"), animations="disabled")
        assert shopify.rejected == []

    async def test_a_shopper_without_enough_points_sees_how_many_they_need(
        self, front: Storefront, tab: Page
    ) -> None:
        front.customer_id = POOR
        await tab.goto(f"{front.url}/cart")
        block = tab.locator(".lw--section")
        await expect(item(block, "$5 off")).to_contain_text("380 points more to go")
        await expect(item(block, "Free shipping")).to_contain_text("180 points more to go")
        await expect(block.get_by_role("button", name="Redeem", exact=False)).to_have_count(0)
        await expect(block.locator("[data-lw-codes]")).to_contain_text("No active codes yet")

    async def test_a_visitor_sees_the_rewards_and_a_sign_in_prompt(
        self, front: Storefront, tab: Page
    ) -> None:
        await tab.goto(f"{front.url}/cart")
        block = tab.locator(".lw--section")
        await expect(item(block, "$5 off")).to_contain_text("Five dollars off your next order")
        await expect(block.get_by_role("link", name="Sign in")).to_be_visible()
        await expect(block.get_by_role("button", name="Redeem", exact=False)).to_have_count(0)
        await expect(block.locator("[data-lw-codes]")).to_have_count(0)
        assert "my-rewards" not in {f.path for f in front.forwarded}


class TestLayout:
    async def test_a_variable_rewards_points_field_leaves_its_name_room_in_the_blocks_grid(
        self, front: Storefront, tab: Page, catalogue: Catalogue
    ) -> None:
        """At 1280 px the block lays rewards out four to a row; a field and a button beside
        the text squeezed a signed-in member's variable reward's name to a letter a line."""
        await reward(
            catalogue.shop,
            name="Store credit, 1 cent a point",
            kind=RewardKind.STORE_CREDIT,
            points_cost=100,
            value=None,
            is_variable=True,
            min_points=200,
            max_points=2000,
            value_per_point=Decimal("0.01"),
        )
        front.customer_id = RICH
        await tab.goto(f"{front.url}/cart")
        card = item(tab.locator(".lw--section"), "Store credit")
        field = card.get_by_label("Points to spend")
        await expect(field).to_have_value("700")
        name, points = card.locator(".lw-rule__label"), await field.bounding_box()
        name_box, card_box = await name.bounding_box(), await card.bounding_box()
        assert name_box and card_box and points
        # The name spans most of the card, in at most two lines, and the field sits under it.
        assert name_box["width"] > card_box["width"] * 0.6, (name_box, card_box)
        line = await name.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
        assert name_box["height"] <= 2 * line + 1, (name_box, line)
        assert points["y"] >= name_box["y"] + name_box["height"]
        # A shopper who cannot redeem it has no field: the card keeps its one-row layout.
        front.customer_id = POOR
        await tab.goto(f"{front.url}/cart")
        poor_card = item(tab.locator(".lw--section"), "Store credit")
        await expect(poor_card).to_contain_text("80 points more to go")
        await expect(poor_card).not_to_have_class(re.compile(r"lw-reward--amount"))
        await expect(poor_card.get_by_label("Points to spend")).to_be_hidden()


class TestTheLaunchersPanel:
    async def test_a_page_view_loads_the_panels_rewards_only_when_it_first_opens(
        self, front: Storefront, tab: Page
    ) -> None:
        """The panel closed, the page fetches neither the rewards nor the referral script nor
        their proxy calls; its first open loads and draws them, once: closing and opening it
        again asks for nothing more."""
        front.customer_id = RICH
        scripts: list[str] = []
        tab.on("request", lambda request: scripts.append(request.url.rsplit("/", 1)[-1]))
        await tab.goto(front.url)
        await wait_until_loaded(tab)
        assert "loyalty-widget.js" in scripts
        assert not {"loyalty-rewards.js", "loyalty-referral.js"} & set(scripts)
        assert sorted(f.path for f in front.forwarded) == ["customer", "earning-rules"]

        dialog = await open_panel(tab)
        await wait_until_loaded(tab)

        await expect(item(dialog, "$5 off")).to_contain_text("500 points")
        await expect(dialog.locator("[data-lw-codes]")).to_contain_text("No active codes yet")
        assert scripts.count("loyalty-rewards.js") == scripts.count("loyalty-referral.js") == 1
        asked = sorted(f.path for f in front.forwarded)
        assert asked == ["customer", "earning-rules", "my-rewards", "referral", "rewards"]
        await tab.keyboard.press("Escape")
        await open_panel(tab)
        await wait_until_loaded(tab)
        assert sorted(f.path for f in front.forwarded) == asked

    async def test_with_a_rewards_block_on_the_page_the_panel_joins_its_script(
        self, front: Storefront, tab: Page
    ) -> None:
        """The cart page's Rewards block loads the rewards script at once, the panel's list
        waiting; opening the panel draws its list with the script already there."""
        front.customer_id = RICH
        await tab.goto(f"{front.url}/cart")
        await wait_until_loaded(tab)
        block = tab.locator(".lw--section")
        await expect(item(block, "$5 off")).to_contain_text("500 points")
        await expect(tab.locator("[data-lw-panel] [data-lw-reward]")).to_have_count(0)
        assert [f.path for f in front.forwarded].count("rewards") == 1

        dialog = await open_panel(tab)
        await wait_until_loaded(tab)

        await expect(item(dialog, "$5 off")).to_contain_text("500 points")
        await expect(item(dialog, "$20 off")).to_contain_text("1,300 points more to go")
        await expect(item(block, "$5 off")).to_contain_text("500 points")


class TestRefusals:
    async def test_refusals_are_said_in_plain_words_and_spend_nothing(
        self, front: Storefront, tab: Page, catalogue: Catalogue
    ) -> None:
        """The page still offers a reward the app now refuses: Shopify disconnected, then
        points spent elsewhere meanwhile."""
        front.customer_id = RICH
        await tab.goto(f"{front.url}/cart")
        block = tab.locator(".lw--section")
        five = item(block, "$5 off")
        redeem = five.get_by_role("button", name="Redeem $5 off")
        await expect(redeem).to_be_visible()

        await Shop.filter(id=catalogue.shop.id).update(reauth_required_at=utcnow())
        await redeem.click()
        await expect(five.get_by_role("status")).to_have_text(
            "Rewards cannot be redeemed right now. No points were spent; try again later."
        )

        await Shop.filter(id=catalogue.shop.id).update(reauth_required_at=None)
        await Customer.filter(id=catalogue.rich.id).update(points_balance=450)
        await redeem.click()
        await expect(five.get_by_role("status")).to_have_text(
            "Not enough points: you need 50 points more."
        )
        await expect(five).to_contain_text("50 points more to go")  # reloaded from the app
        await expect(redeem).to_be_hidden()
        assert await Redemption.all().count() == 0


# Counts the app proxy's answers the page's scripts have read, one task after each: by then the
# script that asked has done all it does with that answer (the rest of its load is promise
# callbacks, which run before the next task).
COUNT_ANSWERS = """
window.lwAnswers = 0;
const readJson = Response.prototype.json;
Response.prototype.json = async function () {
  try { return await readJson.call(this); }
  finally { setTimeout(() => { window.lwAnswers += 1; }); }
};
"""


class TestReloads:
    async def test_an_answer_overtaken_by_a_reload_is_never_drawn(
        self, front: Storefront, tab: Page, catalogue: Catalogue
    ) -> None:
        """The first answers (the balance and the rewards at 700 points) are held back while
        the points move to 200 and `lw:points` reloads both scripts; the reload is drawn, the
        page stops loading, and the older answers, arriving last, change nothing."""
        front.customer_id = RICH
        release, both_held = asyncio.Event(), asyncio.Event()
        held: list[str] = []  # asked for
        fetched: list[str] = []  # answered by the app, not yet passed on

        async def hold_the_first(route: Route) -> None:
            path = route.request.url.rsplit("/", 1)[-1]
            if path in held:
                await route.fallback()
                return
            held.append(path)
            answer = await route.fetch()  # the app's answer now, at 700 points
            fetched.append(path)
            if len(fetched) == 2:
                both_held.set()
            await release.wait()
            await route.fulfill(response=answer)

        await tab.add_init_script(COUNT_ANSWERS)
        await tab.route("**/apps/loyalty/customer", hold_the_first)
        await tab.route("**/apps/loyalty/rewards", hold_the_first)
        await tab.goto(front.url)
        dialog = await open_panel(tab)
        await asyncio.wait_for(both_held.wait(), timeout=10)
        await expect(tab.locator("[data-lw-loading]")).not_to_have_count(0)

        await Customer.filter(id=catalogue.rich.id).update(points_balance=200)
        await tab.evaluate("document.dispatchEvent(new Event('lw:points'))")
        await wait_until_loaded(tab)
        twenty = item(dialog, "$20 off")
        await expect(launcher(tab)).to_contain_text("200")
        await expect(twenty).to_contain_text("1,800 points more to go")

        answered = await tab.evaluate("window.lwAnswers")
        release.set()
        await tab.wait_for_function(f"window.lwAnswers >= {answered + 2}")
        await expect(launcher(tab)).to_contain_text("200")
        await expect(twenty).to_contain_text("1,800 points more to go")
        await expect(tab.locator("[data-lw-loading]")).to_have_count(0)
