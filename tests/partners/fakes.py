"""A clock the tests control: partner pacing and retries wait on it instead of sleeping."""

from __future__ import annotations

import asyncio

import httpx

from loyalty.models import Platform
from loyalty.partners.clients import PartnerClient, build_client
from loyalty.ratelimit import MemoryPacer
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
