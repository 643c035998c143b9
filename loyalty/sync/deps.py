"""What jobs need from their process: settings, one shared HTTP client (never a global), and
the Shopify Admin API client when Shopify credentials are configured."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from shopify_app import ShopifyApp

from loyalty.crypto import SecretBox
from loyalty.settings import Settings
from loyalty.shopify.admin_api import AdminApi
from loyalty.shopify.tokens import TokenProvider


@dataclass(frozen=True)
class JobDeps:
    settings: Settings
    http: httpx.AsyncClient
    admin: AdminApi | None = None  # None without SHOPIFY_API_KEY/SECRET (the local demo)


def shopify_app(settings: Settings) -> ShopifyApp | None:
    if not (settings.shopify_api_key and settings.shopify_api_secret):
        return None
    return ShopifyApp(
        client_id=settings.shopify_api_key,
        client_secret=settings.shopify_api_secret,
        old_client_secret=settings.shopify_old_api_secret,
    )


def build_job_deps(settings: Settings, http: httpx.AsyncClient) -> JobDeps:
    """One per process (the token provider holds the per-shop refresh locks)."""
    shopify = shopify_app(settings)
    admin = None
    if shopify is not None:
        tokens = TokenProvider(shopify=shopify, http=http, box=SecretBox(settings.secret_key))
        admin = AdminApi(shopify=shopify, http=http, tokens=tokens)
    return JobDeps(settings=settings, http=http, admin=admin)
