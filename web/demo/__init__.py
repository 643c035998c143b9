"""The local demo (`make run`, `loyalty serve --demo`): what a merchant and a shopper would see,
on one machine, with no Shopify account.

- `/demo/shopify`: a local Shopify Admin API that validates every document against the pinned
  Admin schema and keeps what it was sent, and a page showing what it holds (web.demo.shopify);
- `/demo/admin`: the real admin pages in a frame that plays Shopify admin's part (App Bridge,
  session tokens for the demo shop) (web.demo.admin_preview);
- `/demo/storefront`: the theme extension's real Liquid for a demo customer or a visitor, with
  the widget reaching the app proxy through a local signing proxy (web.demo.storefront).

Every route is behind web.demo.guard and exists only when the process runs the demo.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from loyalty.settings import Settings
from web.demo import storefront
from web.demo.guard import DemoOnlyMiddleware


def routes(settings: Settings) -> list[BaseRoute]:
    if not settings.demo:
        return []
    demo_routes: list[BaseRoute] = []  # each part appends its routes here (see the docstring)
    demo_routes += storefront.routes
    return [
        Mount(
            "/demo",
            routes=demo_routes,
            middleware=[Middleware(DemoOnlyMiddleware, settings=settings)],
            name="demo",
        )
    ]
