"""A failing integration is logged by its state changes, not by its retries: one WARNING with
the reason when Shopify or a platform starts failing, however many retries follow, one INFO
when it recovers, and a WARNING again if it fails again (loyalty.outages.INTEGRATIONS); while
Shopify fails, the admin's Shopify card has the held work to show (loyalty.outbox.retrying)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
import time_machine

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import Platform
from loyalty.outages import INTEGRATIONS, SHOPIFY
from loyalty.outbox.dead_letters import SOURCES
from loyalty.outbox.retrying import retrying
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from standins.shopify_admin import ShopifyAdmin
from tests.factories import create_customer, create_rule
from tests.loyalty.partners.fakes import FakeClock
from tests.loyalty.sync.harness import (
    THROTTLED,
    award,
    connected_shop,
    enable,
    graphql_url,
    pending,
    ride,
)

KLAVIYO = "https://a.klaviyo.com"
FAILING = timedelta(minutes=10)  # retried every minute or so, with growing backoff
RECOVERED = timedelta(hours=2)  # past the longest hold the failures built up


def health_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    """INTEGRATIONS' lines at INFO or above (a retry while failing is only a DEBUG line)."""
    return [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name == "loyalty.integrations" and r.levelno >= logging.INFO
    ]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every WARNING or worse, from any logger: a retry must add none."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


class TestAPlatform:
    async def test_klaviyo_failing_for_many_retries_is_one_warning_then_one_info(
        self,
        settings: Settings,
        deps: JobDeps,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=10), customer)
        job = JobName.SYNC_KLAVIYO_PROFILES

        with (
            respx.mock(assert_all_called=True) as mock,
            time_machine.travel(datetime.now(UTC), tick=False) as traveller,
            caplog.at_level(logging.DEBUG),
        ):
            profiles = mock.post(f"{KLAVIYO}/api/profile-import").mock(return_value=THROTTLED)
            mock.post(f"{KLAVIYO}/api/events").mock(return_value=httpx.Response(202))
            await ride(job, deps, shop, clock, traveller, until=utcnow() + FAILING)
            refused = profiles.call_count
            assert refused >= 4  # real calls, each refused (other runs waited out the pacer)
            failing = warnings(caplog)
            assert len(failing) == 1, failing
            [(level, line)] = health_lines(caplog)
            assert level == logging.WARNING and line == failing[0]
            assert line.startswith(f"Klaviyo for shop {shop.domain} is failing: ") and "429" in line
            assert INTEGRATIONS.is_failing(shop.domain, "Klaviyo")

            caplog.clear()
            profiles.mock(return_value=httpx.Response(200, json={"data": {}}))
            await ride(job, deps, shop, clock, traveller, until=utcnow() + RECOVERED)
            assert profiles.call_count == refused + 1
            assert warnings(caplog) == []
            [(level, recovered)] = health_lines(caplog)
            assert level == logging.INFO
            assert recovered.startswith(f"Klaviyo for shop {shop.domain} recovered after ")

            caplog.clear()
            profiles.mock(return_value=THROTTLED)
            await award(shop, await create_rule(shop, name="Review", points=5), customer)
            await ride(job, deps, shop, clock, traveller, until=utcnow() + FAILING)
            [again] = warnings(caplog)  # failing again is a new state: a new WARNING
            assert again.startswith(f"Klaviyo for shop {shop.domain} is failing: ")


class TestShopify:
    async def test_shopify_down_for_many_retries_is_one_warning_then_one_info(
        self,
        settings: Settings,
        deps: JobDeps,
        shopify: ShopifyAdmin,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        shop = await connected_shop(settings)
        await award(shop, await create_rule(shop), await create_customer(shop))
        job = JobName.SYNC_SHOPIFY_METAFIELDS

        with (
            respx.mock(assert_all_called=True) as mock,
            time_machine.travel(datetime.now(UTC), tick=False) as traveller,
            caplog.at_level(logging.DEBUG),
        ):
            graphql = mock.post(graphql_url(shop)).mock(return_value=httpx.Response(503))
            await ride(job, deps, shop, clock, traveller, until=utcnow() + FAILING)
            [failing] = warnings(caplog)
            assert failing.startswith(f"Shopify for shop {shop.domain} is failing: ")
            assert len(health_lines(caplog)) == 1
            holds = [r for r in caplog.records if "held for" in r.getMessage()]
            assert len(holds) >= 4  # held, retried and held again, each an INFO line only
            assert {r.levelno for r in holds} == {logging.INFO}
            shown = await retrying(shop_id=shop.id, jobs=SOURCES["shopify"])  # the admin's card
            assert shown.count == 1 and "503" in (shown.error or "")
            assert shown.retry_at is not None  # the hold the last run set

            caplog.clear()
            graphql.mock(side_effect=shopify)
            await ride(job, deps, shop, clock, traveller, until=utcnow() + RECOVERED)
            assert await pending(job, shop) == []
            assert (await retrying(shop_id=shop.id, jobs=SOURCES["shopify"])).count == 0
            assert warnings(caplog) == []
            [(level, recovered)] = health_lines(caplog)
            assert level == logging.INFO and recovered.startswith(f"{SHOPIFY} for shop ")
