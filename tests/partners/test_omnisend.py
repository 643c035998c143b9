"""The Omnisend client (dated API 2026-03-15) against respx, with the request shapes of
shared/reference/marketing-apis.md §2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from loyalty.models import Platform
from loyalty.partners.omnisend import OmnisendClient, event_id
from loyalty.partners.transport import (
    PartnerAuthError,
    PartnerRejectedError,
    PartnerThrottledError,
    PartnerUnavailableError,
)
from tests.partners.fakes import KEYS, FakeClock, client_for

CONTACTS = "https://api.omnisend.com/api/contacts"
EVENTS = "https://api.omnisend.com/api/events"
HEADERS = {
    "Authorization": f"Omnisend-API-Key {KEYS[Platform.OMNISEND]}",
    "Omnisend-Version": "2026-03-15",
    "Content-Type": "application/json",
}
PROPERTIES = {"loyalty_points_balance": 1250, "loyalty_vip_tier": "Gold"}
CONTACT = {
    "identifiers": [{"type": "email", "id": "jane@example.com", "sendWelcomeMessage": False}],
    "customProperties": PROPERTIES,
}
RATE_LIMITED = {
    "type": "https://problems.omnisend.com/rate-limit-exceeded",
    "title": "Too Many Requests",
    "status": 429,
    "retryAfter": 3,
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def omnisend(clock: FakeClock) -> AsyncIterator[OmnisendClient]:
    async with httpx.AsyncClient() as http:
        client = client_for(Platform.OMNISEND, http, clock)
        assert isinstance(client, OmnisendClient)
        yield client


class TestUpsertContact:
    async def test_upserts_by_email_without_a_welcome_message_or_consent(
        self, omnisend: OmnisendClient
    ) -> None:
        """POST /contacts: email identifier, sendWelcomeMessage false, no channels."""
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(CONTACTS, headers=HEADERS, json=CONTACT).respond(
                201, json={"id": "60a6170920d91c215e949b5c", "email": "jane@example.com"}
            )
            await omnisend.upsert_contact(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 1

    async def test_validation_problems_are_refused_with_their_fields(
        self, omnisend: OmnisendClient
    ) -> None:
        """400 ValidationProblem: refused once, with field and message in the detail."""
        problem = {
            "type": "about:blank",
            "title": "Validation failed",
            "status": 400,
            "errors": [{"code": "invalid", "field": "identifiers[0].id", "message": "bad email"}],
        }
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(CONTACTS).respond(400, json=problem)
            with pytest.raises(PartnerRejectedError, match=r"identifiers\[0\].id: bad email"):
                await omnisend.upsert_contact(email="x", properties=PROPERTIES)
        assert route.call_count == 1

    async def test_a_refused_key_is_an_auth_error(self, omnisend: OmnisendClient) -> None:
        """401 Problem: PartnerAuthError, one call."""
        with respx.mock(assert_all_called=True) as mock:
            mock.post(CONTACTS).respond(
                401, json={"title": "Unauthorized", "status": 401, "detail": "Invalid API key"}
            )
            with pytest.raises(PartnerAuthError, match="Invalid API key"):
                await omnisend.upsert_contact(email="jane@example.com", properties=PROPERTIES)


class TestSendEvent:
    async def test_posts_the_event_with_a_stable_event_id(self, omnisend: OmnisendClient) -> None:
        """POST /events with eventName, origin, eventID (UUID from the key), eventTime."""
        key = "loyalty:points_earned:cer_1"
        body = {
            "eventName": "loyalty points earned",
            "origin": "api",
            "eventID": event_id(key),
            "eventTime": "2026-11-25T10:00:00Z",
            "contact": {"email": "jane@example.com"},
            "properties": {"points": 50},
        }
        with respx.mock(assert_all_called=True) as mock:
            mock.post(EVENTS, headers=HEADERS, json=body).respond(202)
            await omnisend.send_event(
                email="jane@example.com",
                name="loyalty points earned",
                key=key,
                time=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
                properties={"points": 50},
            )
        assert event_id(key) == event_id(key) != event_id(key + "x")
        assert event_id(key)[14] == "5"  # a version-5 UUID, within Omnisend's v4–v7


class TestFaults:
    async def test_429_honours_retry_after_in_the_problem_body(
        self, omnisend: OmnisendClient, clock: FakeClock
    ) -> None:
        """retryAfter: 3 in problem+json → wait 3 s, retry, succeed."""
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(CONTACTS).mock(
                side_effect=[
                    httpx.Response(429, json=RATE_LIMITED),
                    httpx.Response(200, json={"id": "c1"}),
                ]
            )
            await omnisend.upsert_contact(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 2
        assert 3.0 in clock.sleeps

    async def test_a_minute_long_retry_after_hands_the_work_back(
        self, omnisend: OmnisendClient, clock: FakeClock
    ) -> None:
        """retryAfter: 60 (the brand's minute is spent): raised at once, nothing slept."""
        with respx.mock(assert_all_called=True) as mock:
            mock.post(EVENTS).respond(429, json={**RATE_LIMITED, "retryAfter": 60})
            with pytest.raises(PartnerThrottledError) as caught:
                await omnisend.send_event(
                    email="a@b.co",
                    name="n",
                    key="k",
                    time=datetime(2026, 1, 1, tzinfo=UTC),
                    properties={},
                )
        assert caught.value.after == 60.0
        assert clock.sleeps == []

    async def test_500s_then_unavailable(self, omnisend: OmnisendClient) -> None:
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(CONTACTS).respond(500, json={"title": "Internal", "status": 500})
            with pytest.raises(PartnerUnavailableError):
                await omnisend.upsert_contact(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 4

    async def test_connection_check_lists_one_contact(self, omnisend: OmnisendClient) -> None:
        with respx.mock(assert_all_called=True) as mock:
            mock.get(CONTACTS, params={"limit": "1"}, headers=HEADERS).respond(
                200, json={"contacts": [], "paging": {}}
            )
            await omnisend.check_connection()
