"""The harness itself: a real page, from the real server, in real Chromium."""

from __future__ import annotations

from playwright.async_api import Page

from tests.browser.conftest import LiveApp


class TestHarness:
    async def test_chromium_loads_a_page_from_the_live_app(
        self, page: Page, live_app: LiveApp
    ) -> None:
        """Chromium fetches /healthz from the uvicorn server running on this loop."""
        response = await page.goto(f"{live_app.url}/healthz")
        assert response is not None and response.status == 200
        assert "ok" in await page.content()
