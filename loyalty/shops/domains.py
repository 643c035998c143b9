"""Shops as the embedded admin reaches them: found, or created on first sight, by domain."""

from __future__ import annotations

import re

from loyalty.clock import utcnow
from loyalty.models import Shop

# A shop's myshopify subdomain, as Shopify's own libraries validate it.
_SHOP_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-]*")


def shop_domain(shop_name: str) -> str | None:
    """`"demo"` → `"demo.myshopify.com"`; None for anything that is not a shop subdomain."""
    if not _SHOP_NAME.fullmatch(shop_name):
        return None
    return f"{shop_name.lower()}.myshopify.com"


async def get_or_create_shop(*, domain: str) -> Shop:
    """The shop with this domain, created (installed now) if it has never been seen.

    Concurrent first requests are safe: the unique domain decides, and the loser reads the
    winner's row (Tortoise's get_or_create retries the read on IntegrityError).
    """
    shop = await Shop.get_or_none(domain=domain)
    if shop is not None:
        return shop
    shop, _ = await Shop.get_or_create(domain=domain, defaults={"installed_at": utcnow()})
    return shop
