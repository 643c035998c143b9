"""App Bridge ID-token authentication for `/app/api`, as ASGI middleware on that mount, and the
claims every ID token must carry (here and on the admin pages, web.admin.documents).

The token (`Authorization: Bearer <JWT>`) is verified by Shopify's own `shopify_app` package
before routing, parsing or any body is read. That checks the signature (HS256, the app secret),
`aud`, and `exp`/`nbf` when present; `token_shop` adds what it leaves out: `exp` is required,
`dest` is exactly `https://<shop>.myshopify.com` and `iss` is exactly `<dest>/admin`. A caller
whose address has failed too often is refused first (web.auth.throttle), and each failure
counts; a verified caller is then rate limited per shop and staff user
(web.admin_ratelimit). Only then is the shop found or created, and handlers get it as
`request.state.shop` and the staff user (`sub`) as `request.state.staff_user_id`.
https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from shopify_app import ShopifyApp
from shopify_app.types import RequestInput, ResultWithExchangeableIdToken
from starlette.datastructures import URL, Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from loyalty.shops.domains import get_or_create_shop, shop_domain
from web import admin_ratelimit
from web.auth import throttle
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
    "missing_exp": "The ID token has no expiry (exp)",
    "invalid_iss": "The ID token's issuer (iss) is not its shop's admin",
}
# `dest` exactly as Shopify issues it: no other scheme, port, userinfo, path, query or fragment.
_DEST = re.compile(r"https://([a-zA-Z0-9][a-zA-Z0-9-]*)\.myshopify\.com")


def verify(
    shopify: ShopifyApp, request_input: RequestInput
) -> ResultWithExchangeableIdToken | None:
    """`shopify_app`'s verdict, or None for a signed token it cannot read: it parses `dest`
    as a URL string and raises on any other JSON value (a 500 otherwise)."""
    try:
        return shopify.verify_app_home_req(
            request_input, app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH
        )
    except (AttributeError, TypeError, ValueError):
        return None


def token_shop(claims: Mapping[str, Any]) -> tuple[str | None, str]:
    """(the shop's domain, "") for claims shopify_app verified, or (None, the refusal code)."""
    if "exp" not in claims:  # verified when present; a token must never be valid forever
        return None, "missing_exp"
    dest = claims.get("dest")
    match = _DEST.fullmatch(dest) if isinstance(dest, str) else None
    domain = shop_domain(match.group(1)) if match else None
    if match is None or domain is None:
        return None, "invalid_shop"
    if claims.get("iss") != f"{dest}/admin":
        return None, "invalid_iss"
    return domain, ""


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

        refused = await throttle.refusal(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not headers.get("authorization"):
            # The API is fetched by App Bridge, which always sends a Bearer token. Without one
            # the library would treat this as a document load and redirect to the bounce page
            # (and accept `?id_token=` in the URL, where tokens leak into logs), so refuse here.
            await throttle.failed(scope)
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
        result = verify(shopify, request_input)
        domain, code = (None, result.log.code if result else "invalid_shop")
        if result and result.ok:  # verified by the library: now the claims it leaves unchecked
            domain, code = token_shop(result.id_token.claims if result.id_token else {})
        if result is None or domain is None:
            await throttle.failed(scope)
            # The library's status and headers (App Bridge acts on them), our error document.
            status, headers = 401, {RETRY_HEADER: "1"}
            if result and not result.ok:
                status, headers = result.response.status, dict(result.response.headers)
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

        staff_user_id = str(result.user_id) if result.user_id is not None else None
        limited = await admin_ratelimit.refusal(scope, domain, staff_user_id)
        if limited is not None:
            await limited(scope, receive, send)
            return
        state["shop"] = await get_or_create_shop(domain=domain)
        state["staff_user_id"] = staff_user_id
        await self.app(scope, receive, send)
