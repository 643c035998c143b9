"""Browser tests: the real app served over HTTP by uvicorn on this event loop, driven by
Debian's Chromium through Playwright (never a downloaded browser). Shopify's CDN is unreachable
here, so pages get local stand-ins for its scripts (see each suite's `cdn` routing).

On CI (CI=true) a missing Chromium fails the run; elsewhere these tests are skipped with the
reason. `.ci/run` installs Chromium (Debian's `chromium` package) when it is missing.

Every browser test sees the same world, so the README's images (`make screenshots`) come out
byte for byte the same on every run (`make screenshots-check` proves it): the clock starts at
FROZEN_AT for each test (every `datetime.now` and `time.time` in this process, and Chromium's
`Date`), "random" bytes come from a seeded generator, factory numbers restart at 1, and Chromium
draws text with fixed hinting, antialiasing and colour profile, in UTC and US English, with
reduced motion (no picture catches a transition midway).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from starlette.applications import Starlette

from loyalty.settings import Settings
from tests import factories
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
    # The same pixels on every run: no hinting or subpixel text, one colour profile, one scale.
    "--font-render-hinting=none",
    "--disable-font-subpixel-positioning",
    "--disable-lcd-text",
    "--force-color-profile=srgb",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
    # Every repainted tile is drawn whole: redrawing only the damaged part of a tile (a caret
    # blink, a list redrawn) left rounded corners a shade apart from one run to the next.
    "--disable-partial-raster",
]
# A Monday morning: long enough after midnight that the seconds a test takes never change the
# minute or the day any page shows.
FROZEN_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SEED = 20260302
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


@pytest.fixture(autouse=True)
def same_world_every_run(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The clock at FROZEN_AT (ticking, so waits and timeouts still pass), seeded `secrets`
    (ids, API keys: `token_hex` and `token_urlsafe` draw from `token_bytes`; discount codes
    from `choice`), and factory numbers from 1, whatever ran before this test. A test marked
    `real_clock` (one that talks to a process of its own, whose clock is not frozen) keeps the
    real time."""
    if request.node.get_closest_marker("real_clock"):
        yield
        return
    rng = random.Random(SEED)
    monkeypatch.setattr(
        secrets, "token_bytes", lambda n=None: rng.randbytes(32 if n is None else n)
    )
    monkeypatch.setattr(secrets, "choice", rng.choice)
    monkeypatch.setattr(factories, "_sequence", itertools.count(1))
    with time_machine.travel(FROZEN_AT, tick=True):
        yield


async def new_context(browser: Browser, *, frozen: bool = True, **options: Any) -> BrowserContext:
    """A browser context in UTC and US English (unless told otherwise) whose `Date` is pinned
    to FROZEN_AT (unless `frozen` is false); timers still run.

    It prefers reduced motion (unless told otherwise), which the widget's stylesheet and the
    Polaris stand-in honour: no transition or animation runs, so no picture catches one. A
    picture taken while one ran (a claim button's colour fading in as the widget enables it)
    had Chromium draw rounded corners a shade apart, depending on whether the transition had
    ended or Playwright ended it for the screenshot."""
    options = {"locale": "en-US", "timezone_id": "UTC", "reduced_motion": "reduce", **options}
    context = await browser.new_context(**options)
    if frozen:
        await context.clock.set_fixed_time(FROZEN_AT)
    return context


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
async def context(
    browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[BrowserContext]:
    frozen = request.node.get_closest_marker("real_clock") is None
    ctx = await new_context(browser, frozen=frozen, viewport={"width": 1280, "height": 900})
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    yield await context.new_page()


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


async def park_pointer(page: Page) -> None:
    """Moves the mouse to the window's top-left corner before a picture. After a click the
    pointer stays where it clicked; once the page scrolls or redraws under it, Chromium
    re-checks what it hovers on a timer of its own, so the button that slid under it was drawn
    in its hover colour in some runs and not in others (storefront-panel-375 differed by one
    button's shade between two runs of `make screenshots-check`). A real move settles it."""
    await page.mouse.move(0, 0)
