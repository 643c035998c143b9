"""The harness itself: a real page, from the real server, in real Chromium, in the same world
on every run (the frozen clock and seeded randomness the README's images rely on), unless a
test asks for the real clock."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page

from loyalty.clock import utcnow
from tests.browser.conftest import FROZEN_AT, SEED, LiveApp


class TestHarness:
    async def test_chromium_loads_a_page_from_the_live_app(
        self, page: Page, live_app: LiveApp
    ) -> None:
        """Chromium fetches /healthz from the uvicorn server running on this loop."""
        response = await page.goto(f"{live_app.url}/healthz")
        assert response is not None and response.status == 200
        assert "ok" in await page.content()

    async def test_every_run_sees_the_same_time_and_the_same_random_bytes(
        self, page: Page, live_app: LiveApp
    ) -> None:
        """The app's clock starts at FROZEN_AT and ticks; Chromium's Date is FROZEN_AT; the
        first random bytes of a test are the same every time."""
        assert FROZEN_AT <= utcnow() < FROZEN_AT + timedelta(minutes=1)
        await page.goto(f"{live_app.url}/healthz")
        shown = await page.evaluate("new Date().toISOString()")
        assert shown == FROZEN_AT.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert secrets.token_hex(4) == random.Random(SEED).randbytes(4).hex()

    @pytest.mark.real_clock
    async def test_a_test_can_keep_the_real_clock(self, page: Page, live_app: LiveApp) -> None:
        assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)
        assert abs(utcnow() - FROZEN_AT) > timedelta(days=1)
        await page.goto(f"{live_app.url}/healthz")
        shown = datetime.fromisoformat(await page.evaluate("new Date().toISOString()"))
        assert abs(shown - utcnow()) < timedelta(minutes=5)
