"""A storefront for the theme app extension's browser tests: the runtime's Liquid rendering
(web.demo.liquid) and app proxy (web.demo.app_proxy_signer), served on a real port for Chromium
with what a test needs to control and observe.

Shopify itself cannot run here; those two modules stand in for the two things it does for the
extension (rendering its Liquid with the app-owned metafields the app's own writers build, and
forwarding `/apps/loyalty/*` to the app's `/proxy/*` signed as Shopify signs it). The demo
storefront (web.demo.storefront) uses the same two. On top of them `Storefront` lets a test pick
who is signed in and the language, drop the programme metafield or override customer metafields,
hold or break the proxy, and see what was forwarded. Its pages place the rendered blocks where a
theme would (templates/demo/storefront.html, without the demo bar).

The cart is the test's own: `/cart` shows the Rewards block under a cart summary, and
`/discount/CODE?redirect=/cart` applies a code to the shopper's cart (a cookie, as Shopify's
session does); the cart shows it applied only when the Admin API stand-in (`Storefront.shopify`)
holds that code, active: what checkout would accept.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from markupsafe import Markup
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from playwright.async_api import Route as BrowserRoute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from loyalty.models import EarningRule, Shop
from standins.shopify_admin import ShopifyAdmin
from tests.browser.conftest import LiveApp, new_context
from web.admin.templating import render
from web.demo.app_proxy_signer import PROXY_PREFIX, forward
from web.demo.liquid import ASSETS, LiquidStandIn, liquid_globals, render_theme

ASSETS_URL = "/extensions/loyalty-widget/assets"
TITLE = "Demo store"
# No "Cart" link: four links overflow a 320 px screen; the tests open /cart directly.
NAV = [("Home", "/"), ("Rewards", "/pages/rewards"), ("Account", "/account")]


@dataclass
class Forwarded:
    method: str
    path: str
    status: int


@dataclass
class Storefront:
    """What the test controls: who is signed in, the language, the metafields, the proxy."""

    shop: Shop
    app_url: str
    secret: str
    url: str = ""
    customer_id: int | None = None
    locale: str = "en"
    with_programme: bool = True
    customer_overrides: dict[str, Any] = field(default_factory=dict)
    proxy_down: bool = False  # Shopify's own error page instead of the app's answer
    proxy_gate: asyncio.Event | None = None  # while set and not released, proxy requests wait
    forwarded: list[Forwarded] = field(default_factory=list)
    shopify: ShopifyAdmin | None = None  # where the cart looks a discount code up

    def hold_proxy(self) -> asyncio.Event:
        self.proxy_gate = asyncio.Event()
        return self.proxy_gate

    async def page(self, request: Request) -> Response:
        blocks = PAGES.get(request.url.path)
        if blocks is None:
            return HTMLResponse("<h1>Not found</h1>", status_code=404)
        context = await liquid_globals(
            shop=self.shop,
            customer_id=self.customer_id,
            locale=self.locale,
            with_programme=self.with_programme,
            customer_overrides=self.customer_overrides,
            page_type=PAGE_TYPES.get(request.url.path, "page"),
        )
        theme = render_theme(LiquidStandIn(self.locale, assets_url=ASSETS_URL), context, blocks)
        main = theme.main
        if request.url.path == "/cart":
            main = self.cart(request.cookies.get("discount_code")) + main
        page = render(
            "demo/storefront.html",
            locale=self.locale,
            title=TITLE,
            assets_url=ASSETS_URL,
            nav=NAV,
            main=Markup(main),  # noqa: S704 - the extension's Liquid escapes its input
            embed=Markup(theme.embed),  # noqa: S704
            demo=None,
        )
        return HTMLResponse(page)

    def cart(self, code: str | None) -> str:
        """The cart's summary: the discount code applied, if Shopify would accept it."""
        found = self.shopify.discount_codes.get(code) if self.shopify and code else None
        if code is None:
            line = "No discount applied"
        elif found is not None and found.status == "ACTIVE":
            line = f"Discount {html.escape(code)} applied"
        else:
            line = f"Discount code {html.escape(code)} is not valid"
        return CART.format(line=line)

    async def apply_discount(self, request: Request) -> Response:
        """Shopify's `/discount/CODE?redirect=PATH`: the code goes on the cart, then PATH."""
        target = request.query_params.get("redirect", "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        response = RedirectResponse(target, status_code=302)
        response.set_cookie("discount_code", request.path_params["code"], samesite="lax")
        return response

    async def proxy(self, request: Request) -> Response:
        if self.proxy_gate is not None:
            await self.proxy_gate.wait()
        tail = request.path_params["tail"]
        if self.proxy_down:
            self.forwarded.append(Forwarded(request.method, tail, 502))
            return HTMLResponse(SHOPIFY_PROXY_ERROR, status_code=502)
        async with httpx.AsyncHTTPTransport() as transport:
            answer = await forward(
                transport,
                request,
                url=f"{self.app_url}/proxy/{tail}",
                shop=self.shop.domain,
                customer_id=self.customer_id,
                secret=self.secret,
            )
        self.forwarded.append(Forwarded(request.method, tail, answer.status_code))
        return answer

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route(f"{PROXY_PREFIX}/{{tail:path}}", self.proxy, methods=["GET", "POST"]),
                Mount(ASSETS_URL, app=StaticFiles(directory=ASSETS)),
                Route("/discount/{code}", self.apply_discount),
                *(Route(path, self.page) for path in PAGES),
            ]
        )


