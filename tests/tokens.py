"""App Bridge ID tokens for tests, signed like Shopify signs them (HS256 with the client secret
the test app holds; see tests/conftest.py `settings`)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"


def id_token(
    shop: str = "demo",
    *,
    secret: str = CLIENT_SECRET,
    aud: str = CLIENT_ID,
    sub: str = "42",
    issued_at: float | None = None,
    lifetime: int = 60,
    **claims: Any,
) -> str:
    """A token for `<shop>.myshopify.com`; override any claim through keyword arguments."""
    now = int(issued_at if issued_at is not None else time.time())
    payload: dict[str, Any] = {
        "iss": f"https://{shop}.myshopify.com/admin",
        "dest": f"https://{shop}.myshopify.com",
        "aud": aud,
        "sub": sub,
        "exp": now + lifetime,
        "nbf": now,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(shop: str = "demo", **kwargs: Any) -> dict[str, str]:
    """The header App Bridge's fetch adds."""
    return {"Authorization": f"Bearer {id_token(shop, **kwargs)}"}
