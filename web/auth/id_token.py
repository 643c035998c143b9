"""App Bridge ID-token authentication for `/app/api`, as ASGI middleware on that mount.

The token (`Authorization: Bearer <JWT>`) is verified by Shopify's own `shopify_app` package
before routing, parsing or any body is read; the verified shop is then found or created, and
handlers get it as `request.state.shop` and the staff user (`sub`) as `request.state.staff_user_id`.
https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens
"""

from __future__ import annotations

import logging

from shopify_app.types import RequestInput
from starlette.datastructures import URL, Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from loyalty.shops import get_or_create_shop, shop_domain
from web.errors import error_response

log = logging.getLogger(__name__)

# App Bridge retries a fetch once, with a fresh token, when a 401 carries this header.
RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
# The library requires the bounce page's path (it answers 500 `configuration_error` without one)
# though only document loads, never these Bearer fetches, are redirected to it.
PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"  # noqa: S105 - a URL path, not a secret

_DETAILS = {
    "expired_id_token": "The ID token has expired",
    "invalid_aud": "The ID token was issued for another app",
    "invalid_shop": "The ID token does not name a myshopify.com shop",
}


class IdTokenAuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        shopify = state["services"].shopify
        if shopify is None:
            response = error_response(
                503,
                "shopify_not_configured",
                "Service Unavailable",
                "The embedded admin needs SHOPIFY_API_KEY and SHOPIFY_API_SECRET to be set",
            )
            await response(scope, receive, send)
            return

        headers = Headers(scope=scope)
        if not headers.get("authorization"):
            # The API is fetched by App Bridge, which always sends a Bearer token. Without one
            # the library would treat this as a document load and redirect to the bounce page
            # (and accept `?id_token=` in the URL, where tokens leak into logs), so refuse here.
            response = error_response(
                401,
                "missing_id_token",
                "Unauthorized",
                "Send the App Bridge ID token as Authorization: Bearer <token>",
            )
            await response(scope, receive, send)
            return

        request_input: RequestInput = {
            "method": scope["method"],
            "headers": dict(headers),
            "url": str(URL(scope=scope)),
            "body": "",  # Bearer verification never reads it; the body stays unread until routed
        }
        result = shopify.verify_app_home_req(
            request_input, app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH
        )
        domain = shop_domain(result.shop) if result.ok and result.shop else None
        if not result.ok or domain is None:
            # The library's status and headers (App Bridge acts on them), our error document.
            status, headers = result.response.status, dict(result.response.headers)
            code = result.log.code
            if result.ok:  # verified, but `dest` is not a shop: treat it as a bad token
                status, headers, code = 401, {RETRY_HEADER: "1"}, "invalid_shop"
            log.info("admin API request refused: %s", code)
            response = error_response(
                status,
                code,
                "Unauthorized" if status == 401 else "Authentication failed",
                _DETAILS.get(code, "The ID token is not valid"),
                headers=headers,
            )
            await response(scope, receive, send)
            return

        state["shop"] = await get_or_create_shop(domain=domain)
        state["staff_user_id"] = str(result.user_id) if result.user_id is not None else None
        await self.app(scope, receive, send)
