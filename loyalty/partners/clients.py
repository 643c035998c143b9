"""One client per (platform, shop credentials), built on the process's shared httpx client."""

from __future__ import annotations

import asyncio

import httpx

from loyalty.models import Platform
from loyalty.partners import klaviyo, omnisend, postscript
from loyalty.partners.pacing import Pacer
from loyalty.partners.transport import PartnerTransport, Sleep
from loyalty.settings import Settings

PartnerClient = klaviyo.KlaviyoClient | omnisend.OmnisendClient | postscript.PostscriptClient


def build_client(
    platform: Platform,
    *,
    api_key: str,
    shop_id: int,
    settings: Settings,
    http: httpx.AsyncClient,
    pacer: Pacer | None,
    sleep: Sleep = asyncio.sleep,
    max_attempts: int = 4,
    timeout: float = 10.0,
) -> PartnerClient:
    """`pacer=None` skips pacing (a single connection test). Base URLs come from settings, so
    tests and bench/sync can point a platform at a stub."""
    module = {
        Platform.KLAVIYO: klaviyo,
        Platform.OMNISEND: omnisend,
        Platform.POSTSCRIPT: postscript,
    }[platform]
    base_url = {
        Platform.KLAVIYO: settings.klaviyo_base_url,
        Platform.OMNISEND: settings.omnisend_base_url,
        Platform.POSTSCRIPT: settings.postscript_base_url,
    }[platform]
    transport = PartnerTransport(
        platform=str(platform),
        http=http,
        base_url=base_url,
        headers=module.headers(api_key),
        shop_id=shop_id,
        pacer=pacer,
        share=settings.partner_rate_share,
        retry_after=module.retry_after,
        sleep=sleep,
        max_attempts=max_attempts,
        timeout=timeout,
    )
    if platform is Platform.KLAVIYO:
        return klaviyo.KlaviyoClient(transport)
    if platform is Platform.OMNISEND:
        return omnisend.OmnisendClient(transport)
    return postscript.PostscriptClient(transport)
