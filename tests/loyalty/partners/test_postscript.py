"""The Postscript client against respx routes that judge every request by Postscript's OpenAPI
definition (standins.partners, tests/contract/vendor/postscript-partner-api-v2.json): look
subscribers up, patch properties, send events to /api/v2/events, and never create a subscriber
(respx fails any request not mocked here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from loyalty.models import Platform
from loyalty.partners.postscript import PostscriptClient
from loyalty.partners.transport import PartnerRejectedError, PartnerThrottledError
from standins.partners import partner_mock
from tests.loyalty.partners.fakes import KEYS, FakeClock, client_for

# GET: https://developers.postscript.io/reference/get-subscribers
# PATCH /{id}: https://developers.postscript.io/reference/update-subscriber-by-id
SUBSCRIBERS = "https://api.postscript.io/api/v2/subscribers"
# https://developers.postscript.io/reference/create-custom-event
EVENTS = "https://api.postscript.io/api/v2/events"
# https://developers.postscript.io/reference/verify-identity
ME = "https://api.postscript.io/api/v2/me"
HEADERS = {"Authorization": f"Bearer {KEYS[Platform.POSTSCRIPT]}"}
FOUND = {
    "page_info": {"page": 1, "total_pages": 1},
    "subscribers": [{"id": "s_abc", "email": "jane@example.com", "properties": {}}],
}
NONE = {"page_info": {"page": 1, "total_pages": 0}, "subscribers": []}
# 429 body: second-hand (shared/reference/marketing-apis.md §3.5); the shape is the one Postscript
# documents for its other errors ({error_code, error_message, success}, e.g. get-keyword's 404).
RATE_LIMITED = {"error_code": 3002, "error_message": "Rate limit exceeded", "success": False}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def postscript(clock: FakeClock) -> AsyncIterator[PostscriptClient]:
    async with httpx.AsyncClient() as http:
        client = client_for(Platform.POSTSCRIPT, http, clock)
        assert isinstance(client, PostscriptClient)
        yield client


class TestFindSubscriber:
    async def test_by_shopify_customer_id_first(self, postscript: PostscriptClient) -> None:
        """One lookup when the Shopify id matches."""
        with partner_mock() as mock:
            mock.get(
                SUBSCRIBERS, params={"shopify_customer_id__eq": "7343536570439"}, headers=HEADERS
            ).respond(200, json=FOUND)
            found = await postscript.find_subscriber(
                shopify_customer_id=7343536570439, email="jane@example.com"
            )
        assert found == "s_abc"

    async def test_then_by_email(self, postscript: PostscriptClient) -> None:
        """No match by Shopify id: the email lookup finds them."""
        with partner_mock() as mock:
            mock.get(SUBSCRIBERS, params={"shopify_customer_id__eq": "1"}).respond(200, json=NONE)
            mock.get(SUBSCRIBERS, params={"email__eq": "jane@example.com"}).respond(200, json=FOUND)
            found = await postscript.find_subscriber(
                shopify_customer_id=1, email="jane@example.com"
            )
        assert found == "s_abc"

    async def test_not_a_subscriber_is_none_and_nothing_is_created(
        self, postscript: PostscriptClient
    ) -> None:
        """Neither lookup matches: None, and no POST /subscribers (an SMS opt-in) is made."""
        with partner_mock() as mock:
            mock.get(SUBSCRIBERS, params={"shopify_customer_id__eq": "1"}).respond(200, json=NONE)
            mock.get(SUBSCRIBERS, params={"email__eq": "jane@example.com"}).respond(200, json=NONE)
            found = await postscript.find_subscriber(
                shopify_customer_id=1, email="jane@example.com"
            )
            assert found is None
            assert not any(call.request.method == "POST" for call in mock.calls)


class TestWrites:
    async def test_patches_the_subscribers_properties(self, postscript: PostscriptClient) -> None:
        with partner_mock() as mock:
            mock.patch(
                f"{SUBSCRIBERS}/s_abc",
                headers=HEADERS,
                json={"properties": {"loyalty_points_balance": 120}},
            ).respond(200, json={"id": "s_abc"})
            await postscript.update_properties(
                subscriber_id="s_abc", properties={"loyalty_points_balance": 120}
            )

    async def test_sends_events_to_v2_events_with_an_external_id(
        self, postscript: PostscriptClient
    ) -> None:
        """POST /api/v2/events (not /custom-events): type, subscriber, occurred_at, external_id."""
        body = {
            "type": "LoyaltyPointsEarned",
            "subscriber_id": "s_abc",
            "email": "jane@example.com",
            "occurred_at": "2026-11-25 10:00:00.000000",
            "properties": {"points": 50},
            "external_id": "loyalty:points_earned:cer_1",
        }
        with partner_mock() as mock:
            mock.post(EVENTS, headers=HEADERS, json=body).respond(
                202, json={"event_ids": ["1234-abcd-5678"]}
            )
            await postscript.send_event(
                type="LoyaltyPointsEarned",
                subscriber_id="s_abc",
                email="jane@example.com",
                time=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
                properties={"points": 50},
                external_id="loyalty:points_earned:cer_1",
            )

    async def test_an_unknown_subscriber_is_refused(self, postscript: PostscriptClient) -> None:
        with partner_mock() as mock:
            mock.patch(f"{SUBSCRIBERS}/s_gone").respond(404, text="Not found")
            with pytest.raises(PartnerRejectedError, match="404"):
                await postscript.update_properties(subscriber_id="s_gone", properties={})


class TestFaults:
    async def test_429_backs_off_with_jitter(
        self, postscript: PostscriptClient, clock: FakeClock
    ) -> None:
        """No Retry-After from Postscript: jittered backoff (0.25–0.75 s first), then success."""
        with partner_mock() as mock:
            route = mock.post(EVENTS).mock(
                side_effect=[
                    httpx.Response(429, json=RATE_LIMITED),
                    httpx.Response(429, json=RATE_LIMITED),
                    httpx.Response(202, json={"event_ids": ["x"]}),
                ]
            )
            await postscript.send_event(
                type="T",
                subscriber_id="s",
                email=None,
                time=datetime(2026, 1, 1, tzinfo=UTC),
                properties={},
                external_id="e",
            )
        assert route.call_count == 3
        assert 0.25 <= clock.sleeps[0] <= 0.75 and 0.5 <= clock.sleeps[1] <= 1.5

    async def test_a_429_storm_is_handed_back(self, postscript: PostscriptClient) -> None:
        with partner_mock() as mock:
            route = mock.get(SUBSCRIBERS).respond(429, json=RATE_LIMITED)
            with pytest.raises(PartnerThrottledError):
                await postscript.find_subscriber(shopify_customer_id=1, email=None)
        assert route.call_count == 4

    async def test_connection_check_asks_who_the_key_is(self, postscript: PostscriptClient) -> None:
        with partner_mock() as mock:
            mock.get(ME, headers=HEADERS).respond(
                200,
                json={
                    "resource_id": "shop_1234567abcde",
                    "resource_name": "Postscript",
                    "resource_type": "shop",
                },
            )
            await postscript.check_connection()
