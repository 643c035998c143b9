"""The theme app extension in a storefront: its real blocks rendered by the Liquid stand-in, its
real script and stylesheet in Chromium, talking to the live app through the app proxy exactly as
Shopify forwards it (tests/browser/storefront.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from loyalty.ids import new_time_ordered_id
from loyalty.models import (
    Customer,
    EarningHistoryEntry,
    EarningRule,
    EarningStatus,
    RuleCategory,
    Shop,
    VipTier,
)
from tests.browser.conftest import LiveApp, new_context, park_pointer, screenshot_path
from tests.browser.storefront import (
    Storefront,
    launcher,
    offline_only,
    open_panel,
    panel,
    rule_item,
    serve_storefront,
    shopper_context,
    wait_until_loaded,
    watched_page,
)
from tests.factories import create_customer, create_rule, create_shop, create_tier
from web.proxy.widget import CUSTOMER_AWARD_LIMIT
from web.ratelimit import MemoryRateLimiter

CUSTOMER_ID = 555
INSTAGRAM = "https://instagram.example/demo-store"


@dataclass
class Programme:
    shop: Shop
    customer: Customer
    instagram: EarningRule  # social, 100 points, approved at once, opens INSTAGRAM
    review: EarningRule  # engagement, 50 points, pending for 14 days
    purchase: EarningRule  # 2 points per currency unit, not claimable


@pytest.fixture
async def programme(db: str) -> Programme:
    shop = await create_shop(domain="widget-shop.myshopify.com", name="Demo store")
    bronze = await create_tier(
        shop, name="Bronze", points_required=0, points_multiplier=Decimal("1.00")
    )
    await create_tier(shop, name="Silver", points_required=500, points_multiplier=Decimal("1.25"))
    customer = await create_customer(
        shop,
        shopify_customer_id=CUSTOMER_ID,
        vip_tier=bronze,
        points_balance=80,
        lifetime_points=100,
    )
    instagram = await create_rule(
        shop,
        name="Instagram follow",
        customer_facing_label="Follow us on Instagram",
        points=100,
        call_to_action_url=INSTAGRAM,
    )
    review = await create_rule(
        shop,
        name="Review",
        action="write_a_review",
        customer_facing_label="Write a review",
        category=RuleCategory.ENGAGEMENT,
        points=50,
        approval_time_days=14,
    )
    purchase = await create_rule(
        shop,
        name="Orders",
        action="place_order",
        customer_facing_label="Shop with us",
        category=RuleCategory.PURCHASE,
        points=2,
    )
    return Programme(shop, customer, instagram, review, purchase)


@pytest.fixture
async def front(programme: Programme, live_app: LiveApp) -> AsyncIterator[Storefront]:
    async with serve_storefront(programme.shop, live_app, customer_id=CUSTOMER_ID) as storefront:
        yield storefront


@pytest.fixture
async def shopper(browser: Browser) -> AsyncIterator[BrowserContext]:
    async with shopper_context(browser) as context:
        yield context


@pytest.fixture
async def tab(shopper: BrowserContext) -> AsyncIterator[Page]:
    async with watched_page(shopper) as page:
        yield page


class TestSignedIn:
    async def test_values_render_from_metafields_then_refresh_from_the_proxy(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """With the proxy held back the page already shows the metafields' values (here a
        stale 70), tier progress and rule points with the tier multiplier; claiming waits for
        the proxy; once it answers the app's own values replace them."""
        front.customer_overrides = {"points": 70}
        gate = front.hold_proxy()

        await tab.goto(f"{front.url}/account")

        block = tab.locator(".lw--section")
        await expect(block.locator("[data-lw-field=points_balance]")).to_have_text("70")
        await expect(block.locator("[data-lw-field=tier]")).to_have_text("Bronze")
        await expect(block.locator("[data-lw-field=next_tier]")).to_have_text(
            "400 points to reach Silver"
        )
        await expect(block.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "20")
        await expect(launcher(tab)).to_contain_text("70")
        dialog = await open_panel(tab)
        claim = rule_item(dialog, programme.instagram).get_by_role("button")
        await expect(claim).to_have_attribute("aria-disabled", "true")

        gate.set()

        await expect(block.locator("[data-lw-field=points_balance]")).to_have_text("80")
        await expect(launcher(tab)).to_contain_text("80")
        await expect(claim).to_have_attribute("aria-disabled", "false")
        await expect(block.locator("[data-lw-history]")).to_contain_text("No points yet")

    async def test_points_about_to_expire_are_announced_from_the_metafields(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """The next expiry (points_expiring and points_expiry_date metafields) is on the
        balance, its date written in the shopper's language."""
        expiry = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        expiry += timedelta(days=20)
        await EarningHistoryEntry.create(
            public_id=new_time_ordered_id("cer"),
            shop_id=programme.shop.id,
            customer_id=programme.customer.id,
            action="adjustment",
            base_points=80,
            points_multiplier=Decimal("1.00"),
            points=80,
            status=EarningStatus.APPROVED,
            points_given_at=datetime.now(UTC),
            points_expiry_at=expiry,
            points_remaining=30,
            dedupe_key="test:expiry",
        )

        await tab.goto(f"{front.url}/account")

        expiring = tab.locator(".lw--section .lw-balance__expiry")
        await expect(expiring).to_have_text(
            f"30 points expire on {expiry:%b} {expiry.day}, {expiry:%Y}"
        )
        await expect(expiring.locator("time")).to_have_attribute("datetime", f"{expiry:%Y-%m-%d}")

    async def test_a_tier_multiplier_shows_the_same_points_before_and_after_the_refresh(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """A Silver (×1.25) customer: the Liquid applies the multiplier from the programme
        metafield with the app's half-up rounding (50 × 1.25 = 63), so the proxy's answer
        changes nothing; claimable rules come first on both sides."""
        silver = await VipTier.get(shop_id=programme.shop.id, name="Silver")
        await Customer.filter(id=programme.customer.id).update(
            vip_tier_id=silver.id, lifetime_points=600
        )
        gate = front.hold_proxy()

        await tab.goto(f"{front.url}/pages/rewards")

        block = tab.locator(".lw--section")
        rules = block.locator("[data-lw-rules] > li")
        expected = ["Follow us on Instagram", "Write a review", "Shop with us"]
        await expect(rules.locator(".lw-rule__label")).to_have_text(expected)
        points = ["125 points", "63 points", "3 points per 1 USD spent"]
        await expect(rules.locator(".lw-rule__points")).to_have_text(points)
        gate.set()
        await wait_until_loaded(tab)
        await expect(rule_item(block, programme.instagram).get_by_role("button")).to_have_attribute(
            "aria-disabled", "false"
        )
        await expect(rules.locator(".lw-rule__label")).to_have_text(expected)
        await expect(rules.locator(".lw-rule__points")).to_have_text(points)

    async def test_claiming_a_social_rule_opens_it_and_grows_the_balance(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """Claim opens the call to action in a new tab, POSTs through the proxy, says what was
        awarded, disables the rule, and every block on the page shows the new balance."""
        await tab.goto(f"{front.url}/pages/rewards")
        await wait_until_loaded(tab)
        block = tab.locator(".lw--section")
        item = rule_item(block, programme.instagram)
        await expect(item).to_contain_text("Follow us on Instagram")
        await expect(item).to_contain_text("100 points")

        async with tab.expect_popup() as popup:
            await item.get_by_role("button", name="Claim Follow us on Instagram").click()
        assert (await popup.value).url == INSTAGRAM

        await expect(item.get_by_role("status")).to_have_text(
            "Done! 100 points added to your balance."
        )
        button = item.get_by_role("button")
        await expect(button).to_have_attribute("aria-disabled", "true")
        await expect(button).to_contain_text("Completed")
        await expect(launcher(tab)).to_contain_text("180")
        dialog = await open_panel(tab)
        await expect(dialog.locator("[data-lw-field=points_balance]")).to_have_text("180")
        await expect(dialog.locator("[data-lw-history]")).to_contain_text("Follow us on Instagram")
        await expect(dialog.locator("[data-lw-history]")).to_contain_text("+100")
        assert (await Customer.get(id=programme.customer.id)).points_balance == 180
        posts = [f for f in front.forwarded if f.method == "POST"]
        assert [(p.path, p.status) for p in posts] == [
            (f"earning-rules/{programme.instagram.public_id}/award", 201)
        ]

        await button.click(force=True)  # a completed rule does nothing
        assert len([f for f in front.forwarded if f.method == "POST"]) == 1

    async def test_claiming_again_says_already_claimed(
        self, front: Storefront, shopper: BrowserContext, programme: Programme
    ) -> None:
        """Claimed in one tab, claimed again from another opened before: the API's 409 is
        shown as "already claimed", the rule is disabled and the balance is unchanged."""
        first, second = await shopper.new_page(), await shopper.new_page()
        for page in (first, second):
            await page.goto(f"{front.url}/pages/rewards")
            await wait_until_loaded(page)
        await rule_item(first, programme.instagram).get_by_role("button").click()
        await expect(rule_item(first, programme.instagram).get_by_role("status")).to_contain_text(
            "Done!"
        )

        item = rule_item(second, programme.instagram)
        await item.get_by_role("button").click()

        await expect(item.get_by_role("status")).to_have_text("You have already claimed this.")
        await expect(item.get_by_role("button")).to_have_attribute("aria-disabled", "true")
        await expect(item.get_by_role("button")).to_contain_text("Completed")
        assert [f.status for f in front.forwarded if f.method == "POST"] == [201, 409]
        assert (await Customer.get(id=programme.customer.id)).points_balance == 180

    async def test_a_pending_rule_shows_its_due_date(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """An engagement rule with a 14-day approval: pending points and the date they land."""
        await tab.goto(f"{front.url}/account")
        await wait_until_loaded(tab)
        dialog = await open_panel(tab)
        item = rule_item(dialog, programme.review)

        await item.get_by_role("button", name="Claim Write a review").click()

        await expect(item.get_by_role("status")).to_contain_text("50 points pending until")
        entry = await EarningHistoryEntry.get(customer_id=programme.customer.id)
        assert entry.points_due_at is not None
        due = f"{entry.points_due_at:%b} {entry.points_due_at.day}, {entry.points_due_at:%Y}"
        await expect(item.get_by_role("status")).to_have_text(f"50 points pending until {due}.")
        await expect(dialog.locator("[data-lw-field=pending_points]")).to_have_text("50")
        await expect(dialog.locator("[data-lw-field=points_balance]")).to_have_text("80")
        await expect(dialog.locator("[data-lw-history]")).to_contain_text(f"Pending until {due}")
        balance_block = tab.locator(".lw--section")
        await expect(balance_block.locator("[data-lw-field=pending_points]")).to_have_text("50")

    async def test_an_excluded_customer_sees_why(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """The status metafield says excluded: the reason shows at once, with no claim buttons."""
        await Customer.filter(id=programme.customer.id).update(is_excluded=True)

        await tab.goto(f"{front.url}/pages/rewards")

        block = tab.locator(".lw--section")
        reason = block.locator("[data-lw-excluded]")
        await expect(reason).to_be_visible()
        await expect(reason).to_contain_text("not part of the rewards programme")
        await wait_until_loaded(tab)
        await expect(reason).to_be_visible()
        await expect(
            block.get_by_role("button", name="Claim Follow us on Instagram")
        ).to_have_count(0)

    async def test_a_customer_excluded_after_the_page_loaded_sees_why_on_claiming(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """Excluded after the page loaded: the API's 403 explains it, nothing is awarded."""
        await tab.goto(f"{front.url}/pages/rewards")
        await wait_until_loaded(tab)
        await Customer.filter(id=programme.customer.id).update(is_excluded=True)
        item = rule_item(tab.locator(".lw--section"), programme.review)

        await item.get_by_role("button").click()

        await expect(item.get_by_role("status")).to_have_text(
            "Your account is not part of the rewards programme, so it cannot earn points."
        )
        await expect(tab.locator(".lw--section [data-lw-excluded]")).to_be_visible()
        await expect(tab.locator(".lw--section [data-lw-claim]")).to_have_count(0)
        assert await EarningHistoryEntry.all().count() == 0

    async def test_a_rule_withdrawn_after_the_page_loaded_says_so(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """The merchant deactivated the rule meanwhile: the API's 404 is shown, the claim
        button goes, nothing is awarded."""
        await tab.goto(f"{front.url}/pages/rewards")
        await wait_until_loaded(tab)
        await EarningRule.filter(id=programme.instagram.id).update(is_active=False)
        item = rule_item(tab.locator(".lw--section"), programme.instagram)

        await item.get_by_role("button").click()

        await expect(item.get_by_role("status")).to_have_text(
            "This way to earn is no longer available."
        )
        await expect(item.get_by_role("button")).to_have_count(0)
        assert [f.status for f in front.forwarded if f.method == "POST"] == [404]
        assert await EarningHistoryEntry.all().count() == 0

    async def test_too_many_claims_say_when_to_try_again(
        self, front: Storefront, tab: Page, programme: Programme, live_app: LiveApp
    ) -> None:
        """The customer's award burst used up (through the same proxy): the real 429 and its
        Retry-After are shown, the rule stays claimable, nothing is awarded."""
        # The limiter's clock stands still, so no token refills however slow the machine is.
        live_app.app.state.services.limiter = MemoryRateLimiter(clock=lambda: 1_000.0)
        await tab.goto(f"{front.url}/pages/rewards")
        await wait_until_loaded(tab)
        async with httpx.AsyncClient(base_url=front.url) as client:
            answers = [
                (await client.post("/apps/loyalty/earning-rules/rule_unknown/award")).status_code
                for _ in range(CUSTOMER_AWARD_LIMIT.burst)
            ]
        assert set(answers) == {404}
        item = rule_item(tab.locator(".lw--section"), programme.review)

        await item.get_by_role("button").click()

        await expect(item.get_by_role("status")).to_have_text(
            re.compile(r"^Too many attempts\. Try again in \d+ seconds\.$")
        )
        await expect(item.get_by_role("button")).to_have_attribute("aria-disabled", "false")
        assert front.forwarded[-1].status == 429
        assert await EarningHistoryEntry.all().count() == 0


class TestVisitor:
    async def test_visitors_see_the_programme_and_sign_in_prompts(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """No customer: what the programme offers, the tiers, and sign-in / create-account
        links; ways to earn without claim buttons. Without the programme metafield the
        lists come from the proxy."""
        front.customer_id = None
        front.with_programme = False

        await tab.goto(f"{front.url}/pages/rewards")

        block = tab.locator(".lw--section")
        await expect(block.get_by_role("link", name="Sign in")).to_have_attribute(
            "href", "/account/login"
        )
        await expect(block.get_by_role("link", name="Create account")).to_have_attribute(
            "href", "/account/register"
        )
        await expect(rule_item(block, programme.instagram)).to_contain_text("100 points")
        await expect(rule_item(block, programme.purchase)).to_contain_text(
            "2 points per 1 USD spent"
        )
        await expect(block.get_by_role("button", name="Claim")).to_have_count(0)
        await wait_until_loaded(tab)
        # The closed panel's rewards wait for it to open.
        assert {f.path for f in front.forwarded} == {"customer", "earning-rules"}
        dialog = await open_panel(tab)
        await wait_until_loaded(tab)
        await expect(
            dialog.get_by_role("heading", name="Join our rewards programme")
        ).to_be_visible()
        await expect(dialog.get_by_role("link", name="Sign in")).to_be_visible()
        await expect(dialog.locator("[data-lw-tiers]")).to_contain_text("Bronze")
        await expect(dialog.locator("[data-lw-tiers]")).to_contain_text("Silver")
        await expect(dialog.locator("[data-lw-tiers]")).to_contain_text("From 500 points")
        # Only what a visitor may read (the panel's rewards list too; never "my rewards").
        assert {f.path for f in front.forwarded} == {"customer", "earning-rules", "rewards"}

    async def test_the_storefront_language_is_used(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """A French storefront: the blocks' strings and the script's come from fr.json."""
        front.locale = "fr"

        await tab.goto(f"{front.url}/pages/rewards")
        await wait_until_loaded(tab)

        await expect(launcher(tab)).to_contain_text("Récompenses")
        item = rule_item(tab.locator(".lw--section"), programme.instagram)
        await expect(item.get_by_role("button")).to_contain_text("Réclamer")
        await item.get_by_role("button").click()
        await expect(item.get_by_role("status")).to_have_text(
            "C’est fait ! 100 points ajoutés à votre solde."
        )


class TestFailures:
    async def test_a_proxy_failure_shows_a_retry_and_never_a_success(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """Shopify's error page instead of the app: the metafield values stay, a retry is
        offered, claiming is not possible until the app has answered; a claim whose request
        fails says so and offers a retry that does not reopen the call to action."""
        front.proxy_down = True
        await tab.goto(f"{front.url}/pages/rewards")
        block = tab.locator(".lw--section")
        alert = block.locator("[data-lw-alert]")

        await expect(alert).to_be_visible()
        await expect(alert.get_by_role("alert")).to_have_text(
            "We could not load your latest points."
        )
        item = rule_item(block, programme.instagram)
        await expect(item.get_by_role("button")).to_have_attribute("aria-disabled", "true")
        await expect(launcher(tab)).to_contain_text("80")

        front.proxy_down = False
        await alert.get_by_role("button", name="Try again").click()
        await expect(alert).to_be_hidden()
        await expect(item.get_by_role("button")).to_have_attribute("aria-disabled", "false")

        popups: list[Page] = []
        tab.on("popup", lambda popup: popups.append(popup))
        await tab.route("**/apps/loyalty/earning-rules/*/award", lambda route: route.abort())
        await item.get_by_role("button").click()

        status = item.get_by_role("status")
        await expect(status).to_have_text(
            "We could not confirm your claim. Check your connection and try again."
        )
        await expect(item.get_by_role("button")).to_contain_text("Try again")
        await expect(launcher(tab)).to_contain_text("80")
        assert await EarningHistoryEntry.all().count() == 0

        await tab.unroute("**/apps/loyalty/earning-rules/*/award")
        await item.get_by_role("button").click()

        await expect(status).to_have_text("Done! 100 points added to your balance.")
        await expect(launcher(tab)).to_contain_text("180")
        assert len(popups) == 1  # the call to action opened for the first attempt only

    async def test_an_error_page_answering_a_claim_is_not_a_success(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """The app proxy answers the claim with Shopify's HTML error page: a retry, no success."""
        await tab.goto(f"{front.url}/pages/rewards")
        await wait_until_loaded(tab)
        item = rule_item(tab.locator(".lw--section"), programme.review)
        front.proxy_down = True

        await item.get_by_role("button").click()

        await expect(item.get_by_role("status")).to_contain_text("could not confirm your claim")
        await expect(item.get_by_role("button")).to_have_attribute("aria-disabled", "false")
        await expect(tab.locator(".lw--section")).not_to_contain_text("pending until")


async def focus_in_panel(page: Page) -> bool:
    return await page.evaluate(  # type: ignore[no-any-return]
        "() => !!document.activeElement.closest('[data-lw-panel]')"
    )


async def focused_name(page: Page) -> str:
    return await page.evaluate(  # type: ignore[no-any-return]
        "() => (document.activeElement.getAttribute('aria-label')"
        " || document.activeElement.textContent).trim().replace(/\\s+/g, ' ')"
    )


class TestAccessibility:
    async def test_the_panel_works_from_the_keyboard_and_traps_focus(
        self, front: Storefront, tab: Page, programme: Programme
    ) -> None:
        """Enter opens the dialog and moves focus into it; Tab and Shift+Tab cycle inside it
        (the page behind is never reached); Enter claims; Escape closes and gives focus back
        to the launcher."""
        await tab.goto(f"{front.url}/")
        await wait_until_loaded(tab)
        button = launcher(tab)
        await expect(button).to_have_attribute("aria-haspopup", "dialog")
        await expect(button).to_have_accessible_name("Rewards 80 points")
        await button.focus()

        await tab.keyboard.press("Enter")

        dialog = panel(tab)
        await expect(dialog).to_be_visible()
        await expect(dialog).to_be_focused()
        await expect(button).to_have_attribute("aria-expanded", "true")
        await tab.keyboard.press("Tab")
        await expect(dialog.get_by_role("button", name="Close rewards")).to_be_focused()
        await tab.keyboard.press("Shift+Tab")
        assert await focus_in_panel(tab), "Shift+Tab from the first control left the dialog"
        last = await focused_name(tab)
        await tab.keyboard.press("Tab")
        await expect(dialog.get_by_role("button", name="Close rewards")).to_be_focused()
        visited = set()
        for _ in range(12):  # more than the dialog's controls: wraps at least once
            await tab.keyboard.press("Tab")
            assert await focus_in_panel(tab), "Tab left the open dialog"
            visited.add(await focused_name(tab))
        assert last in visited
        assert {"Close rewards", "Claim Follow us on Instagram", "Claim Write a review"} <= visited

        claim = rule_item(dialog, programme.instagram).get_by_role("button")
        await claim.focus()
        async with tab.expect_popup():
            await tab.keyboard.press("Enter")
        await expect(rule_item(dialog, programme.instagram).get_by_role("status")).to_have_text(
            "Done! 100 points added to your balance."
        )
        await tab.bring_to_front()

        await tab.keyboard.press("Escape")

        await expect(dialog).to_be_hidden()
        await expect(button).to_be_focused()
        await expect(button).to_have_attribute("aria-expanded", "false")
        await expect(button).to_have_accessible_name("Rewards 180 points")

    async def test_the_close_button_restores_focus_to_the_launcher(
        self, front: Storefront, tab: Page
    ) -> None:
        """Closing with the close button (Space on it) returns focus to the launcher."""
        await tab.goto(f"{front.url}/")
        await open_panel(tab)
        await panel(tab).get_by_role("button", name="Close rewards").focus()

        await tab.keyboard.press("Space")

        await expect(panel(tab)).to_be_hidden()
        await expect(launcher(tab)).to_be_focused()

    @pytest.mark.parametrize("motion", ["reduce", "no-preference"])
    async def test_the_panel_animates_only_without_reduced_motion(
        self, front: Storefront, browser: Browser, motion: str
    ) -> None:
        """prefers-reduced-motion: reduce turns the panel's slide-in and transitions off."""
        context = await new_context(browser, reduced_motion=motion)  # type: ignore[arg-type]
        try:
            await context.route("**/*", offline_only)
            page = await context.new_page()
            await page.goto(f"{front.url}/")
            await open_panel(page)
            animation = await panel(page).evaluate("el => getComputedStyle(el).animationName")
            transition = await page.locator(".lw-progress__fill").first.evaluate(
                "el => getComputedStyle(el).transitionDuration"
            )
        finally:
            await context.close()
        if motion == "reduce":
            assert (animation, transition) == ("none", "0s")
        else:
            assert (animation, transition) == ("lw-in", "0.4s")

    @pytest.mark.parametrize("signed_in", [True, False], ids=["customer", "visitor"])
    async def test_the_panel_is_readable_at_320_px(
        self, front: Storefront, browser: Browser, signed_in: bool
    ) -> None:
        """At 320 px the open panel fits the screen: nothing wider than it, every control
        inside it, no sideways scrolling."""
        front.customer_id = CUSTOMER_ID if signed_in else None
        context = await new_context(browser, viewport={"width": 320, "height": 640})
        try:
            await context.route("**/*", offline_only)
            page = await context.new_page()
            await page.goto(f"{front.url}/")
            await wait_until_loaded(page)
            dialog = await open_panel(page)
            await wait_until_loaded(page)  # its rewards, loaded as it first opened
            box = await dialog.bounding_box()
            assert box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= 320
            overflow = await dialog.evaluate("el => el.scrollWidth - el.clientWidth")
            page_overflow = await page.evaluate(
                "() => document.documentElement.scrollWidth - innerWidth"
            )
            assert (overflow, page_overflow) == (0, 0)
            for control in await dialog.locator("a[href], button").all():
                if not await control.is_visible():
                    continue
                rect = await control.bounding_box()
                assert rect is not None
                assert (
                    rect["x"] >= box["x"] and rect["x"] + rect["width"] <= box["x"] + box["width"]
                ), await control.inner_text()
            font = await dialog.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
            assert font >= 14
        finally:
            await context.close()


@pytest.mark.screenshot
class TestScreenshots:
    @pytest.mark.parametrize(
        ("name", "width", "height"),
        [("storefront-panel-desktop", 1280, 860), ("storefront-panel-375", 375, 740)],
    )
    async def test_the_panel_after_a_claim(
        self,
        front: Storefront,
        browser: Browser,
        programme: Programme,
        name: str,
        width: int,
        height: int,
    ) -> None:
        """The signed-in panel after claiming the review (pending) rule, for the README."""
        context = await new_context(
            browser, viewport={"width": width, "height": height}, locale="en-US", timezone_id="UTC"
        )
        try:
            await context.route("**/*", offline_only)
            page = await context.new_page()
            await page.goto(f"{front.url}/")
            await wait_until_loaded(page)
            dialog = await open_panel(page)
            item = rule_item(dialog, programme.review)
            await item.get_by_role("button").click()
            await expect(item.get_by_role("status")).to_contain_text("pending until")
            await expect(dialog.locator("[data-lw-history]")).to_contain_text("Write a review")
            await wait_until_loaded(page)  # the reload the claim set off, rewards included
            await dialog.evaluate("el => { el.scrollTop = 0; }")  # the claim scrolled it
            await park_pointer(page)
            await page.screenshot(path=screenshot_path(name), animations="disabled")
        finally:
            await context.close()

    async def test_the_visitor_panel_on_a_phone(
        self, front: Storefront, browser: Browser, programme: Programme
    ) -> None:
        """A visitor's panel at 375 px: the programme and the sign-in prompts, for the README."""
        front.customer_id = None
        context = await new_context(browser, viewport={"width": 375, "height": 740})
        try:
            await context.route("**/*", offline_only)
            page = await context.new_page()
            await page.goto(f"{front.url}/")
            await wait_until_loaded(page)
            dialog = await open_panel(page)
            await wait_until_loaded(page)  # its rewards, loaded as it first opened
            await expect(dialog.get_by_role("link", name="Create account")).to_be_visible()
            await park_pointer(page)
            await page.screenshot(
                path=screenshot_path("storefront-visitor-375"), animations="disabled"
            )
        finally:
            await context.close()

    @pytest.mark.parametrize(
        ("name", "path"),
        [("storefront-ways-to-earn", "/pages/rewards"), ("storefront-points-balance", "/account")],
    )
    async def test_the_app_blocks(
        self, front: Storefront, browser: Browser, programme: Programme, name: str, path: str
    ) -> None:
        """Each app block in a theme section, signed in, for the README."""
        context = await new_context(
            browser, viewport={"width": 1100, "height": 900}, locale="en-US", timezone_id="UTC"
        )
        try:
            await context.route("**/*", offline_only)
            page = await context.new_page()
            await page.goto(f"{front.url}{path}")
            await wait_until_loaded(page)
            await park_pointer(page)
            await page.locator(".lw--section").screenshot(
                path=screenshot_path(name), animations="disabled"
            )
        finally:
            await context.close()
