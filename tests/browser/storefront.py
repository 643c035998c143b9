"""A storefront stand-in for the theme app extension's browser tests.

Shopify itself cannot run here, so this module stands in for the two things it does for the
extension, and nothing else:

- **Liquid**: `LiquidStandIn` renders the real files in extensions/loyalty-widget/ (blocks,
  snippets, locales) with python-liquid, plus the few Shopify additions they use: the `t` filter
  (locale lookup, `count` plurals, `{{ var }}` interpolation, `_html` keys unescaped),
  `asset_url`, `json`, Ruby's half-away-from-zero `round`, and the `{% schema %}` tag (parsed
  separately, as Shopify does, for the settings' defaults). The Liquid globals are the objects
  Shopify provides (`customer`, `shop`, `routes`, `request`, `block`) with the app-owned
  metafields built from the database by the app's own metafield writers (loyalty/sync), so the
  blocks are tested against the documents Shopify really receives.
- **The cart's discount link**: `/discount/CODE?redirect=/cart` applies a code to the shopper's
  cart (a cookie, as Shopify's session does) and the cart page shows it applied only when the
  Admin API stand-in (`Storefront.shopify`) holds that code, active: what checkout would accept.
- **The app proxy**: `/apps/loyalty/*` is forwarded to the live app's `/proxy/*` exactly as
  Shopify forwards it: the path tail and query kept, `shop`, `logged_in_customer_id` (blank for a
  visitor), `path_prefix` and `timestamp` added, the query signed with the app's secret
  (shared/reference/shopify-platform.md section 3), the POST body passed along, and the answer
  returned as it came.

`Storefront` serves pages that place the rendered blocks where a theme would (app blocks in the
main section, the app embed before `</body>`, the blocks' schema assets linked once in the
head), on a real port for Chromium.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from liquid import Environment, FileSystemLoader
from liquid.builtin.tags.comment_tag import CommentNode, CommentTag
from liquid.exceptions import LiquidSyntaxError
from liquid.token import TOKEN_EOF, TOKEN_TAG
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from loyalty.clock import utcnow
from loyalty.models import Customer, Shop
from loyalty.sync import metafields, shop_metafields
from loyalty.sync.state import load_states
from standins.shopify_admin import ShopifyAdmin

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "extensions" / "loyalty-widget"
ASSETS_URL = "/extensions/loyalty-widget/assets"
PROXY_PREFIX = "/apps/loyalty"
PLURAL = {  # CLDR cardinal rules for the extension's languages
    "en": lambda n: "one" if n == 1 else "other",
    "fr": lambda n: "one" if n in (0, 1) else "other",
}
SCHEMA = re.compile(r"{%-?\s*schema\s*-?%}(?P<json>.*?){%-?\s*endschema\s*-?%}", re.DOTALL)
INTERPOLATION = re.compile(r"{{\s*(\w+)\s*}}")
SHOPIFY_PARAMS = {"shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"}


class SchemaTag(CommentTag):
    """`{% schema %}…{% endschema %}`: Shopify reads it as JSON and renders nothing."""

    name = "schema"
    end = "endschema"
    node_class = CommentNode

    def parse(self, stream: Any) -> CommentNode:
        token = stream.eat(TOKEN_TAG)
        text: list[str] = []
        while not (stream.current.kind == TOKEN_TAG and stream.current.value == self.end):
            if stream.current.kind == TOKEN_EOF:
                raise LiquidSyntaxError("schema tag was never closed", token=token)
            text.append(stream.current.value)
            next(stream)
        return self.node_class(token, text="".join(text))


def block_schema(name: str) -> dict[str, Any]:
    """The JSON `{% schema %}` of blocks/<name>.liquid."""
    match = SCHEMA.search((EXTENSION / "blocks" / f"{name}.liquid").read_text())
    assert match, f"blocks/{name}.liquid has no schema"
    return json.loads(match["json"])  # type: ignore[no-any-return]


def setting_defaults(name: str) -> dict[str, Any]:
    return {
        s["id"]: s.get("default")
        for s in block_schema(name)["settings"]
        if "id" in s  # headers have no id
    }


def load_locale(locale: str) -> dict[str, Any]:
    path = EXTENSION / "locales" / ("en.default.json" if locale == "en" else f"{locale}.json")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


class LiquidStandIn:
    """Renders the extension's blocks as Shopify would, for one storefront language."""

    def __init__(self, locale: str = "en") -> None:
        self.locale = locale
        self.strings = load_locale(locale)
        self.default_strings = load_locale("en")
        self.env = Environment(loader=FileSystemLoader(EXTENSION / "snippets", ext=".liquid"))
        self.env.add_tag(SchemaTag)
        self.env.add_filter("t", self.translate)
        self.env.add_filter("asset_url", lambda name: f"{ASSETS_URL}/{name}")
        self.env.add_filter("json", to_json)
        self.env.add_filter("round", ruby_round)

    def render_block(self, name: str, liquid_globals: dict[str, Any], **settings: Any) -> str:
        block = {
            "id": f"{name}-1",
            "settings": {**setting_defaults(name), **settings},
            "shopify_attributes": "",
        }
        source = (EXTENSION / "blocks" / f"{name}.liquid").read_text()
        return self.env.from_string(source).render(**liquid_globals, block=block)

    def translate(self, key: str, count: Any = None, **variables: Any) -> str:
        value = lookup(self.strings, key)
        if value is None:
            value = lookup(self.default_strings, key)
        if isinstance(value, dict) and count is not None:
            value = value.get(PLURAL[self.locale](count)) or value.get("other")
        if not isinstance(value, str):
            raise KeyError(f"translation missing: {self.locale}.{key}")
        if count is not None:
            variables["count"] = count
        raw = key.endswith("_html")
        return INTERPOLATION.sub(
            lambda m: (
                str(variables.get(m[1], ""))
                if raw
                else html.escape(str(variables.get(m[1], "")), quote=True)
            ),
            value,
        )


