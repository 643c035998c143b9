"""The demo storefront (`/demo/storefront`): the theme app extension's real Liquid for a demo
shop's customer or a visitor, with the widget talking to the app through a local app proxy.

- `GET /demo/storefront?shop=<demo domain>&as=<customer's Shopify id | visitor>`: a storefront
  page with the extension's app blocks (points balance, rewards, ways to earn) and its app
  embed, rendered by web.demo.liquid with the metafields the local Shopify holds
  (web.demo.shopify: what the app's sync wrote there), and a chooser of the shop's customers;
  its demo bar links to the admin preview and the local Shopify page for the same shop, and,
  for a member while referrals are on, to this page as their friend arrives (`?ref=CODE`).
  `&page=product` is a product page (the app embed only: app blocks belong on a loyalty page or
  the account page); `&app=embed` leaves the app blocks out of the home page too, `&app=none`
  leaves out everything the extension adds (blocks, embed, its CSS and JS): the same page as
  before the merchant turned the app on, which bench/storefront compares with the others;
  `&bar=off` leaves out the demo bar (a shop's storefront has none). Nothing on these pages is
  fetched from another host.
- `/demo/storefront/assets/…`: the extension's assets, as Shopify's CDN serves them.
- `GET|POST /demo/storefront/<shop>/<customer id | visitor>/apps/loyalty/<tail>`: the local app
  proxy. The page points the blocks' `proxy_path` here, so each page speaks for the customer it
  was opened as (two tabs as two customers do not interfere, as a cookie would make them).

Guarantees, beyond web.demo.guard (demo on, loopback client and Host):
- only a demo shop (`demo_shop`) is shown or signed for; any other shop is a 404, the same
  whether it exists or not;
- only a customer of that shop is signed in: a Shopify id the shop has no customer with is a 404
  and nothing is forwarded (the app's proxy would enrol an unknown id);
- `logged_in_customer_id`, `shop` and the rest of Shopify's parameters are never taken from the
  browser's query (web.demo.app_proxy_signer drops them);
- the request reaches `/proxy/<tail>` only, through the app's own signature check.

The proxy calls the app in-process (its ASGI callable through httpx's ASGITransport), not over a
socket to itself: the process need not know the address it listens on (a `--host 0.0.0.0`, a
port chosen by uvicorn, a reverse proxy in front), no second connection per call is held open
while the first waits, and the forwarded request still runs the whole route table and the
app-proxy signature check, exactly as one from Shopify.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from markupsafe import Markup
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from loyalty.customers.identifiers import ascii_number
from loyalty.models import Customer, Shop
from loyalty.referrals.codes import code_for
from loyalty.referrals.programme import get_programme
from loyalty.shops.demo import DEMO_SHOP
from loyalty.shops.demo_mode import demo_shop
from web.admin.templating import render, static_url
from web.demo.app_proxy_signer import PROXY_PREFIX, forward
from web.demo.links import STOREFRONT, other_pages
from web.demo.liquid import ASSETS, LiquidStandIn, liquid_globals, render_theme
from web.errors import RequestError
from web.state import services

if TYPE_CHECKING:
    from standins.shopify_shop import ShopModel

# What "Shopify" holds for a shop: the local Shopify's model (web.demo.shopify.LocalShopify).
HeldBy = Callable[[Shop], Awaitable["ShopModel"]]

PATH = "/storefront"
VISITOR = "visitor"
# App blocks on the page (the embed is always there); it is no cart page, so a code has no
# "Apply to cart" link (the cart is Shopify's own, which the demo does not have).
BLOCKS = ["points-balance", "rewards", "ways-to-earn"]
PAGES = ("home", "product")  # `page`: the theme's templates the demo has
APP_PARTS = ("all", "embed", "none")  # `app`: what the extension adds to the page
BAR = ("on", "off")  # `bar`: the demo bar (which shop, signed in as whom)
CHOOSER_LIMIT = 200  # customers listed in the chooser (a seeded demo shop has a handful)


async def _shop(domain: str) -> Shop:
    shop = await demo_shop(domain) if len(domain) <= 255 else None
    if shop is None:
        raise RequestError(404, "shop_not_found", "Not Found", "No demo shop has this domain")
    return shop


async def _signed_in(shop: Shop, who: str, *, parameter: str) -> Customer | None:
    """The shop's customer `who` names (its Shopify id), or None for `visitor`."""
    if who == VISITOR:
        return None
    shopify_id = ascii_number(who)
    if not shopify_id:
        raise RequestError(
            400,
            "invalid_parameter",
            "Bad Request",
            f"{parameter} is a customer's Shopify id or {VISITOR!r}",
            parameter=parameter,
        )
    customer = await Customer.get_or_none(shop=shop, shopify_customer_id=shopify_id)
    if customer is None:
        raise RequestError(
            404, "customer_not_found", "Not Found", "The demo shop has no customer with this id"
        )
    return customer


def _base(request: Request) -> str:
    """`/demo/storefront`, wherever the demo is mounted."""
    return str(request.scope.get("root_path", "")) + PATH


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str:
    """The query parameter `name`, one of `allowed` (the first when absent)."""
    value = request.query_params.get(name, allowed[0])
    if value not in allowed:
        raise RequestError(
            400,
            "invalid_parameter",
            "Bad Request",
            f"{name} is one of {', '.join(allowed)}",
            parameter=name,
        )
    return value


