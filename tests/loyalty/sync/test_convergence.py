"""What a customer's syncs converge to: after any interleaving of runs, the value on Shopify and
on each platform is the database's, and a burst of changes is one write per platform.

The platforms are respx stand-ins that apply writes in the order they *finish*, as a real API
does; the runs are the production job functions, overlapped with asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import respx
import time_machine

from loyalty.jobs import JobName
from loyalty.models import Customer, Platform, Shop
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from tests.factories import create_customer, create_rule
from tests.loyalty.partners.fakes import FakeClock
from tests.loyalty.sync.conftest import deps_for
from tests.loyalty.sync.harness import (
    RecordingQueue,
    award,
    connected_shop,
    enable,
    graphql_url,
    pending,
    run_job,
)

KLAVIYO = "https://a.klaviyo.com"
OMNISEND = "https://api.omnisend.com/api"
POSTSCRIPT = "https://api.postscript.io"
SET_OK = {
    "data": {
        "metafieldsSet": {"metafields": [], "userErrors": []},
        "metafieldsDelete": {"deletedMetafields": [], "userErrors": []},
    }
}
PROFILE_JOBS = (
    JobName.SYNC_KLAVIYO_PROFILES,
    JobName.SYNC_OMNISEND_CONTACTS,
    JobName.SYNC_POSTSCRIPT_SUBSCRIBERS,
)


class SlowFirstWrite:
    """A stand-in whose first write is held until released: it arrives first and is applied
    last, the interleaving that used to leave an old value on the platform."""

    def __init__(self, value_of: Callable[[dict[str, Any]], str], answer: httpx.Response) -> None:
        self._value_of = value_of
        self._answer = answer
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.applied: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        value = self._value_of(json.loads(request.content))
        if not self.arrived.is_set():
            self.arrived.set()
            await self.release.wait()
        self.applied.append(value)
        return self._answer


def metafield_points(body: dict[str, Any]) -> str:
    [points] = [f["value"] for f in body["variables"]["metafields"] if f["key"] == "points"]
    return str(points)


def klaviyo_points(body: dict[str, Any]) -> str:
    return str(body["data"]["attributes"]["properties"]["Loyalty Points Balance"])


async def overlap(
    job: JobName, deps: JobDeps, shop: Shop, customer: Customer, stand_in: Any
) -> None:
    """Run 1 reads the customer and is held at the platform; meanwhile a second change commits
    and run 2 runs to the end; then run 1's write lands."""
    first = asyncio.create_task(run_job(job, deps, shop))
    await asyncio.wait_for(stand_in.arrived.wait(), timeout=10)
    await award(shop, await create_rule(shop, points=20), customer)
    await run_job(job, deps, shop)
    stand_in.release.set()
    await asyncio.wait_for(first, timeout=10)


