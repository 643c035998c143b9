"""The local demo's own app credentials, and the settings that point the app at its own local
Shopify (web.demo) instead of Shopify.

Guarantees: the demo never runs with real Shopify credentials (`demo_settings` refuses when
SHOPIFY_API_KEY or SHOPIFY_API_SECRET is configured), its secret is generated on this machine
into data_dir and never leaves it, and it acts only for shops `loyalty demo` marked `is_demo`.

A demo shop is connected to the local Shopify by an offline access token the demo mints
(`connect_demo_shop`), stored encrypted like a real one and without expiry, so the app's Admin
API client sends its writes there exactly as it would to Shopify. The token provider uses a
demo shop's token only in the demo process (`is_demo_app`), so it never leaves for Shopify.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from loyalty.clock import utcnow
from loyalty.crypto import SecretBox, SecretDecryptionError
from loyalty.models import Shop
from loyalty.settings import Settings
from loyalty.shops.domains import shop_domain

DEMO_API_KEY = "loyalty-local-demo"  # the demo app's client id: never a real app's
DEMO_ADMIN_PATH = "/demo/shopify"  # where web.demo serves the local Shopify Admin API
SECRET_FILE = "demo-app.secret"  # noqa: S105 - a file name, not a secret


class DemoRefused(RuntimeError):
    """The demo cannot start with this configuration (the message says why)."""


def demo_secret(data_dir: Path) -> str:
    """The demo app's secret, generated once into data_dir (mode 0600) and kept."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secret)
    return secret


def demo_settings(settings: Settings) -> Settings:
    """`settings` with the demo app's credentials and the local Shopify as the Admin API."""
    if settings.shopify_api_key or settings.shopify_api_secret:
        raise DemoRefused(
            "the local demo never runs with real Shopify credentials: unset SHOPIFY_API_KEY and"
            " SHOPIFY_API_SECRET, or serve without --demo"
        )
    if not settings.shopify_admin_base_url:
        raise DemoRefused("the local demo needs SHOPIFY_ADMIN_BASE_URL (loyalty serve sets it)")
    return settings.with_overrides(
        shopify_api_key=DEMO_API_KEY,
        shopify_api_secret=demo_secret(settings.data_dir),
        demo=True,
    )


def demo_admin_base_url(port: int) -> str:
    return f"http://127.0.0.1:{port}{DEMO_ADMIN_PATH}"


def is_demo_app(settings: Settings) -> bool:
    """True only in a process `demo_settings` configured (never with real credentials)."""
    return settings.demo and settings.shopify_api_key == DEMO_API_KEY


async def demo_shop(domain: str) -> Shop | None:
    """The demo shop with this domain, or None for any other shop (real or unknown) and for
    anything that is not a myshopify.com domain (a query parameter, as typed)."""
    if shop_domain(domain.removesuffix(".myshopify.com")) != domain:
        return None
    return await Shop.get_or_none(domain=domain, is_demo=True)


async def connect_demo_shop(shop: Shop, box: SecretBox) -> str:
    """Mint a fresh offline token for the demo shop and store it as a real one is stored
    (encrypted; no expiry and no refresh token: it lasts the demo). Returns the token."""
    if not shop.is_demo:
        raise DemoRefused(f"{shop.domain} is not a demo shop: only `loyalty demo` shops connect")
    token = "shpat_demo_" + secrets.token_hex(16)  # the shape of a Shopify offline token
    shop.access_token_enc = box.encrypt(token)
    shop.access_token_expires_at = None
    shop.refresh_token_enc = None  # type: ignore[assignment]  # a nullable column
    shop.refresh_token_expires_at = None
    shop.reauth_required_at = None
    shop.uninstalled_at = None
    shop.installed_at = shop.installed_at or utcnow()
    await shop.save(
        update_fields=[
            "access_token_enc",
            "access_token_expires_at",
            "refresh_token_enc",
            "refresh_token_expires_at",
            "reauth_required_at",
            "uninstalled_at",
            "installed_at",
            "updated_at",
        ]
    )
    return token


def is_demo_token(shop: Shop, token: str | None, box: SecretBox) -> bool:
    """True when `token` is the one the demo minted for this demo shop (constant time)."""
    if not (shop.is_demo and token and shop.access_token_enc):
        return False
    try:
        minted = box.decrypt(shop.access_token_enc)
    except SecretDecryptionError:  # minted under another SECRET_KEY: run `loyalty demo` again
        return False
    return hmac.compare_digest(minted.encode(), token.encode())
