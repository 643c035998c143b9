"""The local demo (`make run`, `loyalty serve --demo`): what a merchant and a shopper would see,
on one machine, with no Shopify account.

- `/demo/shopify`: a local Shopify Admin API that validates every document against the pinned
  Admin schema and keeps what it was sent, and a page showing what it holds (web.demo.shopify);
- `/demo/admin`: the real admin pages in a frame that plays Shopify admin's part (App Bridge,
  session tokens for the demo shop) (web.demo.admin_preview);
- `/demo/static`: static/demo/, the stand-ins for Shopify's App Bridge and Polaris scripts (the
  demo runs offline; production's /static leaves them out);
- `/demo/storefront`: the theme extension's real Liquid for a demo customer or a visitor, with
  the widget reaching the app proxy through a local signing proxy (web.demo.storefront).

Every route is behind web.demo.guard and exists only when the process runs the demo.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from loyalty.settings import Settings
from web.admin.templating import DEMO_STATIC, STATIC_DIR
from web.demo import admin_preview, storefront
from web.demo.guard import DemoOnlyMiddleware


def routes(settings: Settings) -> list[BaseRoute]:
    if not settings.demo:
        return []
    from web.demo import shopify  # graphql-core and the Admin schema: only in the demo

    local = shopify.LocalShopify(settings)
    demo_routes: list[BaseRoute] = []  # each part appends its routes here (see the docstring)
    demo_routes += shopify.routes(local)
    demo_routes += admin_preview.routes
    # static/demo/: the App Bridge and Polaris stand-ins, the frame page's style (static_url).
    demo_routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR / DEMO_STATIC)))
    demo_routes += storefront.routes(local.model)  # its Liquid reads what "Shopify" holds
    return [
        Mount(
            "/demo",
            routes=demo_routes,
            middleware=[Middleware(DemoOnlyMiddleware, settings=settings)],
            name="demo",
        )
    ]
