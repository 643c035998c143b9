"""The local demo's three pages, and the links each shows to the other two for the same shop.

One home for where the pages are and how a shop is named in their URLs: the default demo shop
needs no `?shop=` (the URLs `loyalty demo` prints), any other demo shop keeps it on every link,
so following the links never switches shop.
"""

from __future__ import annotations

from urllib.parse import urlencode

from loyalty.shops.demo import DEMO_SHOP

ADMIN = "/demo/admin"
STOREFRONT = "/demo/storefront"
SHOPIFY = "/demo/shopify"
PAGES = ((ADMIN, "Admin preview"), (STOREFRONT, "Demo storefront"), (SHOPIFY, "Local Shopify"))


def page_url(path: str, shop: str) -> str:
    """`path` for `shop`: with `?shop=` unless it is the default demo shop."""
    return path if shop == DEMO_SHOP else f"{path}?{urlencode({'shop': shop})}"


def other_pages(here: str, shop: str) -> list[tuple[str, str]]:
    """(label, url) of the demo's other pages, for `shop`."""
    return [(label, page_url(path, shop)) for path, label in PAGES if path != here]
