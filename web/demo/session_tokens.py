"""App Bridge session tokens (ID tokens) signed as Shopify signs them, for the local demo's admin
preview (web.demo.admin_preview) and for the tests, which play Shopify the same way.

`session_token` writes exactly the claims web.auth.id_token requires: HS256 with the app's
secret, `aud` its client id, `dest` https://<shop>, `iss` <dest>/admin, `sub` a staff user id,
`exp` a minute ahead (Shopify's lifetime), `nbf`/`iat`, and unique `jti` and `sid`.
`demo_session_token` signs only for the demo app (loyalty.shops.demo_mode.is_demo_app): never
with real credentials configured. Which shop it may sign for is the caller's check (demo_shop).
https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from loyalty.settings import Settings
from loyalty.shops.demo_mode import DemoRefused, is_demo_app

LIFETIME = 60  # seconds, as Shopify issues them
DEMO_STAFF_USER_ID = "1"  # the demo's one staff member (Shopify's `sub` is a numeric user id)


def session_token(
    shop_domain: str,
    *,
    secret: str,
    api_key: str,
    staff_user_id: str,
    lifetime: int = LIFETIME,
    issued_at: float | None = None,
    **claims: Any,
) -> str:
    """A token for `shop_domain` (a myshopify.com domain); `claims` override any claim."""
    now = int(issued_at if issued_at is not None else time.time())
    dest = f"https://{shop_domain}"
    payload: dict[str, Any] = {
        "iss": f"{dest}/admin",
        "dest": dest,
        "aud": api_key,
        "sub": staff_user_id,
        "exp": now + lifetime,
        "nbf": now,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm="HS256")


def demo_session_token(settings: Settings, shop_domain: str) -> str:
    """A token the demo app signs for one of its shops; refused outside the demo."""
    if not is_demo_app(settings) or not settings.shopify_api_secret:
        raise DemoRefused("only the local demo signs session tokens")
    return session_token(
        shop_domain,
        secret=settings.shopify_api_secret,
        api_key=settings.shopify_api_key,
        staff_user_id=DEMO_STAFF_USER_ID,
    )
