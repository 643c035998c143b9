"""Shopify customer metafields: the loyalty state the theme extension and Liquid read."""

from __future__ import annotations

import logging

from loyalty.models import Shop
from loyalty.outbox.intents import ClaimedIntent
from loyalty.sync.deps import JobDeps

log = logging.getLogger(__name__)


class ShopNotConnectedError(Exception):
    """The shop has an offline token but the metafield writer is not available."""


async def handle(deps: JobDeps, shop_id: int, intents: list[ClaimedIntent]) -> None:
    shop = await Shop.get_or_none(id=shop_id)
    if shop is None or shop.uninstalled_at is not None or not shop.access_token_enc:
        # Nothing to write to: the demo shop, a shop that never opened the app in Shopify
        # admin (no token exchange yet), or one that uninstalled. Completing is right: the
        # next change after it connects syncs the customer's current state.
        log.info(
            "metafield sync for shop %s skipped (%d intent(s)): no Shopify offline token; "
            "open the app in Shopify admin to connect the shop",
            shop.domain if shop else shop_id,
            len(intents),
        )
        return
    raise ShopNotConnectedError("metafield writer not configured")
