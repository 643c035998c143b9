"""The demo's local Shopify, under /demo/shopify (so behind web.demo.guard: demo, loopback only).

- `POST /demo/shopify/admin/api/<version>/graphql.json`: the Admin GraphQL API as Shopify
  answers it, by standins.shopify_admin (every document validated against the pinned Admin
  schema from @shopify/dev-mcp; metafields kept in its shop model). The app's HTTP client sends
  `https://<shop>.myshopify.com/…` here (loyalty.sync.deps.ShopifyRedirect), naming the shop in
  `X-Shopify-Shop-Domain`: a shop that is not a demo shop answers 404, and a token other than
  the one `loyalty demo` minted for it answers 401 with Shopify's body, both before the body is
  read.
- `GET /demo/shopify`: a page showing what it holds for a demo shop (the shop's metafield, each
  customer's metafields, the last requests), polling `GET /demo/shopify/state.json` each second.
- `LocalShopify.model`: what it holds, for the demo storefront's Liquid (web.demo.storefront
  reads the customer and shop metafields from it, as a real storefront reads Shopify's).

What it holds lives in this process's memory, one model per demo shop, seeded with the shop's
customers: it is a demo, and a restart forgets it (`loyalty demo`, which `make run` runs first,
owes a fresh sync of every customer and of the programme, which writes it all again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from graphql import assert_valid_schema
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from loyalty.crypto import SecretBox
from loyalty.models import Customer, Shop
from loyalty.settings import Settings
from loyalty.shops.demo import DEMO_SHOP
from loyalty.shops.demo_mode import DEMO_ADMIN_PATH, demo_shop, is_demo_token
from standins.shopify_admin import ShopifyAdmin, customer_node
from standins.shopify_schema import ContractMissingError, admin_schema, pinned_version
from web.admin.templating import render, static_url
from web.demo.links import SHOPIFY, other_pages

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
KEEP_CALLS = 50  # the requests the page lists, per shop; older ones are dropped (memory)
_VERSION = re.compile(r"\d{4}-\d{2}|unstable")
# Shopify's answer to a missing or wrong X-Shopify-Access-Token (HTTP 401).
INVALID_TOKEN = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
NOT_FOUND = {"errors": "Not Found"}


class LocalShopify:
    """One ShopifyAdmin model per demo shop (by shop id), and the routes that reach them."""

    def __init__(self, settings: Settings) -> None:
        self._box = SecretBox(settings.secret_key)
        self._models: dict[int, ShopifyAdmin] = {}
        self._versions: set[str] = set()  # the schemas built and checked
        # Building and checking the schema takes seconds of CPU: done before the server
        # serves, so it never stalls the event loop under the first award's sync.
        log.info("the local Shopify: loading Shopify's Admin schema (a few seconds)")
        try:
            _build_schema_of(pinned_version())  # the version the app's client sends
            self._versions.add(pinned_version())
        except ContractMissingError as missing:  # each request answers 404 until it exists
            log.warning("the local Shopify cannot answer: %s", missing)

    async def model(self, shop: Shop) -> ShopifyAdmin:
        """The shop's model, with any customer of the shop it does not know yet added."""
        admin = self._models.get(shop.id)
        if admin is None:
            # The id the app keeps once it asked (`shop { id }`), so a restart agrees with it.
            admin = ShopifyAdmin(shop_id=shop.shopify_shop_id or shop.id, expect_errors=True)
            self._models[shop.id] = admin
        customers = await Customer.filter(shop_id=shop.id).order_by("id")
        known = {customer["id"] for customer in admin.customers}  # after the await: no race
        for customer in customers:
            node = customer_node(
                customer.shopify_customer_id,
                email=customer.email,
                first_name=customer.first_name,
                last_name=customer.last_name,
            )
            if node["id"] not in known:
                admin.customers.append(node)
                known.add(node["id"])
        return admin

    async def graphql(self, request: Request) -> Response:
        shop = await demo_shop(request.headers.get("x-shopify-shop-domain", ""))
        version = request.path_params["version"]
        if shop is None or not _VERSION.fullmatch(version):
            return JSONResponse(NOT_FOUND, status_code=404)
        token = request.headers.get("x-shopify-access-token")
        if not is_demo_token(shop, token, self._box):
            return JSONResponse(INVALID_TOKEN, status_code=401)
        if version not in self._versions:
            try:  # another version: built and checked once (seconds), off the event loop
                await asyncio.to_thread(_build_schema_of, version)
            except ContractMissingError:  # a version the npm package does not carry
                return JSONResponse(NOT_FOUND, status_code=404)
            self._versions.add(version)
        raw = await _body(request)
        if raw is None:
            return JSONResponse({"errors": "Request Entity Too Large"}, status_code=413)
        admin = await self.model(shop)
        status, payload = admin.answer(_json_or_none(raw), version=version)
        del admin.calls[:-KEEP_CALLS], admin.writes[:]  # the page shows the last few calls
        return JSONResponse(payload, status_code=status)

    async def state(self, request: Request) -> Response:
        shop = await demo_shop(request.query_params.get("shop", DEMO_SHOP))
        if shop is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        return JSONResponse(held(shop, await self.model(shop)))

    async def page(self, request: Request) -> Response:
        shop = await demo_shop(request.query_params.get("shop", DEMO_SHOP))
        if shop is None:
            return HTMLResponse(render("demo/shopify_missing.html"), status_code=404)
        shops = await Shop.filter(is_demo=True).order_by("domain").values_list("domain", flat=True)
        return HTMLResponse(
            render(
                "demo/shopify.html",
                shop=shop,
                shops=shops,
                links=other_pages(SHOPIFY, shop.domain),
                state=held(shop, await self.model(shop)),
                state_url=f"{DEMO_ADMIN_PATH}/state.json",
                static=static_url,
            )
        )


