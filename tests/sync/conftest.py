"""Fixtures for the sync tests: the worker's job dependencies on a controlled clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from loyalty.ratelimit import MemoryPacer
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps, build_job_deps
from standins.shopify_admin import ShopifyAdmin
from tests.partners.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shopify() -> ShopifyAdmin:
    """Shopify's Admin GraphQL for the shop, judged by Shopify's schema (a respx side effect)."""
    return ShopifyAdmin()


@pytest.fixture
async def deps(settings: Settings, clock: FakeClock) -> AsyncIterator[JobDeps]:
    """The worker's dependencies, with pacing and retry sleeps on the fake clock."""
    async with httpx.AsyncClient() as http:
        built = build_job_deps(settings, http, pacer=MemoryPacer(clock=clock.monotonic))
        if built.admin is not None:
            built.admin._sleep = clock.sleep
        yield JobDeps(
            settings=settings, http=http, admin=built.admin, pacer=built.pacer, sleep=clock.sleep
        )
