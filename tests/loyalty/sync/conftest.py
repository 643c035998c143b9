"""Fixtures for the sync tests: the worker's job dependencies on a controlled clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from loyalty.partners.pacing import MemoryPacer
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps, build_job_deps
from standins.shopify_admin import ShopifyAdmin
from tests.loyalty.partners.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shopify() -> ShopifyAdmin:
    """Shopify's Admin GraphQL for the shop, judged by Shopify's schema (a respx side effect)."""
    return ShopifyAdmin()


@pytest.fixture
async def deps(settings: Settings, clock: FakeClock) -> AsyncIterator[JobDeps]:
    """The worker's dependencies, with pacing and retry sleeps on the fake clock, and no quiet
    time: a job run right after a change writes it (tests of the quiet time set their own)."""
    async with httpx.AsyncClient() as http:
        no_quiet_time = settings.with_overrides(marketing_sync_delay=0, marketing_sync_max_wait=0)
        yield deps_for(no_quiet_time, http, clock)


def deps_for(settings: Settings, http: httpx.AsyncClient, clock: FakeClock) -> JobDeps:
    built = build_job_deps(settings, http, pacer=MemoryPacer(clock=clock.monotonic))
    if built.admin is not None:
        built.admin._sleep = clock.sleep
    return JobDeps(
        settings=settings, http=http, admin=built.admin, pacer=built.pacer, sleep=clock.sleep
    )