def lookup(strings: dict[str, Any], key: str) -> Any:
    value: Any = strings
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def to_json(value: Any) -> str:
    """Shopify's `json`: safe inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def ruby_round(value: Any, digits: Any = None) -> Any:
    """Liquid's `round` is Ruby's: halves round away from zero (12.5 → 13)."""
    places = Decimal(1).scaleb(-int(digits or 0))
    rounded = Decimal(str(value)).quantize(places, rounding=ROUND_HALF_UP)
    return int(rounded) if not digits else float(rounded)


# ---------------------------------------------------------------------------------------------
# The Liquid objects Shopify would provide, with the metafields exactly as the app writes them
# (loyalty/sync: the same functions build the documents sent to Shopify's metafieldsSet).


def metafield_value(type_: str, value: str) -> Any:
    """A metafield's `.value` in Liquid, from the string metafieldsSet stores."""
    if type_ == "number_integer":
        return int(value)
    if type_ == "json":
        return json.loads(value)
    return value  # single_line_text_field; `date` stays ISO, which Liquid's `date` filter reads


async def programme_metafield(shop: Shop) -> dict[str, Any]:
    """`shop.metafields['$app'].programme.value`: the app's programme document, round-tripped
    through JSON as Shopify stores it."""
    document = await shop_metafields.programme_document(shop)
    return metafield_value("json", json.dumps(document))  # type: ignore[no-any-return]


async def customer_metafields(shop: Shop, customer: Customer) -> dict[str, Any]:
    """`customer.metafields['$app']`: what the customer metafield sync sets (a deleted key is
    absent, as in Shopify)."""
    states = await load_states(shop=shop, customer_ids=[customer.id], now=utcnow())
    sets, _deleted = metafields.customer_metafields(states[customer.id])
    return {m["key"]: {"value": metafield_value(m["type"], m["value"])} for m in sets}


async def liquid_globals(
    *,
    shop: Shop,
    customer_id: int | None,
    locale: str,
    with_programme: bool,
    customer_overrides: dict[str, Any] | None = None,
    page_type: str = "index",
) -> dict[str, Any]:
    shop_metafields: dict[str, Any] = {}
    if with_programme:
        shop_metafields["programme"] = {"value": await programme_metafield(shop)}
    customer_obj = None
    if customer_id is not None:
        customer = await Customer.get_or_none(shop=shop, shopify_customer_id=customer_id)
        metafields = await customer_metafields(shop, customer) if customer else {}
        for key, value in (customer_overrides or {}).items():
            if value is None:
                metafields.pop(key, None)
            else:
                metafields[key] = {"value": value}
        customer_obj = {
            "id": customer_id,
            "first_name": customer.first_name if customer else "",
            "metafields": {"$app": metafields},
        }
    return {
        "shop": {"name": shop.name, "currency": "USD", "metafields": {"$app": shop_metafields}},
        "customer": customer_obj,
        "routes": {
            "root_url": "/",
            "account_url": "/account",
            "account_login_url": "/account/login",
            "account_register_url": "/account/register",
            "cart_url": "/cart",
        },
        "request": {"locale": {"iso_code": locale}, "page_type": page_type},
    }


# ---------------------------------------------------------------------------------------------
# The app proxy, as Shopify runs it.


