"""Giving up is a decision in time, not in attempts: a platform refusing work for hours gets it
once it recovers; `attempts` counts real calls that failed (not claims, holds or hand-backs);
work still failing once OUTBOX_RETRY_WINDOW has passed is dead-lettered, visibly, and comes
back when the merchant retries it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
import time_machine

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import OutboxIntent, Platform
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from tests.factories import create_customer, create_rule
from tests.loyalty.partners.fakes import FakeClock
from tests.loyalty.sync.harness import (
    THROTTLED,
    award,
    connected_shop,
    enable,
    pending,
    ride,
    run_job,
)

KLAVIYO = "https://a.klaviyo.com"


class TestATwelveHourThrottle:
    async def test_work_refused_for_twelve_hours_is_delivered_when_the_platform_recovers(
        self, settings: Settings, deps: JobDeps, clock: FakeClock
    ) -> None:
        """Klaviyo answers 429 (Retry-After 60) for twelve hours, then accepts: the profile
        and the event arrive after the twelve hours, nothing was given up, and `attempts`
        equals the calls Klaviyo refused (each with growing, capped backoff)."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=10), customer)
        start = datetime.now(UTC)

        with (
            respx.mock(assert_all_called=True) as mock,
            time_machine.travel(start, tick=False) as traveller,
        ):
            profiles = mock.post(f"{KLAVIYO}/api/profile-import").mock(return_value=THROTTLED)
            events = mock.post(f"{KLAVIYO}/api/events").mock(return_value=httpx.Response(202))
            job = JobName.SYNC_KLAVIYO_PROFILES
            await ride(job, deps, shop, clock, traveller, until=start + timedelta(hours=12))
            refused = profiles.call_count
            [held] = await pending(JobName.SYNC_KLAVIYO_PROFILES, shop)
            assert held.attempts == refused
            assert held.dead_at is None and held.completed_at is None

            profiles.mock(return_value=httpx.Response(200, json={"data": {}}))
            await ride(job, deps, shop, clock, traveller, until=start + timedelta(hours=14))

        assert 8 <= refused <= 40  # backoff grows with real attempts, capped at an hour
        assert profiles.call_count == refused + 1 and events.call_count == 1
        intent = await OutboxIntent.get(id=held.id)
        assert intent.completed_at is not None and intent.outcome == "delivered"
        assert intent.attempts == refused and intent.dead_at is None

    async def test_a_hold_without_a_call_is_not_an_attempt(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Two customers: Klaviyo refuses the first call; the second customer's work is held
        with it but never reached Klaviyo, so its attempts stay 0."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        rule = await create_rule(shop, points=10)
        first, second = await create_customer(shop), await create_customer(shop)
        await award(shop, rule, first)
        await award(shop, rule, second)

        with respx.mock(assert_all_called=True) as mock:
            profiles = mock.post(f"{KLAVIYO}/api/profile-import").mock(return_value=THROTTLED)
            await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)

        assert profiles.call_count == 1
        held = {i.customer_id: i for i in await pending(JobName.SYNC_KLAVIYO_PROFILES, shop)}
        assert held[first.id].attempts == 1 and held[second.id].attempts == 0
        assert all(i.claimed_until and i.claimed_until > utcnow() for i in held.values())


class TestDeadLetters:
    async def test_work_still_failing_after_the_window_is_dead_lettered_then_retried(
        self, settings: Settings, deps: JobDeps, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Klaviyo refuses for longer than the 48-hour window: still pending just before it
        ends, dead-lettered (completed, `dead_at`, a WARNING naming the shop, job, customer
        and intent) at the first failure after it; `retry_dead_letters` sends it again."""

        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=10), customer)
        start = datetime.now(UTC)
        window = timedelta(seconds=settings.outbox_retry_window)
        assert window == timedelta(hours=48)

        with (
            respx.mock(assert_all_called=True) as mock,
            time_machine.travel(start, tick=False) as traveller,
            caplog.at_level(logging.WARNING),
        ):
            profiles = mock.post(f"{KLAVIYO}/api/profile-import").mock(return_value=THROTTLED)
            events = mock.post(f"{KLAVIYO}/api/events").mock(return_value=httpx.Response(202))
            job = JobName.SYNC_KLAVIYO_PROFILES
            await ride(job, deps, shop, clock, traveller, until=start + window - timedelta(hours=1))
            [still] = await pending(job, shop)
            assert not any("dead-letter" in r.message for r in caplog.records)

            await ride(job, deps, shop, clock, traveller, until=start + window + timedelta(hours=2))
            assert await pending(job, shop) == []
            dead = await OutboxIntent.get(id=still.id)
            assert dead.outcome == "dead" and dead.dead_at is not None
            assert dead.completed_at is not None and dead.dead_at >= start + window
            assert dead.last_error and "429" in dead.last_error
            [line] = [r for r in caplog.records if "dead-letter" in r.message]
            assert line.levelno == logging.WARNING
            for name in (shop.domain, str(job), str(customer.id), str(dead.id)):
                assert name in line.getMessage()

            profiles.mock(return_value=httpx.Response(200, json={"data": {}}))
            from loyalty.outbox.dead_letters import retry_dead_letters

            assert await retry_dead_letters(shop_id=shop.id) == 1
            assert await retry_dead_letters(shop_id=shop.id) == 0
            await run_job(job, deps, shop)

        revived = await OutboxIntent.get(id=still.id)
        assert revived.outcome == "delivered" and revived.dead_at is None
        assert revived.attempts == 0 and revived.retry_from is not None
        assert events.call_count == 1