class TestOverlappingRuns:
    async def test_shopify_ends_with_the_database_value_when_an_older_write_finishes_last(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Run 1 reads 10 points and is slow; run 2 overlaps it after a change to 30: the
        metafield Shopify ends with is 30, the balance in the database."""
        shop = await connected_shop(settings)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=10), customer)
        stand_in = SlowFirstWrite(metafield_points, httpx.Response(200, json=SET_OK))

        with respx.mock(assert_all_called=True) as mock:
            mock.post(graphql_url(shop)).mock(side_effect=stand_in)
            await overlap(JobName.SYNC_SHOPIFY_METAFIELDS, deps, shop, customer, stand_in)

        balance = (await Customer.get(id=customer.id)).points_balance
        assert balance == 30
        assert stand_in.applied[-1] == "30"
        assert await pending(JobName.SYNC_SHOPIFY_METAFIELDS, shop) == []

    async def test_klaviyo_ends_with_the_database_value_when_an_older_write_finishes_last(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=10), customer)
        stand_in = SlowFirstWrite(klaviyo_points, httpx.Response(200, json={"data": {}}))

        with respx.mock(assert_all_called=True) as mock:
            mock.post(f"{KLAVIYO}/api/profile-import").mock(side_effect=stand_in)
            events = mock.post(f"{KLAVIYO}/api/events").mock(return_value=httpx.Response(202))
            await overlap(JobName.SYNC_KLAVIYO_PROFILES, deps, shop, customer, stand_in)

        assert stand_in.applied[-1] == "30"
        assert events.call_count == 2  # each award's event once
        assert await pending(JobName.SYNC_KLAVIYO_PROFILES, shop) == []


def partner_routes(mock: respx.MockRouter, shop: Shop) -> dict[str, respx.Route]:
    lookup = {"page_info": {}, "subscribers": [{"id": "s_1", "properties": {}}]}
    return {
        "shopify": mock.post(graphql_url(shop)).mock(return_value=httpx.Response(200, json=SET_OK)),
        "klaviyo": mock.post(f"{KLAVIYO}/api/profile-import").mock(
            return_value=httpx.Response(200, json={"data": {}})
        ),
        "klaviyo events": mock.post(f"{KLAVIYO}/api/events").mock(return_value=httpx.Response(202)),
        "omnisend": mock.post(f"{OMNISEND}/contacts").mock(
            return_value=httpx.Response(200, json={"id": "1"})
        ),
        "omnisend events": mock.post(f"{OMNISEND}/events").mock(return_value=httpx.Response(202)),
        "postscript lookup": mock.get(f"{POSTSCRIPT}/api/v2/subscribers").mock(
            return_value=httpx.Response(200, json=lookup)
        ),
        "postscript": mock.patch(f"{POSTSCRIPT}/api/v2/subscribers/s_1").mock(
            return_value=httpx.Response(200, json={"id": "s_1"})
        ),
        "postscript events": mock.post(f"{POSTSCRIPT}/api/v2/events").mock(
            return_value=httpx.Response(202, json={"event_ids": ["1"]})
        ),
    }


def with_quiet_times(settings: Settings) -> Settings:
    return settings.with_overrides(
        metafield_sync_delay=1.0,
        metafield_sync_max_wait=10.0,
        marketing_sync_delay=5.0,
        marketing_sync_max_wait=30.0,
    )


@dataclass
class Stage:
    deps: JobDeps
    routes: dict[str, respx.Route]
    clock: time_machine.Coordinates  # the database's clock, moved by hand


@contextlib.asynccontextmanager
async def stage(settings: Settings, clock: FakeClock, shop: Shop) -> AsyncIterator[Stage]:
    """Job dependencies for `settings`, every platform's stand-in, and time that moves only
    when the test moves it."""
    async with httpx.AsyncClient() as http:
        with (
            respx.mock(assert_all_called=False) as mock,
            time_machine.travel(datetime.now(UTC), tick=False) as traveller,
        ):
            yield Stage(deps_for(settings, http, clock), partner_routes(mock, shop), traveller)


class TestOneWritePerBurst:
    async def test_a_burst_is_one_profile_write_per_platform_and_every_event_once(
        self, settings: Settings, clock: FakeClock
    ) -> None:
        """Four awards half a second apart, a run of every job after each (as the dispatcher
        queues them): nothing is written until the customer is quiet, then one metafieldsSet
        and one profile write per platform, with the final balance, and four events each."""
        settings = with_quiet_times(settings)
        shop = await connected_shop(settings)
        for platform in Platform:
            await enable(settings, shop, platform)
        customer = await create_customer(shop)
        rules = [await create_rule(shop, points=10) for _ in range(4)]
        jobs = (JobName.SYNC_SHOPIFY_METAFIELDS, *PROFILE_JOBS)

        async with stage(settings, clock, shop) as on:
            routes = on.routes
            for rule in rules:
                await award(shop, rule, customer)
                for job in jobs:
                    await run_job(job, on.deps, shop)
                on.clock.shift(timedelta(seconds=0.5))
            assert sum(route.call_count for route in routes.values()) == 0
            on.clock.shift(timedelta(seconds=5))
            for job in jobs:
                await run_job(job, on.deps, shop)

        writes = {name: routes[name].call_count for name in ("shopify", "klaviyo", "omnisend")}
        assert writes == {"shopify": 1, "klaviyo": 1, "omnisend": 1}
        assert routes["postscript"].call_count == 1
        for name in ("klaviyo events", "omnisend events", "postscript events"):
            assert routes[name].call_count == 4, name
        properties = json.loads(routes["klaviyo"].calls[0].request.content)["data"]["attributes"]
        assert properties["properties"]["Loyalty Points Balance"] == 40

    async def test_a_run_that_finds_the_customer_busy_queues_its_own_follow_up(
        self, settings: Settings, clock: FakeClock
    ) -> None:
        """A run right after a change writes nothing and queues the job again for the moment
        the customer will be quiet; that run writes."""
        settings = with_quiet_times(settings)
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        customer = await create_customer(shop)
        queue = RecordingQueue()

        async with stage(settings, clock, shop) as on:
            routes = on.routes
            await award(shop, await create_rule(shop, points=10), customer)
            on.clock.shift(timedelta(seconds=2))
            done = await run_job(JobName.SYNC_KLAVIYO_PROFILES, on.deps, shop, queue=queue)
            [follow_up] = queue.jobs
            assert done == 0 and routes["klaviyo"].call_count == 0
            assert follow_up.job == JobName.SYNC_KLAVIYO_PROFILES
            assert follow_up.kwargs == {"shop_id": shop.id}
            assert 2.9 <= follow_up.defer_seconds <= 3.1

            on.clock.shift(timedelta(seconds=follow_up.defer_seconds))
            again = RecordingQueue()
            done = await run_job(JobName.SYNC_KLAVIYO_PROFILES, on.deps, shop, queue=again)

        assert done == 1 and routes["klaviyo"].call_count == 1
        assert again.jobs == []  # nothing left: no further run

    async def test_a_customer_changing_all_the_time_is_written_after_the_max_wait(
        self, settings: Settings, clock: FakeClock
    ) -> None:
        """An award every second for twelve seconds, max wait ten: written once while the
        burst goes on (never starved), once more when it settles."""
        settings = with_quiet_times(settings).with_overrides(marketing_sync_max_wait=10.0)
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        customer = await create_customer(shop)

        async with stage(settings, clock, shop) as on:
            routes = on.routes
            for _ in range(12):
                await award(shop, await create_rule(shop, points=1), customer)
                await run_job(JobName.SYNC_KLAVIYO_PROFILES, on.deps, shop)
                on.clock.shift(timedelta(seconds=1))
            during = routes["klaviyo"].call_count
            on.clock.shift(timedelta(seconds=5))
            await run_job(JobName.SYNC_KLAVIYO_PROFILES, on.deps, shop)

        assert during == 1 and routes["klaviyo"].call_count == 2
        assert routes["klaviyo events"].call_count == 12
        last = json.loads(routes["klaviyo"].calls[-1].request.content)["data"]["attributes"]
        assert last["properties"]["Loyalty Points Balance"] == 12
