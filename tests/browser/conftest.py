"""Browser tests: the real app served over HTTP by uvicorn on this event loop, driven by
Debian's Chromium through Playwright (never a downloaded browser). Shopify's CDN is unreachable
here, so pages get local stand-ins for its scripts (see each suite's `cdn` routing).

On CI (CI=true) a missing Chromium fails the run; elsewhere these tests are skipped with the
reason. `.ci/run` installs Chromium (Debian's `chromium` package) when it is missing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from starlette.applications import Starlette

from loyalty.settings import Settings
from tests.conftest import ON_CI
from web.app import create_app

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
# The README's images are refreshed only on purpose (`make screenshots` sets SCREENSHOTS_DIR to
# docs/screenshots); an ordinary run writes them to a temporary folder and leaves the tree clean.
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "loyalty-screenshots"
)


def require_chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if path:
        return path
    if ON_CI:
        pytest.fail("Chromium is required when CI=true (apt-get install chromium)")
    pytest.skip("Chromium is not installed (required on CI; .ci/run installs it)")


@dataclass
class LiveApp:
    url: str  # http://127.0.0.1:<port>
    app: Starlette
    settings: Settings


@pytest.fixture
def live_port() -> int:
    """The port the live app listens on: any free one (0), unless a test must know it before
    the app starts (the local demo's settings name its own address)."""
    return 0


@pytest.fixture
async def live_app(settings: Settings, live_port: int) -> AsyncIterator[LiveApp]:
    """The app on a real port, in this event loop and on the test's database."""
    app = create_app(settings, manage_db=False, job_defer=0)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=live_port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # surfaces a startup error
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveApp(url=f"http://127.0.0.1:{port}", app=app, settings=settings)
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    yield await context.new_page()


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
