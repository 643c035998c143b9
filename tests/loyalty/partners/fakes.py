"""What the partner tests share: a clock they control (pacing and retries wait on it instead of
sleeping), the keys, a client per platform, and Klaviyo's answers in the shapes of its SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from loyalty.models import Platform
from loyalty.partners.clients import PartnerClient, build_client
from loyalty.partners.pacing import MemoryPacer
from loyalty.settings import Settings

KEYS = {
    Platform.KLAVIYO: "pk_test_0123456789abcdef",
    Platform.OMNISEND: "61a7c0ffee0123456789abcd-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    Platform.POSTSCRIPT: "sk_test_0123456789abcdef",
}
SETTINGS = Settings(secret_key="test-secret-key-0123456789abcdef")


class FakeClock:
    """`monotonic` for the pacer, `sleep` for retries: sleeping advances the clock at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def client_for(
    platform: Platform,
    http: httpx.AsyncClient,
    clock: FakeClock,
    *,
    settings: Settings = SETTINGS,
    paced: bool = True,
) -> PartnerClient:
    return build_client(
        platform,
        api_key=KEYS[platform],
        shop_id=1,
        settings=settings,
        http=http,
        pacer=MemoryPacer(clock=clock.monotonic) if paced else None,
        sleep=clock.sleep,
    )


# Klaviyo's answers as its SDK models them (the partner routes check every mock against them):
# PostProfileResponse for profile-import, GetAccounts4XXResponse for errors.
# https://developers.klaviyo.com/en/reference/create_or_update_profile
KLAVIYO_PROFILE = {
    "data": {
        "type": "profile",
        "id": "01HXYZ",
        "attributes": {"email": "jane@example.com"},
        "links": {"self": "https://a.klaviyo.com/api/profiles/01HXYZ/"},
    }
}


def klaviyo_errors(code: str, detail: str, *, status: int, **extra: Any) -> dict[str, Any]:
    """Klaviyo's JSON:API error document with one error (`extra`: `meta`, `source`, …).
    https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling"""
    titles = {
        400: "Invalid input.",
        401: "Authentication credentials were not provided.",
        409: "Conflict.",
        429: "Request was throttled.",
    }
    error = {"id": "8c8f4aea", "status": status, "code": code, "title": titles[status]}
    return {"errors": [{**error, "detail": detail, **extra}]}
