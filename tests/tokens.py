"""App Bridge ID tokens for tests, signed like Shopify signs them (HS256 with the client secret
the test app holds; see tests/conftest.py `settings`) by the one signer, web.demo.session_tokens."""

from __future__ import annotations

from typing import Any

from web.demo.session_tokens import session_token

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
    return session_token(
        f"{shop}.myshopify.com",
        secret=secret,
        api_key=aud,
        staff_user_id=sub,
        lifetime=lifetime,
        issued_at=issued_at,
        **claims,
    )


def bearer(shop: str = "demo", **kwargs: Any) -> dict[str, str]:
    """The header App Bridge's fetch adds."""
    return {"Authorization": f"Bearer {id_token(shop, **kwargs)}"}
