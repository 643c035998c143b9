"""Klaviyo, Omnisend and Postscript profile syncs for a shop's enabled integrations."""

from __future__ import annotations

import logging

from loyalty.models import Integration, Platform
from loyalty.outbox.intents import ClaimedIntent
from loyalty.sync.deps import JobDeps

log = logging.getLogger(__name__)


class PlatformClientMissingError(Exception):
    """The integration is configured but no client for it is available."""


def profile_sync_handler(platform: Platform):  # type: ignore[no-untyped-def]
    async def handle(deps: JobDeps, shop_id: int, intents: list[ClaimedIntent]) -> None:
        integration = await Integration.get_or_none(shop_id=shop_id, platform=platform)
        if integration is None or not integration.enabled or not integration.credentials_enc:
            log.info(
                "%s sync for shop %s skipped (%d intent(s)): integration not configured",
                platform,
                shop_id,
                len(intents),
            )
            return
        raise PlatformClientMissingError(f"{platform} client not configured")

    return handle