# Which app blocks each page has in its main section (the app embed is on every page).
PAGES = {
    "/": [],
    "/pages/rewards": ["ways-to-earn"],
    "/account": ["points-balance"],
    "/cart": ["rewards"],
}
PAGE_TYPES = {"/": "index", "/account": "customers/account", "/cart": "cart"}

CART = """<section class="hero cart"><h1>Your cart</h1>
<p>Wool scarf × 1 — $40.00</p><p data-cart-discount>{line}</p></section>"""

SHOPIFY_PROXY_ERROR = """<!doctype html><html><body><h1>There was an error in the third-party
application.</h1></body></html>"""


@asynccontextmanager
async def serve_storefront(
    shop: Shop, live_app: LiveApp, **controls: Any
) -> AsyncIterator[Storefront]:
    """The storefront of `shop` in front of `live_app`, on a real port of 127.0.0.1 in this
    event loop; `controls` set the `Storefront`'s fields (who is signed in, …) from the start."""
    front = Storefront(
        shop=shop, app_url=live_app.url, secret=live_app.settings.shopify_api_secret, **controls
    )
    config = uvicorn.Config(front.asgi(), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    front.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield front
    finally:
        if front.proxy_gate is not None:
            front.proxy_gate.set()
        server.should_exit = True
        await task


# ---------------------------------------------------------------------------------------------
# The shopper's side: a browser that never leaves the machine, and the widget as a shopper sees
# it (shared by the widget's tests and the demo storefront's).


async def offline_only(route: BrowserRoute) -> None:
    """Nothing leaves the machine: a call-to-action page is answered by a stand-in."""
    if route.request.url.startswith("http://127.0.0.1"):
        await route.continue_()
    else:
        await route.fulfill(status=200, content_type="text/html", body="<h1>Social page</h1>")


@asynccontextmanager
async def shopper_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A shopper's browser: US English, UTC, desktop width, offline."""
    context = await new_context(browser, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    await context.route("**/*", offline_only)
    try:
        yield context
    finally:
        await context.close()


@asynccontextmanager
async def watched_page(context: BrowserContext) -> AsyncIterator[Page]:
    """A page of the shopper's browser; a script error on it fails the test."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == []


def launcher(page: Page) -> Locator:
    return page.locator("[data-lw-launcher]")


def panel(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Rewards")


def rule_item(scope: Page | Locator, rule: EarningRule) -> Locator:
    return scope.locator(f'[data-lw-rule="{rule.public_id}"]')


async def open_panel(page: Page) -> Locator:
    await launcher(page).click()
    dialog = panel(page)
    await expect(dialog).to_be_visible()
    return dialog


async def wait_until_loaded(page: Page) -> None:
    """The scripts have drawn the proxy's latest answers, the widget's and the rewards lists'
    (claim buttons are enabled only then): the blocks and the rewards lists carry
    data-lw-loading from the Liquid until then, and again while an `lw:points` reload (after a
    claim or a redemption) is on its way, so this also waits for a reload to be drawn. The
    launcher's panel loads its rewards and referrals when it first opens: it carries the mark
    from that click until the scripts have marked what they load, so after `open_panel` this
    waits for those to be drawn too."""
    await expect(page.locator("[data-lw-loading]")).to_have_count(0)