async def storefront_page(request: Request, held_by: HeldBy | None = None) -> Response:
    shop = await _shop(request.query_params.get("shop", DEMO_SHOP))
    customer = await _signed_in(shop, request.query_params.get("as", VISITOR), parameter="as")
    page_name = _choice(request, "page", PAGES)
    app = _choice(request, "app", APP_PARTS)
    bar = _choice(request, "bar", BAR) == "on"
    who = str(customer.shopify_customer_id) if customer else VISITOR
    base = _base(request)
    here = f"{base}?{httpx.QueryParams(shop=shop.domain, **{'as': who})}"
    product = f"{here}&page=product"
    chooser = f"{base}?{httpx.QueryParams(shop=shop.domain)}#choose-customer"
    liquid = LiquidStandIn("en", assets_url=f"{base}/assets")
    context = await liquid_globals(
        shop=shop,
        customer_id=customer.shopify_customer_id if customer else None,
        # Signing in or creating an account is choosing a customer, here.
        routes={
            "root_url": here,
            "account_url": chooser,
            "account_login_url": chooser,
            "account_register_url": chooser,
            "cart_url": here,  # the demo has no cart; the blocks link to it only on a cart page
        },
        held=await held_by(shop) if held_by else None,
        page_type="index" if page_name == "home" else "product",
    )
    blocks = BLOCKS if page_name == "home" and app == "all" else []
    theme = render_theme(
        liquid, context, blocks, proxy_path=f"{base}/{quote(shop.domain)}/{who}{PROXY_PREFIX}"
    )
    page = render(
        "demo/storefront.html",
        locale="en",
        title=shop.name or shop.domain,
        assets_url=f"{base}/assets" if app != "none" else None,
        nav=[("Home", here), ("Wool scarf", product)],
        page=page_name,
        product_image=static_url("demo/scarf.svg"),
        main=Markup(theme.main),  # noqa: S704 - the extension's Liquid, which escapes its input
        embed=Markup(theme.embed if app != "none" else ""),  # noqa: S704 - likewise
        demo=await _demo_bar(shop, customer, base, who) if bar else None,
    )
    # Balances change with every claim: a page from the cache would show an old one.
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


async def _demo_bar(shop: Shop, customer: Customer | None, base: str, who: str) -> dict[str, Any]:
    """The demo bar: which shop, signed in as whom (a chooser), links to the demo's other pages
    and, for a member while referrals are on, to this page as their friend arrives."""
    customers = await Customer.filter(shop=shop).order_by("id").limit(CHOOSER_LIMIT)
    return {
        "shop": shop.domain,
        "action": base,
        "chosen": who,
        "links": other_pages(STOREFRONT, shop.domain),
        "invite": await _invite(shop, customer, base),
        "choices": [(VISITOR, "A visitor (not signed in)")]
        + [(str(c.shopify_customer_id), _label(c)) for c in customers],
    }


async def _invite(shop: Shop, customer: Customer | None, base: str) -> str | None:
    """This page as the customer's friend arrives on it (a visitor, `?ref=` their code): their
    shared link leads to the shop's own address, which the demo does not serve."""
    if customer is None or customer.is_excluded:
        return None
    if not (await get_programme(shop_id=shop.id)).enabled:
        return None
    code = await code_for(shop_id=shop.id, customer_id=customer.id)
    return f"{base}?{httpx.QueryParams(shop=shop.domain, ref=code, **{'as': VISITOR})}"


def _label(customer: Customer) -> str:
    name = f"{customer.first_name} {customer.last_name}".strip() or "Customer"
    return f"{name} · {customer.email}" if customer.email else name


async def app_proxy(request: Request) -> Response:
    shop = await _shop(request.path_params["shop"])
    customer = await _signed_in(shop, request.path_params["who"], parameter="customer")
    tail = request.path_params["tail"]
    if any(part in {".", ".."} for part in tail.split("/")):
        # Only /proxy/… is ever reached: a dot segment could climb out of it.
        raise RequestError(404, "not_found", "Not Found", "No such app proxy path")
    state = dict(request.scope.get("state", {}))
    transport = httpx.ASGITransport(
        app=_with_state(request.scope["app"], state), raise_app_exceptions=False
    )
    async with transport:
        return await forward(
            transport,
            request,
            url=f"http://127.0.0.1/proxy/{quote(tail)}",
            shop=shop.domain,
            customer_id=customer.shopify_customer_id if customer else None,
            secret=services(request).settings.shopify_api_secret,
        )


def _with_state(app: ASGIApp, state: dict[str, Any]) -> ASGIApp:
    """The app as the server runs it: each request sees (a copy of) the lifespan's state."""

    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "state": dict(state)}, receive, send)

    return call


def routes(held_by: HeldBy | None) -> list[BaseRoute]:
    """The storefront's routes; its Liquid reads the metafields `held_by` holds (if given)."""

    async def page(request: Request) -> Response:
        return await storefront_page(request, held_by)

    # Compressed, as Shopify serves a storefront and its CDN the extension's assets: what
    # Lighthouse (bench/storefront) counts is then what a shopper's browser would download.
    return [
        Route(PATH, GZipMiddleware(request_response(page)), methods=["GET"], name="storefront"),
        Mount(
            f"{PATH}/assets",
            app=GZipMiddleware(StaticFiles(directory=ASSETS)),
            name="storefront_assets",
        ),
        Route(
            f"{PATH}/{{shop}}/{{who}}{PROXY_PREFIX}/{{tail:path}}",
            app_proxy,
            methods=["GET", "POST"],
            name="storefront_proxy",
        ),
    ]
