"""App-proxy authentication for `/proxy`, as ASGI middleware on that mount.

Shopify signs the query of every storefront request it forwards (`signature`, ±90 s
`timestamp`); `shopify_app.verify_app_proxy_req` checks it before anything else is read. The
customer is the signed `logged_in_customer_id` and nothing else: ids or emails in the query or
body are never consulted. A signed id that is not a Shopify id (ASCII digits within a bigint,
`loyalty.customers.identifiers`) is a 400: Shopify never sends one, and reading it leniently
could name another customer. https://shopify.dev/docs/apps/build/online-store/app-proxies/authenticate-app-proxies
"""

from __future__ import annotations

import asyncio
import logging
import time

from shopify_app.types import RequestInput
from starlette.types import ASGIApp, Receive, Scope, Send

from loyalty.customers.identifiers import ascii_number
from loyalty.models import Shop
from loyalty.shops.domains import shop_domain
from web.auth import throttle
from web.errors import error_response

log = logging.getLogger(__name__)


class ProxyShopCache:
    """Shops this process looked up by domain in the last `ttl` seconds, for GET requests only.

    The widget's GET runs on every storefront page view, and the shop lookup was one of its
    two round trips (bench/storefront-proxy). A GET only reads, so serving it from a shop
    row a second or two old changes nothing that matters: an uninstall (after which Shopify
    stops forwarding anyway) or a settings edit shows on the widget within `ttl`. Every other
    method looks the shop up afresh; signatures are verified on every request either way.

    The GETs that miss together share one lookup: when an entry expired under load, every
    request in flight missed at once and each looked the shop up (2% of the GET's CPU in
    bench/storefront-proxy). A shared lookup starts after the expiry, so the bound holds."""

    def __init__(self, *, ttl: float = 2.0, max_shops: int = 10_000) -> None:
        self._ttl = ttl
        self._max_shops = max_shops
        self._entries: dict[str, tuple[float, Shop | None]] = {}
        self._lookups: dict[str, asyncio.Task[Shop | None]] = {}

    async def get(self, domain: str) -> Shop | None:
        entry = self._entries.get(domain)
        if entry is not None and time.monotonic() - entry[0] <= self._ttl:
            return entry[1]
        lookup = self._lookups.get(domain)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(domain))
            self._lookups[domain] = lookup
            lookup.add_done_callback(lambda _: self._lookups.pop(domain, None))
        # Shielded: a request that goes away does not cancel the others' lookup.
        return await asyncio.shield(lookup)

    async def _look_up(self, domain: str) -> Shop | None:
        now = time.monotonic()
        shop = await Shop.get_or_none(domain=domain)
        if len(self._entries) >= self._max_shops:
            self._entries.clear()  # bounded; a miss only costs one lookup
        self._entries[domain] = (now, shop)
        return shop


class AppProxyAuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        shopify = state["services"].shopify
        if shopify is None:
            await error_response(
                503,
                "shopify_not_configured",
                "Service Unavailable",
                "The storefront API needs SHOPIFY_API_KEY and SHOPIFY_API_SECRET to be set",
            )(scope, receive, send)
            return
        refused = await throttle.refusal(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        # Shopify signs the query only: shopify_app reads nothing else (the headers and the
        # rest of the URL would only feed its redacted log record, which it rebuilds on every
        # call). So it gets the query alone; on the storefront's hot GET, that is a tenth of
        # the request's CPU not spent (bench/storefront-proxy).
        request_input: RequestInput = {
            "method": scope["method"],
            "headers": {},
            "url": "?" + scope["query_string"].decode("utf-8", "replace"),
            "body": "",  # the body is never trusted or read here
        }
        try:
            result = shopify.verify_app_proxy_req(request_input)
        except TypeError:
            # hmac.compare_digest refuses a str with non-ASCII characters: a `signature` that is
            # not hex is no signature of ours (shopify_app compares it as given).
            await throttle.failed(scope)
            await error_response(
                401, "invalid_signature", "Unauthorized", "The app proxy signature is invalid"
            )(scope, receive, send)
            return
        domain = shop_domain(result.shop) if result.ok and result.shop else None
        if not result.ok or domain is None:
            log.info("app proxy request refused: %s", result.log.code)
            if not result.ok:
                await throttle.failed(scope)
            status = result.response.status if not result.ok else 401
            await error_response(
                status if status >= 400 else 401,
                result.log.code if not result.ok else "invalid_shop",
                "Unauthorized",
                "The app proxy signature is missing, invalid or expired",
            )(scope, receive, send)
            return
        raw_customer_id = result.logged_in_customer_id or ""
        # Visitors get '' (shopify_app returns an empty string, not None): empty is anonymous.
        customer_id = ascii_number(raw_customer_id) if raw_customer_id else None
        if raw_customer_id and not customer_id:
            await error_response(
                400,
                "invalid_parameter",
                "Bad Request",
                "logged_in_customer_id is not a Shopify customer id",
                parameter="logged_in_customer_id",
            )(scope, receive, send)
            return
        if scope["method"] == "GET":
            shop = await state["services"].proxy_shops.get(domain)
        else:
            shop = await Shop.get_or_none(domain=domain)
        if shop is None or shop.uninstalled_at is not None:
            await error_response(
                404,
                "shop_not_found",
                "Not Found",
                "The loyalty programme is not set up for this shop",
            )(scope, receive, send)
            return
        state["shop"] = shop
        state["customer_shopify_id"] = customer_id
        await self.app(scope, receive, send)
