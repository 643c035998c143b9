"""The theme app extension's Liquid, rendered here as Shopify renders it in a storefront: the one
home for it, used by the demo storefront (web.demo.storefront) and the storefront browser tests.

- `LiquidStandIn` renders the real files in extensions/loyalty-widget/ (blocks, snippets,
  locales) with python-liquid, plus the few Shopify additions they use: the `t` filter (locale
  lookup, `count` plurals, `{{ var }}` interpolation, `_html` keys unescaped), `asset_url`,
  `stylesheet_tag`, `json`, Ruby's half-away-from-zero `round`, and the `{% schema %}` tag
  (parsed separately, as Shopify does, for the settings' defaults).
- `liquid_globals` builds the objects Shopify provides (`customer`, `shop`, `routes`, `request`
  with its `page_type`).
  Their app-owned metafields are what "Shopify" holds when there is one (`held`: the demo's
  local Shopify, web.demo.shopify, which the app's sync really wrote), so the page shows exactly
  what a real storefront would; for an owner it holds nothing of yet (the sync has not run), and
  for the browser tests' storefront, which has no local Shopify, they are built from the
  database by the app's own metafield writers (loyalty.sync): the documents Shopify receives.
- `render_theme` places the blocks where a theme would: app blocks in the main section, the app
  embed (the launcher) before `</body>`.

Nothing from a request is rendered by Liquid except through these objects (escaped by the
blocks themselves, as in Shopify).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liquid import Environment, FileSystemLoader
from liquid.builtin.tags.comment_tag import CommentNode, CommentTag
from liquid.exceptions import LiquidSyntaxError
from liquid.token import TOKEN_EOF, TOKEN_TAG

from loyalty.clock import utcnow
from loyalty.customers.identifiers import GID_PREFIX
from loyalty.models import Customer, Shop
from loyalty.sync import metafields, shop_metafields
from loyalty.sync.metafields import NAMESPACE
from loyalty.sync.state import load_states

if TYPE_CHECKING:
    from standins.shopify_shop import ShopModel

ROOT = Path(__file__).resolve().parents[2]  # the repository: extensions/ lives there
EXTENSION = ROOT / "extensions" / "loyalty-widget"
ASSETS = EXTENSION / "assets"
EMBED = "loyalty-launcher"  # the app embed block; the others are app blocks
PLURAL = {  # CLDR cardinal rules for the extension's languages
    "en": lambda n: "one" if n == 1 else "other",
    "fr": lambda n: "one" if n in (0, 1) else "other",
}
SCHEMA = re.compile(r"{%-?\s*schema\s*-?%}(?P<json>.*?){%-?\s*endschema\s*-?%}", re.DOTALL)
INTERPOLATION = re.compile(r"{{\s*(\w+)\s*}}")
STOREFRONT_ROUTES = {  # Shopify's `routes` object for a storefront at the domain's root
    "root_url": "/",
    "account_url": "/account",
    "account_login_url": "/account/login",
    "account_register_url": "/account/register",
    "cart_url": "/cart",
}


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
    if match is None:
        raise ValueError(f"blocks/{name}.liquid has no schema")
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
    """Renders the extension's blocks as Shopify would, for one storefront language, with the
    assets served at `assets_url`."""

    def __init__(self, locale: str = "en", *, assets_url: str) -> None:
        self.locale = locale
        self.strings = load_locale(locale)
        self.default_strings = load_locale("en")
        self.env = Environment(loader=FileSystemLoader(EXTENSION / "snippets", ext=".liquid"))
        self.env.add_tag(SchemaTag)
        self.env.add_filter("t", self.translate)
        self.env.add_filter("asset_url", lambda name: f"{assets_url}/{name}")
        self.env.add_filter("stylesheet_tag", stylesheet_tag)
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


def stylesheet_tag(url: str) -> str:
    """Shopify's `stylesheet_tag`: a <link> to the stylesheet at `url`."""
    return f'<link href="{html.escape(url)}" rel="stylesheet" type="text/css" media="all">'


def to_json(value: Any) -> str:
    """Shopify's `json`: safe inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def ruby_round(value: Any, digits: Any = None) -> Any:
    """Liquid's `round` is Ruby's: halves round away from zero (12.5 → 13)."""
    places = Decimal(1).scaleb(-int(digits or 0))
    rounded = Decimal(str(value)).quantize(places, rounding=ROUND_HALF_UP)
    return int(rounded) if not digits else float(rounded)


@dataclass(frozen=True)
class Theme:
    """The rendered extension, ready to place in a page."""

    main: str  # the app blocks, in the main section
    embed: str  # the app embed, before </body>


def render_theme(
    liquid: LiquidStandIn, context: dict[str, Any], blocks: list[str], **settings: Any
) -> Theme:
    """`blocks` as app blocks and the launcher as the app embed, each with `settings` over its
    schema's defaults (as a merchant's theme editor choices would be)."""
    main = "".join(liquid.render_block(name, context, **settings) for name in blocks)
    return Theme(main=main, embed=liquid.render_block(EMBED, context, **settings))


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


def held_app_fields(held: ShopModel, owner: str) -> dict[str, Any]:
    """`<owner>.metafields['$app']` from what a Shopify holds (the local Shopify's model)."""
    return {
        key: {"value": metafield_value(stored["type"], stored["value"])}
        for (gid, namespace, key), stored in held.metafields.items()
        if gid == owner and namespace == NAMESPACE
    }


async def liquid_globals(
    *,
    shop: Shop,
    customer_id: int | None,
    locale: str = "en",
    with_programme: bool = True,
    customer_overrides: dict[str, Any] | None = None,
    routes: dict[str, str] | None = None,
    held: ShopModel | None = None,
    page_type: str = "index",
) -> dict[str, Any]:
    """The storefront's objects for the signed-in customer with this Shopify id (None: a
    visitor), with the metafields `held` holds for each owner (see the module docstring).
    `customer_overrides` replaces metafields by key (None removes one); `page_type` is
    `request.page_type` (Shopify's template name: `index`, `cart`, `customers/account`, …)."""
    shop_fields: dict[str, Any] = {}
    if with_programme:
        shop_fields = held_app_fields(held, held.shop_gid) if held else {}
        if not shop_fields:
            shop_fields["programme"] = {"value": await programme_metafield(shop)}
    customer_obj = None
    if customer_id is not None:
        customer = await Customer.get_or_none(shop=shop, shopify_customer_id=customer_id)
        app_fields = held_app_fields(held, f"{GID_PREFIX}{customer_id}") if held else {}
        if not app_fields and customer:
            app_fields = await customer_metafields(shop, customer)
        for key, value in (customer_overrides or {}).items():
            if value is None:
                app_fields.pop(key, None)
            else:
                app_fields[key] = {"value": value}
        customer_obj = {
            "id": customer_id,
            "first_name": customer.first_name if customer else "",
            "metafields": {"$app": app_fields},
        }
    return {
        "shop": {"name": shop.name, "currency": "USD", "metafields": {"$app": shop_fields}},
        "customer": customer_obj,
        "routes": routes or STOREFRONT_ROUTES,
        "request": {"locale": {"iso_code": locale}, "page_type": page_type},
    }
