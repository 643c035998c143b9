"""Referrals on the demo storefront in Chromium (issue 17): a member's share panel (their link,
copied to the clipboard, and plain share links), and a friend arriving through the link — the
shop's home with `?ref=CODE`, the offer in the panel, the landing page behind the app proxy,
an email given and the reward code shown. The app serves `/demo/storefront` itself and the
widget's calls go through the local signing proxy to the app's real /proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from loyalty.models import Customer, Referral, ReferralStatus
from loyalty.referrals.codes import code_for
from loyalty.settings import Settings
from loyalty.shops.demo import DEMO_SHOP, DemoShop, seed_demo
from tests.browser.conftest import LiveApp, park_pointer, screenshot_path
from tests.browser.storefront import open_panel, panel, shopper_context, wait_until_loaded
from tests.local_demo import ANN, local_demo_settings


@pytest.fixture
async def demo(db: str) -> DemoShop:
    return await seed_demo()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return local_demo_settings(settings, tmp_path)


@pytest.fixture
async def shopper(browser: Browser) -> AsyncIterator[BrowserContext]:
    async with shopper_context(browser) as context:
        yield context


async def watched(context: BrowserContext) -> Page:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


async def ann_code(demo: DemoShop) -> str:
    ann = await Customer.get(shop=demo.shop, shopify_customer_id=ANN)
    code = await code_for(shop_id=demo.shop.id, customer_id=ann.id)
    assert code is not None
    return code


class TestTheMembersSharePanel:
    @pytest.mark.screenshot
    async def test_ann_copies_her_link_and_shares_it_by_plain_links(
        self, live_app: LiveApp, demo: DemoShop, shopper: BrowserContext
    ) -> None:
        await shopper.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_app.url)
        tab = await watched(shopper)
        asked: list[str] = []
        tab.on("request", lambda request: asked.append(urlsplit(request.url).path))
        await tab.goto(f"{live_app.url}/demo/storefront?as={ANN}")
        await wait_until_loaded(tab)
        # The share panel's script and its proxy call wait for the panel to open.
        assert not [path for path in asked if path.endswith(("/loyalty-referral.js", "/referral"))]
        dialog = await open_panel(tab)
        await wait_until_loaded(tab)
        assert len([path for path in asked if path.endswith("/referral")]) == 1
        share = dialog.locator("[data-lw-referral]")
        await expect(share).to_be_visible()
        link = f"https://{DEMO_SHOP}/apps/loyalty/r/{await ann_code(demo)}"
        await expect(share.get_by_label("Your referral link")).to_have_value(link)
        await expect(share).to_contain_text(
            "Give your friends $5.00 off on their first order. You get 500 points when they "
            "place it."
        )
        message = quote("Here is $5.00 off on your first order:", safe="")
        await expect(share.get_by_role("link", name="WhatsApp")).to_have_attribute(
            "href", f"https://wa.me/?text={message}%20{quote(link, safe='')}"
        )
        await expect(share.get_by_role("link", name="Facebook")).to_have_attribute(
            "href", f"https://www.facebook.com/sharer/sharer.php?u={quote(link, safe='')}"
        )
        await expect(share.get_by_role("link", name="Email")).to_have_attribute(
            "href",
            f"mailto:?subject={quote('A gift for you', safe='')}&body={message}%20"
            f"{quote(link, safe='')}",
        )

        await share.get_by_role("button", name="Copy link").click()
        await expect(share.get_by_role("status")).to_have_text("Link copied")
        assert await tab.evaluate("navigator.clipboard.readText()") == link

        # The same picture every run: the panel at its top, from its header to the end of the
        # share panel (the rewards list below redraws on its own schedule), no hover or focus.
        await expect(dialog.locator("[data-lw-reward]").first).to_be_visible()
        await dialog.evaluate("panel => { panel.scrollTop = 0; document.activeElement.blur(); }")
        await park_pointer(tab)
        top, bottom = await dialog.bounding_box(), await share.bounding_box()
        assert top and bottom
        height = bottom["y"] + bottom["height"] + 20 - top["y"]
        await tab.screenshot(
            path=screenshot_path("storefront-referral-panel"),
            animations="disabled",
            clip={"x": top["x"], "y": top["y"], "width": top["width"], "height": height},
        )


class TestAFriendArrivesThroughTheLink:
    @pytest.mark.screenshot
    async def test_the_friend_gives_an_email_and_gets_the_code(
        self, live_app: LiveApp, demo: DemoShop, shopper: BrowserContext
    ) -> None:
        code = await ann_code(demo)
        tab = await watched(shopper)
        # Ann's page offers to arrive as her friend: the shop's home with ?ref=CODE (her link
        # leads to the shop's own address, which the demo does not serve). The panel opens once
        # with the friend's offer.
        await tab.goto(f"{live_app.url}/demo/storefront?as={ANN}")
        await tab.get_by_role("link", name="Arrive as this customer's referred friend").click()
        await expect(tab).to_have_url(
            f"{live_app.url}/demo/storefront?shop={DEMO_SHOP}&ref={code}&as=visitor"
        )
        invite = panel(tab).locator("[data-lw-invite]")
        await expect(invite).to_be_visible()
        await expect(invite).to_contain_text("Get $5.00 off on your first order")
        await invite.get_by_role("link", name="Get my code").click()

        # The landing page, through the (local) app proxy at the link's own path.
        assert urlsplit(tab.url).path.endswith(f"/apps/loyalty/r/{code}")
        await expect(tab.get_by_role("heading", level=1)).to_have_text(
            "A friend sent you 5.00 USD off"
        )
        await tab.get_by_label("Your email").fill("new.friend@example.com")
        await tab.get_by_role("button", name="Get my code").click()
        await expect(tab.get_by_role("heading", level=1)).to_have_text("Your gift is ready")
        referral = await Referral.get(shop=demo.shop, friend_email="new.friend@example.com")
        assert referral.status == ReferralStatus.PENDING and referral.friend_code
        await expect(tab.locator("#code")).to_have_text(referral.friend_code)
        await tab.set_viewport_size({"width": 390, "height": 560})  # a phone: where links land
        await park_pointer(tab)
        await tab.screenshot(
            path=screenshot_path("storefront-referral-landing"), animations="disabled"
        )

        # Once the friend has their code, the shop no longer shows them the invitation.
        await tab.goto(f"{live_app.url}/demo/storefront?as=visitor")
        await wait_until_loaded(tab)
        await expect(panel(tab).locator("[data-lw-invite]")).to_be_hidden()

    async def test_the_friend_using_the_members_own_email_is_refused_kindly(
        self, live_app: LiveApp, demo: DemoShop, shopper: BrowserContext
    ) -> None:
        code = await ann_code(demo)
        tab = await watched(shopper)
        landing = f"/demo/storefront/{DEMO_SHOP}/visitor/apps/loyalty/r/{code}"
        await tab.goto(f"{live_app.url}{landing}")
        await tab.get_by_label("Your email").fill("Ann.Bronze@example.com")
        await tab.get_by_role("button", name="Get my code").click()
        await expect(tab.locator("[data-refusal]")).to_contain_text(
            "We can't give you a code through this link"
        )
        await expect(tab.locator("#code")).to_have_count(0)
        referral = await Referral.get(shop=demo.shop)
        assert referral.status == ReferralStatus.BLOCKED
