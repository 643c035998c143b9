"""ID tokens carry what Shopify issues, or nothing is served (web.auth.id_token.token_shop):
`exp` is required, `dest` is exactly `https://<shop>.myshopify.com` and `iss` is exactly
`<dest>/admin`. Each forgery below is signed with the app's real secret (defence in depth: the
secret is what an attacker lacks), and is refused with 401 on the admin API and the admin pages,
creating no shop. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from loyalty.models import Shop
from tests.tokens import CLIENT_SECRET, id_token
from tests.web.admin_client import RETRY_HEADER

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

DROP = object()


def signed(shop: str = "demo", **changes: Any) -> str:
    """A genuine-looking token for `shop`, with claims changed (DROP removes one)."""
    claims = jwt.decode(id_token(shop), options={"verify_signature": False})
    for name, value in changes.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode(claims, CLIENT_SECRET, algorithm="HS256")


def with_dest(dest: str) -> str:
    """`dest` replaced, and `iss` kept consistent with it, so only the `dest` rule can refuse."""
    return signed(dest=dest, iss=f"{dest}/admin")


FORGERIES = {
    "no exp": (lambda: signed(exp=DROP), "missing_exp"),
    "no iss": (lambda: signed(iss=DROP), "invalid_iss"),
    "iss of another shop": (
        lambda: signed(iss="https://other.myshopify.com/admin"),
        "invalid_iss",
    ),
    "iss without /admin": (lambda: signed(iss="https://demo.myshopify.com"), "invalid_iss"),
    "iss over http": (lambda: signed(iss="http://demo.myshopify.com/admin"), "invalid_iss"),
    "dest over http": (lambda: with_dest("http://demo.myshopify.com"), "invalid_shop"),
    "dest with a port": (lambda: with_dest("https://demo.myshopify.com:443"), "invalid_shop"),
    "dest with userinfo": (
        lambda: with_dest("https://admin@demo.myshopify.com"),
        "invalid_shop",
    ),
    "dest with a path": (lambda: with_dest("https://demo.myshopify.com/x"), "invalid_shop"),
    "dest without a scheme": (lambda: with_dest("demo.myshopify.com"), "invalid_shop"),
    "dest with a trailing dot": (lambda: with_dest("https://demo.myshopify.com."), "invalid_shop"),
    "dest not a string": (lambda: signed(dest=["https://demo.myshopify.com"]), "invalid_shop"),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_a_forged_claim_is_401_on_the_admin_api(
    client: httpx.AsyncClient, db: str, forgery: str
) -> None:
    make, code = FORGERIES[forgery]
    response = await client.get("/app/api/settings", headers={"Authorization": f"Bearer {make()}"})
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["code"] == code
    assert response.headers[RETRY_HEADER] == "1"
    assert await Shop.all().count() == 0  # the shop the token names was never created


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_a_forged_claim_is_401_on_the_admin_pages(
    client: httpx.AsyncClient, db: str, forgery: str
) -> None:
    make, code = FORGERIES[forgery]
    query = urlencode({"shop": "demo.myshopify.com", "embedded": "1", "id_token": make()})
    response = await client.get(f"/app/settings?{query}")
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["code"] == code
    assert await Shop.all().count() == 0


async def test_the_genuine_token_is_served(client: httpx.AsyncClient, db: str) -> None:
    """The claims exactly as Shopify issues them pass (the rules refuse only forgeries)."""
    response = await client.get(
        "/app/api/settings", headers={"Authorization": f"Bearer {signed()}"}
    )
    assert response.status_code == 200, response.text
    assert await Shop.filter(domain="demo.myshopify.com").exists()