def proxy_signature(params: list[tuple[str, str]], secret: str) -> str:
    """Shopify's app proxy signature: repeated keys joined with ',', pairs sorted by key and
    written `key=value` with no separator, HMAC-SHA256 with the app's secret, hex."""
    joined: dict[str, list[str]] = {}
    for key, value in params:
        joined.setdefault(key, []).append(value)
    message = "".join(f"{key}={','.join(values)}" for key, values in sorted(joined.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


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
        liquid = LiquidStandIn(self.locale)
        context = await liquid_globals(
            shop=self.shop,
            customer_id=self.customer_id,
            locale=self.locale,
            with_programme=self.with_programme,
            customer_overrides=self.customer_overrides,
            page_type=PAGE_TYPES.get(request.url.path, "page"),
        )
        sections = "".join(liquid.render_block(name, context) for name in blocks)
        if request.url.path == "/cart":
            sections = self.cart(request.cookies.get("discount_code")) + sections
        embed = liquid.render_block("loyalty-launcher", context)
        return HTMLResponse(PAGE.format(locale=self.locale, main=sections, embed=embed))

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
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in SHOPIFY_PARAMS]
        params += [
            ("shop", self.shop.domain),
            ("logged_in_customer_id", "" if self.customer_id is None else str(self.customer_id)),
            ("path_prefix", PROXY_PREFIX),
            ("timestamp", str(int(time.time()))),
        ]
        params.append(("signature", proxy_signature(params, self.secret)))
        async with httpx.AsyncClient() as client:
            answer = await client.request(
                request.method,
                f"{self.app_url}/proxy/{tail}",
                params=tuple(params),  # repeated keys kept, in order
                content=await request.body(),
                headers={
                    k: v
                    for k, v in request.headers.items()
                    if k in {"accept", "content-type", "user-agent"}
                },
            )
        self.forwarded.append(Forwarded(request.method, tail, answer.status_code))
        headers = {k: v for k, v in answer.headers.items() if k in {"content-type", "retry-after"}}
        return Response(answer.content, status_code=answer.status_code, headers=headers)

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route(f"{PROXY_PREFIX}/{{tail:path}}", self.proxy, methods=["GET", "POST"]),
                Mount(ASSETS_URL, app=StaticFiles(directory=EXTENSION / "assets")),
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

PAGE = """<!doctype html>
<html lang="{locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo store</title>
<link rel="stylesheet" href="/extensions/loyalty-widget/assets/loyalty-widget.css">
<script src="/extensions/loyalty-widget/assets/loyalty-widget.js" defer></script>
<style>
  body {{ margin: 0; font-family: "DejaVu Sans", Arial, sans-serif; color: #222;
         background: #faf8f5; }}
  .header {{ display: flex; justify-content: space-between; align-items: center;
             padding: 18px 24px; background: #fff; border-bottom: 1px solid #e6e1da; }}
  .header a {{ color: inherit; margin-left: 16px; }}
  .hero {{ max-width: 1120px; margin: 0 auto; padding: 48px 16px 8px; }}
  .hero h1 {{ font-size: 2.2em; margin: 0 0 8px; }}
  .products {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr));
               gap: 16px; max-width: 1120px; margin: 0 auto; padding: 16px; }}
  .product {{ background: #fff; border: 1px solid #e6e1da; border-radius: 8px; padding: 12px; }}
  .product div {{ height: 120px; border-radius: 6px; background: #e9e3da; margin-bottom: 10px; }}
</style>
</head>
<body>
<header class="header"><strong>Demo store</strong>
  <nav><a href="/">Home</a><a href="/pages/rewards">Rewards</a><a href="/account">Account</a>
    <a href="/cart">Cart</a></nav>
</header>
<main>
  <section class="hero"><h1>Autumn collection</h1><p>Warm layers for cooler days.</p></section>
  {main}
  <section class="products">
    <article class="product"><div></div>Wool scarf</article>
    <article class="product"><div></div>Linen shirt</article>
    <article class="product"><div></div>Canvas tote</article>
    <article class="product"><div></div>Knit beanie</article>
  </section>
</main>
{embed}
</body>
</html>
"""

SHOPIFY_PROXY_ERROR = """<!doctype html><html><body><h1>There was an error in the third-party
application.</h1></body></html>"""


@asynccontextmanager
async def serve_storefront(*, shop: Shop, app_url: str, secret: str) -> AsyncIterator[Storefront]:
    """The storefront on a real port of 127.0.0.1, in this event loop."""
    front = Storefront(shop=shop, app_url=app_url, secret=secret)
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