def held(shop: Shop, admin: ShopifyAdmin) -> dict[str, Any]:
    """What the model holds for the shop, as the page shows it."""

    def metafields(owner: str) -> list[dict[str, str]]:
        return [
            {"namespace": namespace, "key": key, **stored}
            for (gid, namespace, key), stored in sorted(admin.metafields.items())
            if gid == owner
        ]

    customers = sorted(admin.customers, key=lambda c: int(c["id"].rsplit("/", 1)[-1]))
    return {
        "shop": {
            "domain": shop.domain,
            "id": admin.shop_gid,
            "metafields": metafields(admin.shop_gid),
        },
        "customers": [
            {
                "id": customer["id"],
                "name": " ".join(filter(None, (customer["firstName"], customer["lastName"]))),
                "email": (customer["defaultEmailAddress"] or {}).get("emailAddress"),
                "metafields": metafields(customer["id"]),
            }
            for customer in customers
        ],
        "requests": [
            {"operation": call.operation, "status": call.status, "refused": call.failed}
            for call in reversed(admin.calls[-10:])
        ],
    }


def _build_schema_of(version: str) -> None:
    """Build the schema and check it once (graphql-core keeps both; the first validation of a
    document would otherwise take seconds on the event loop)."""
    assert_valid_schema(admin_schema(version).schema)


async def _body(request: Request) -> bytes | None:
    """The body, or None past MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:  # ShopifyAdmin answers it as Shopify does (400, no `query`)
        return None


def routes(local: LocalShopify) -> list[BaseRoute]:
    return [
        Route("/shopify", local.page, methods=["GET"], name="demo_shopify"),
        Route("/shopify/state.json", local.state, methods=["GET"], name="demo_shopify_state"),
        Route(
            "/shopify/admin/api/{version}/graphql.json",
            local.graphql,
            methods=["POST"],
            name="demo_shopify_graphql",
        ),
    ]
