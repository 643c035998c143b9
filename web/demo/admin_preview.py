"""`/demo/admin`: the real embedded admin (`/app` and its pages), in a local frame page that plays
Shopify admin's part for a demo shop.

Shopify admin loads an embedded app in an iframe at `/app?shop=…&host=…&embedded=1&id_token=…`
and hands App Bridge fresh session tokens; here the frame page does the first and
`/demo/admin/id-token` the second (the App Bridge stand-in, static/demo/app-bridge.js, asks it).
Both sign with the demo app's own secret (web.demo.session_tokens), so the app verifies them
exactly as it verifies Shopify's. The framed documents load the stand-ins instead of Shopify's
CDN only in the demo (web.admin.shopify_scripts); nothing is fetched from the internet.

Guarantees: every route is behind web.demo.guard (demo on, never with real credentials,
loopback only), and acts only for a shop `loyalty demo` seeded (demo_shop): any other shop,
installed or not, is a 404 and never gets a token.
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from loyalty.shops.demo import DEMO_SHOP
from loyalty.shops.demo_mode import demo_shop
from web.admin.templating import render, static_url
from web.demo.links import ADMIN, other_pages
from web.demo.session_tokens import demo_session_token
from web.errors import error_response
from web.state import services

NO_STORE = {"Cache-Control": "no-store"}  # tokens and pages that embed one are never cached


async def _requested_demo_shop(request: Request) -> str | None:
    """The `shop` asked for (default the demo shop) if it is a demo shop, else None."""
    domain = request.query_params.get("shop", DEMO_SHOP)
    shop = await demo_shop(domain)
    return shop.domain if shop is not None else None


def _host_param(domain: str) -> str:
    """`host` as Shopify admin sends it: base64 of admin.shopify.com/store/<shop name>."""
    name = domain.removesuffix(".myshopify.com")
    return base64.urlsafe_b64encode(f"admin.shopify.com/store/{name}".encode()).decode().rstrip("=")


async def admin_frame(request: Request) -> Response:
    """GET /demo/admin[?shop=…]: the frame page, with the app's home loaded as Shopify loads it."""
    domain = await _requested_demo_shop(request)
    if domain is None:
        return HTMLResponse(render("demo/admin_not_found.html"), status_code=404)
    token = demo_session_token(services(request).settings, domain)
    query = {"shop": domain, "host": _host_param(domain), "embedded": "1", "id_token": token}
    html = render(
        "demo/admin.html",
        shop=domain,
        links=other_pages(ADMIN, domain),
        app_url="/app?" + urlencode(query),
        static=static_url,
    )
    return HTMLResponse(html, headers=NO_STORE)


async def admin_id_token(request: Request) -> Response:
    """GET /demo/admin/id-token?shop=…: a fresh session token, as App Bridge's idToken() gets."""
    domain = await _requested_demo_shop(request)
    if domain is None:
        return error_response(
            404, "not_a_demo_shop", "Not Found", "The local demo acts only for its demo shops"
        )
    token = demo_session_token(services(request).settings, domain)
    return JSONResponse({"id_token": token}, headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/admin", admin_frame, methods=["GET"], name="admin"),
    Route("/admin/id-token", admin_id_token, methods=["GET"], name="admin.id_token"),
]
