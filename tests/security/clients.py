"""An app of its own, for a test that needs other settings than the conftest's, and the
settings of tests that send hundreds of requests with one key."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from asgi_lifespan import LifespanManager

from loyalty.settings import Settings
from web.app import create_app


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app built from `settings`, its lifespan running."""
    app = create_app(settings, manage_db=False, job_defer=0)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="https://loyalty.test"
        ) as http,
    ):
        yield http


def without_rate_limits(settings: Settings) -> Settings:
    """`settings` with the rate limits out of the way: fuzzers share one key, one session and
    one client address, and send hundreds of forged credentials among the valid ones."""
    return settings.with_overrides(
        api_rate_limit=1e6,
        api_rate_burst=1_000_000,
        api_award_rate_limit=1e6,
        api_award_rate_burst=1_000_000,
        admin_api_rate_limit=1e6,
        admin_api_burst=1_000_000,
        auth_failure_limit=1e6,
        auth_failure_burst=1_000_000,
    )
