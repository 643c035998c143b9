"""At most one copy per event: an event a platform accepted is never sent again, and an event
whose answer was lost is re-sent only where the platform documents dedupe by our id (Klaviyo's
`unique_id`). Elsewhere (Postscript, Omnisend for live events) it is recorded as unconfirmed,
logged, and re-sent only when the merchant asks.

The stand-ins process each request before the answer is lost: respx side effects that record
the body, then raise the timeout httpx raises when an answer never comes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
import time_machine

from loyalty.jobs import JobName
from loyalty.models import OutboxIntent, Platform, Shop
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from tests.factories import create_customer, create_rule, create_tier
from tests.loyalty.sync.harness import award, connected_shop, enable, pending, run_job

KLAVIYO = "https://a.klaviyo.com"
OMNISEND = "https://api.omnisend.com/api"
POSTSCRIPT = "https://api.postscript.io"
SUBSCRIBER = {"page_info": {}, "subscribers": [{"id": "s_1", "properties": {}}]}


class LostAnswers:
    """Records every event the stand-in processed; the answers to the first `lose` are lost."""

    def __init__(self, key_of: Callable[[dict[str, Any]], str], *, lose: int, ok: int) -> None:
        self._key_of = key_of
        self._lose = lose
        self._ok = ok
        self.processed: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.processed.append(self._key_of(json.loads(request.content)))
        if len(self.processed) <= self._lose:
            raise httpx.ReadTimeout("the answer never came", request=request)
        return httpx.Response(self._ok, json={})


def postscript_routes(mock: respx.MockRouter, events: Any) -> respx.Route:
    mock.get(f"{POSTSCRIPT}/api/v2/subscribers").mock(
        return_value=httpx.Response(200, json=SUBSCRIBER)
    )
    mock.patch(f"{POSTSCRIPT}/api/v2/subscribers/s_1").mock(
        return_value=httpx.Response(200, json={"id": "s_1"})
    )
    return mock.post(f"{POSTSCRIPT}/api/v2/events").mock(side_effect=events)


async def run_until_settled(job: JobName, deps: JobDeps, shop: Shop, *, runs: int = 4) -> None:
    """Run the job, then again each time whatever it held back is due (up to `runs` times)."""
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        for _ in range(runs):
            await run_job(job, deps, shop)
            traveller.shift(timedelta(hours=2))


class TestLostAnswer:
    async def test_a_postscript_event_whose_answer_is_lost_is_never_sent_again(
        self, settings: Settings, deps: JobDeps, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Postscript processed the event, the answer was lost: one copy, ever. The event is
        recorded unconfirmed with a WARNING; the intent still completes (profile written)."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.POSTSCRIPT)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=10), customer)
        stand_in = LostAnswers(lambda body: body["external_id"], lose=100, ok=202)

        with respx.mock(assert_all_called=True) as mock, caplog.at_level(logging.WARNING):
            postscript_routes(mock, stand_in)
            await run_until_settled(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, deps, shop)

        assert len(stand_in.processed) == 1
        from loyalty.models import DeliveryStatus, EventDelivery

        [delivery] = await EventDelivery.filter(shop_id=shop.id)
        assert delivery.status == DeliveryStatus.UNCONFIRMED
        assert delivery.event_key == stand_in.processed[0]
        assert any(
            "unconfirmed" in r.message and stand_in.processed[0] in r.message
            for r in caplog.records
            if r.levelno == logging.WARNING
        )
        assert await pending(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, shop) == []

    async def test_an_omnisend_event_whose_answer_is_lost_is_never_sent_again(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Omnisend documents eventID dedupe for historical events only, not live ones."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.OMNISEND)
        await award(shop, await create_rule(shop, points=10), await create_customer(shop))
        stand_in = LostAnswers(lambda body: body["eventID"], lose=100, ok=202)

        with respx.mock(assert_all_called=True) as mock:
            mock.post(f"{OMNISEND}/contacts").mock(
                return_value=httpx.Response(200, json={"id": "1"})
            )
            mock.post(f"{OMNISEND}/events").mock(side_effect=stand_in)
            await run_until_settled(JobName.SYNC_OMNISEND_CONTACTS, deps, shop)

        assert len(stand_in.processed) == 1
        assert await pending(JobName.SYNC_OMNISEND_CONTACTS, shop) == []

    async def test_a_klaviyo_event_may_be_resent_with_the_same_unique_id(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Klaviyo keeps one event per `unique_id`, so a lost answer is retried, same id."""
        from loyalty.models import DeliveryStatus, EventDelivery

        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        await award(shop, await create_rule(shop, points=10), await create_customer(shop))
        stand_in = LostAnswers(lambda body: body["data"]["attributes"]["unique_id"], lose=1, ok=202)

        with respx.mock(assert_all_called=True) as mock:
            mock.post(f"{KLAVIYO}/api/profile-import").mock(
                return_value=httpx.Response(200, json={"data": {}})
            )
            mock.post(f"{KLAVIYO}/api/events").mock(side_effect=stand_in)
            await run_until_settled(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)

        assert len(stand_in.processed) == 2 and len(set(stand_in.processed)) == 1
        [delivery] = await EventDelivery.filter(shop_id=shop.id)
        assert delivery.status == DeliveryStatus.ACCEPTED

    async def test_the_merchant_can_send_an_unconfirmed_event_again(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """`resend_unconfirmed`: the event goes out once more, and only that event."""
        from loyalty.models import DeliveryStatus, EventDelivery
        from loyalty.outbox.deliveries import resend_unconfirmed

        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.POSTSCRIPT)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=10), customer)
        await award(shop, await create_rule(shop, points=10), customer)
        stand_in = LostAnswers(lambda body: body["external_id"], lose=1, ok=202)

        with respx.mock(assert_all_called=True) as mock:
            postscript_routes(mock, stand_in)
            await run_until_settled(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, deps, shop)
            assert len(stand_in.processed) == 2
            assert await resend_unconfirmed(shop_id=shop.id) == 1
            await run_until_settled(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, deps, shop)

        first, second, again = stand_in.processed
        assert again == first and second != first
        statuses = await EventDelivery.filter(shop_id=shop.id).values_list("status", flat=True)
        assert set(statuses) == {DeliveryStatus.ACCEPTED}


class TestAcceptedNeverResent:
    async def test_an_accepted_event_is_not_sent_again_when_a_later_one_of_its_intent_fails(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """One award, two events (points earned, tier reached). Postscript accepts the first
        and fails the second until the retry: the first is sent once, the second twice."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.POSTSCRIPT)
        await create_tier(shop, name="Gold", points_required=10, points_multiplier=Decimal("1"))
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=10), customer)
        sent: list[str] = []
        failing = True

        def events(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            sent.append(body["type"])
            if body["type"] == "LoyaltyVIPTierChanged" and failing:
                return httpx.Response(500, json={})
            return httpx.Response(202, json={})

        with respx.mock(assert_all_called=True) as mock:
            postscript_routes(mock, events)
            await run_job(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, deps, shop)
            [held] = await pending(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, shop)
            assert held.attempts == 1
            failing = False
            await run_until_settled(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, deps, shop)

        assert sent.count("LoyaltyPointsEarned") == 1
        assert sent.count("LoyaltyVIPTierChanged") >= 2 and sent[-1] == "LoyaltyVIPTierChanged"
        intent = await OutboxIntent.get(id=held.id)
        assert intent.completed_at is not None
