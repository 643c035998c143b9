"""Installing a shop: the use case behind the embedded admin's first verified load.

Shopify-managed installation has no OAuth redirect: the first App Home load with a verified ID
token for a shop without a usable offline token runs token exchange, which is also what
reinstalls a shop after an uninstall (or after its refresh token was revoked).
https://shopify.dev/docs/apps/build/authentication-authorization/app-installation

Guarantees:
- the shop row exists afterwards (created on first sight by its domain);
- a shop that already has a usable token is returned as it is, with nothing to do;
- a fresh install stores the token, records a customer backfill as owed, and names the job to
  dispatch once the caller is outside any transaction; a refused exchange raises
  `TokenExchangeError` (carrying shopify_app's response for App Bridge) and records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from shopify_app import IdTokenDetails, Res, ShopifyApp

from loyalty.crypto import SecretBox
from loyalty.jobs import JobName
from loyalty.models import Shop
from loyalty.shopify.backfill import request_backfill
from loyalty.shopify.tokens import exchange_offline_token, has_usable_token
from loyalty.shops.domains import get_or_create_shop


@dataclass(frozen=True, slots=True)
class Installed:
    """The shop as it is now, and the jobs to hand to the dispatcher (empty if nothing new)."""

    shop: Shop
    jobs: list[str] = field(default_factory=list)


async def ensure_installed(
    *,
    domain: str,
    shopify: ShopifyApp,
    http: httpx.AsyncClient,
    box: SecretBox,
    id_token: IdTokenDetails,
    invalid_token_response: Res | None,
) -> Installed:
    """The shop `domain` names, installed: token exchange if it has no usable offline token.

    `id_token` must already be verified (and its claims checked) by the caller."""
    shop = await get_or_create_shop(domain=domain)
    if has_usable_token(shop):
        return Installed(shop=shop)
    await exchange_offline_token(
        shop=shop,
        shopify=shopify,
        http=http,
        box=box,
        id_token=id_token,
        invalid_token_response=invalid_token_response,
    )
    # A fresh install (or reinstall): bring in the shop's existing customers.
    await request_backfill(shop_id=shop.id)
    return Installed(shop=await Shop.get(id=shop.id), jobs=[JobName.BACKFILL_CUSTOMERS])
