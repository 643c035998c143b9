"""Helpers for the embedded admin's browser tests: an installed shop, Shopify's two CDN scripts
served from the local stand-ins the demo uses too (static/demo/), and pages opened as Shopify
opens them (`/app/…?shop=…&host=…&id_token=…`), so the real document verification runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, Route

from loyalty.clock import utcnow
from loyalty.crypto import SecretBox
from loyalty.models import Shop
from tests.browser.conftest import LiveApp, park_pointer, screenshot_path
from tests.factories import create_shop
from tests.tokens import id_token
from web.admin.shopify_scripts import APP_BRIDGE, POLARIS
from web.admin.templating import STATIC_DIR

STAND_INS = {
    APP_BRIDGE: STATIC_DIR / "demo" / "app-bridge.js",
    POLARIS: STATIC_DIR / "demo" / "polaris.js",
}
SHOP = "admin-shop"
DOMAIN = f"{SHOP}.myshopify.com"
HOST = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWRtaW4tc2hvcA"  # base64 of admin.shopify.com/store/…
BOX = SecretBox("test-secret-key-0123456789abcdef")  # tests/conftest.py settings.secret_key


async def installed_shop(**fields: Any) -> Shop:
    """The shop with a usable offline token, so opening the app runs no token exchange."""
    now = utcnow()
    defaults: dict[str, Any] = {
        "domain": DOMAIN,
        "name": "Admin Shop",
        "installed_at": now,
        "access_token_enc": BOX.encrypt("shpat_admin"),
        "access_token_expires_at": now + timedelta(hours=1),
        "refresh_token_enc": BOX.encrypt("shprt_admin"),
        "refresh_token_expires_at": now + timedelta(days=90),
    }
    return await create_shop(**{**defaults, **fields})


async def serve_shopify_cdn(page: Page, *, shop: str = SHOP) -> None:
    """App Bridge and Polaris from static/demo/; the App Bridge stand-in's ID tokens (it asks
    the local demo's endpoint, absent here) are answered with valid ones for `shop`, so it adds
    one to every fetch to our origin, as the real one does."""

    async def cdn(route: Route) -> None:
        stand_in = STAND_INS.get(route.request.url)
        if stand_in is None:
            await route.fulfill(status=404, body="")
        else:
            await route.fulfill(body=stand_in.read_text(), content_type="application/javascript")

    async def tokens(route: Route) -> None:
        await route.fulfill(json={"id_token": id_token(shop, lifetime=3600)})

    await page.route("https://cdn.shopify.com/**", cdn)
    await page.route(lambda url: urlsplit(url).path == "/demo/admin/id-token", tokens)


def admin_url(live_app: LiveApp, path: str, *, shop: str = SHOP, token: bool = True) -> str:
    query = f"shop={shop}.myshopify.com&host={HOST}&embedded=1"
    if token:
        query += f"&id_token={id_token(shop, lifetime=3600)}"
    return f"{live_app.url}{path}?{query}"


class AdminPage:
    """A page of the embedded admin, opened in Chromium, with what it reported."""

    def __init__(self, page: Page, live_app: LiveApp) -> None:
        self.page = page
        self.live_app = live_app
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # Jobs the pages' actions owe are recorded, not run: run in-process they would call
        # Shopify and the marketing platforms for real (their own tests cover them, mocked).
        self.jobs: list[tuple[int, list[str]]] = []
        live_app.app.state.services.dispatcher.notify = lambda shop_id, jobs: self.jobs.append(
            (shop_id, list(jobs))
        )

    async def open(self, path: str) -> Page:
        await serve_shopify_cdn(self.page)
        await self.page.goto(admin_url(self.live_app, path))
        await self.ready()
        return self.page

    async def ready(self) -> None:
        """The page's script and the Polaris stand-in have both run."""
        await self.page.wait_for_function(
            "window.LoyaltyAdmin !== undefined && document.querySelector('.sp-header') !== null"
        )

    async def toasts(self) -> list[str]:
        return await self.page.evaluate(  # type: ignore[no-any-return]
            "window.__appBridge.toasts.map(t => (t.isError ? 'error: ' : '') + t.message)"
        )

    async def screenshot(self, name: str) -> None:
        """The whole page at 1280 px. Toasts are hidden: Shopify shows them for a few seconds
        at the foot of the window, while a full-page shot would pin them over the content."""
        await park_pointer(self.page)
        await self.page.screenshot(
            path=screenshot_path(name),
            full_page=True,
            animations="disabled",
            style="#ab-toasts { visibility: hidden !important; }",
        )
