"""The Omnisend client (dated API 2026-03-15) against respx routes that judge every request by
Omnisend's OpenAPI definition (standins.partners, tests/contract/vendor/omnisend-*.json; a
request it refuses gets Omnisend's 400 ValidationProblem)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from loyalty.models import Platform
from loyalty.partners.omnisend import OmnisendClient, event_id
from loyalty.partners.transport import (
    PartnerAuthError,
    PartnerRejectedError,
    PartnerThrottledError,
    PartnerUnavailableError,
)
from standins.partners import partner_mock
from tests.loyalty.partners.fakes import KEYS, FakeClock, client_for

# https://api-docs.omnisend.com/reference/post_contacts (GET: /reference/get_contacts)
CONTACTS = "https://api.omnisend.com/api/contacts"
# https://api-docs.omnisend.com/reference/post_events
EVENTS = "https://api.omnisend.com/api/events"
# Errors, 429 retryAfter: https://api-docs.omnisend.com/v2026-03-15/reference/rate-limit-timeouts-errors
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
        with partner_mock() as mock:
            route = mock.post(CONTACTS, headers=HEADERS, json=CONTACT).respond(
                201, json={"id": "60a6170920d91c215e949b5c", "email": "jane@example.com"}
            )
            await omnisend.upsert_contact(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 1

    async def test_validation_problems_are_refused_with_their_fields(
        self, omnisend: OmnisendClient
    ) -> None:
        """An identifier that is no email address: the stand-in answers Omnisend's 400
        ValidationProblem, and the client reports its field and message, once."""
        with partner_mock() as mock:
            route = mock.post(CONTACTS).respond(201, json={"id": "60a6170920d91c215e949b5c"})
            with pytest.raises(
                PartnerRejectedError, match=r"identifiers\.0\.id: .* does not match"
            ):
                await omnisend.upsert_contact(email="x", properties=PROPERTIES)
        assert route.call_count == 1
        [refusal] = mock.refusals
        assert refusal.status == 400 and refusal.body["errors"][0]["field"] == "identifiers.0.id"

    async def test_a_refused_key_is_an_auth_error(self, omnisend: OmnisendClient) -> None:
        """401 Problem: PartnerAuthError, one call."""
        with partner_mock() as mock:
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
        with partner_mock() as mock:
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
        with partner_mock() as mock:
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
        with partner_mock() as mock:
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
        with partner_mock() as mock:
            route = mock.post(CONTACTS).respond(500, json={"title": "Internal", "status": 500})
            with pytest.raises(PartnerUnavailableError):
                await omnisend.upsert_contact(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 4

    async def test_connection_check_lists_one_contact(self, omnisend: OmnisendClient) -> None:
        with partner_mock() as mock:
            mock.get(CONTACTS, params={"limit": "1"}, headers=HEADERS).respond(
                200, json={"contacts": [], "paging": {}}
            )
            await omnisend.check_connection()
