"""Where the admin's documents load Shopify's two scripts (App Bridge, Polaris) from, and who may
frame them.

In production: from Shopify's CDN, as Shopify requires (it keeps them current), and framed only
by the shop and admin.shopify.com (the CSP `frame-ancestors` shopify_app writes). In the local
demo (loyalty.shops.demo_mode.is_demo_app), which runs offline: the stand-ins in static/demo/
(which only the demo serves, behind its guard), and this origin may frame them too ('self':
web.demo.admin_preview's frame page). The decision is made once per process from its settings;
nothing else about a document changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shopify_app.types import Res

from loyalty.settings import Settings
from loyalty.shops.demo_mode import is_demo_app
from web.admin.templating import static_url

APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
POLARIS = "https://cdn.shopify.com/shopifycloud/polaris-1.js"  # the stable 1.x channel
_FRAME_ANCESTORS = re.compile(r"(frame-ancestors[^;]*)")


@dataclass(frozen=True, slots=True)
class ShopifyScripts:
    app_bridge: str
    polaris: str
    framed_by_self: bool  # the demo's frame page (same origin) may frame the documents

    @property
    def preload(self) -> str:
        """The Link header that preloads both scripts."""
        return (
            f'<{self.app_bridge}>; rel="preload"; as="script", '
            f'<{self.polaris}>; rel="preload"; as="script"'
        )

    def csp(self, policy: str) -> str:
        """shopify_app's Content-Security-Policy, with 'self' as a frame ancestor in the demo."""
        if not self.framed_by_self:
            return policy
        return _FRAME_ANCESTORS.sub(lambda found: found.group(1).rstrip() + " 'self'", policy)

    def bounce(self, res: Res) -> Res:
        """shopify_app's /auth/patch-id-token page, loading this process's App Bridge."""
        if self.app_bridge == APP_BRIDGE:
            return res
        headers = {
            name: self.csp(value)
            if name.lower() == "content-security-policy"
            else value.replace(APP_BRIDGE, self.app_bridge)
            for name, value in res.headers.items()
        }
        return Res(
            status=res.status, body=res.body.replace(APP_BRIDGE, self.app_bridge), headers=headers
        )


CDN = ShopifyScripts(app_bridge=APP_BRIDGE, polaris=POLARIS, framed_by_self=False)


def shopify_scripts(settings: Settings) -> ShopifyScripts:
    if not is_demo_app(settings):
        return CDN
    return ShopifyScripts(
        app_bridge=static_url("demo/app-bridge.js"),
        polaris=static_url("demo/polaris.js"),
        framed_by_self=True,
    )
