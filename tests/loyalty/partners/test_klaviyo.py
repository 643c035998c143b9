"""The Klaviyo client against respx routes that judge every request by Klaviyo's official SDK
(standins.partners: klaviyo-api 25.0.0, revision 2026-10-15; a request the SDK's models refuse
gets Klaviyo's 400), with Klaviyo's fault behaviour (shared/reference/marketing-apis.md §1.5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from loyalty.models import Platform
from loyalty.partners.klaviyo import REVISION, KlaviyoClient
from loyalty.partners.transport import (
    PartnerAuthError,
    PartnerRejectedError,
    PartnerThrottledError,
    PartnerUnavailableError,
)
from standins.partners import partner_mock
from tests.loyalty.partners.fakes import (
    KEYS,
    KLAVIYO_PROFILE,
    FakeClock,
    client_for,
    klaviyo_errors,
)

# https://developers.klaviyo.com/en/reference/create_or_update_profile
PROFILE_IMPORT = "https://a.klaviyo.com/api/profile-import"
# https://developers.klaviyo.com/en/reference/create_event
EVENTS = "https://a.klaviyo.com/api/events"
# https://developers.klaviyo.com/en/reference/get_profiles
PROFILES = "https://a.klaviyo.com/api/profiles"
# Errors: https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {KEYS[Platform.KLAVIYO]}",
    "revision": "2026-10-15",
    "accept": "application/vnd.api+json",
    "content-type": "application/vnd.api+json",
}
PROPERTIES = {"Loyalty Points Balance": 1250, "Loyalty VIP Tier": "Gold"}
THROTTLED = klaviyo_errors(
    "throttled", "Request was throttled. Expected available in 1 second.", status=429
)
PROFILE = KLAVIYO_PROFILE


def profile_body(email: str = "jane@example.com") -> dict[str, Any]:
    return {"data": {"type": "profile", "attributes": {"email": email, "properties": PROPERTIES}}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def klaviyo(clock: FakeClock) -> AsyncIterator[KlaviyoClient]:
    async with httpx.AsyncClient() as http:
        client = client_for(Platform.KLAVIYO, http, clock)
        assert isinstance(client, KlaviyoClient)
        yield client


class TestUpsertProfile:
    async def test_posts_the_profile_by_email_with_the_pinned_revision(
        self, klaviyo: KlaviyoClient
    ) -> None:
        """POST /api/profile-import, JSON:API body, email and loyalty properties only."""
        assert REVISION == "2026-10-15"
        with partner_mock() as mock:
            route = mock.post(PROFILE_IMPORT, headers=HEADERS, json=profile_body()).respond(
                201, json=PROFILE
            )
            await klaviyo.upsert_profile(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 1

    async def test_duplicate_profile_conflict_updates_that_profile_by_id(
        self, klaviyo: KlaviyoClient
    ) -> None:
        """409 duplicate_profile: retried once with data.id and no conflicting identifier."""
        conflict = klaviyo_errors(
            "duplicate_profile",
            "A profile already exists with one of these identifiers.",
            status=409,
            source={"pointer": "/data/attributes"},
            meta={"duplicate_profile_id": "01HDUPLICATE"},
        )
        by_id = {
            "data": {
                "type": "profile",
                "id": "01HDUPLICATE",
                "attributes": {"properties": PROPERTIES},
            }
        }
        with partner_mock() as mock:
            first = mock.post(PROFILE_IMPORT, json=profile_body()).respond(409, json=conflict)
            second = mock.post(PROFILE_IMPORT, json=by_id).respond(200, json=PROFILE)
            await klaviyo.upsert_profile(email="jane@example.com", properties=PROPERTIES)
        assert (first.call_count, second.call_count) == (1, 1)

    async def test_a_second_conflict_is_not_retried_again(self, klaviyo: KlaviyoClient) -> None:
        """The 409 retry happens once; then the conflict is a refused request."""
        conflict = klaviyo_errors(
            "duplicate_profile", "dup", status=409, meta={"duplicate_profile_id": "X"}
        )
        with partner_mock() as mock:
            route = mock.post(PROFILE_IMPORT).respond(409, json=conflict)
            with pytest.raises(PartnerRejectedError, match="409"):
                await klaviyo.upsert_profile(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 2


class TestCreateEvent:
    async def test_posts_the_event_with_unique_id_and_points_in_properties(
        self, klaviyo: KlaviyoClient
    ) -> None:
        """202 with an empty body; `unique_id` set, `value` never sent, time to the second."""
        body = {
            "data": {
                "type": "event",
                "attributes": {
                    "properties": {"points": 50, "balance_after": 1250},
                    "time": "2026-11-25T10:00:00Z",
                    "unique_id": "loyalty:points_earned:cer_1",
                    "metric": {
                        "data": {"type": "metric", "attributes": {"name": "Loyalty Points Earned"}}
                    },
                    "profile": {
                        "data": {"type": "profile", "attributes": {"email": "jane@example.com"}}
                    },
                },
            }
        }
        with partner_mock() as mock:
            route = mock.post(EVENTS, headers=HEADERS, json=body).respond(202)
            await klaviyo.create_event(
                email="jane@example.com",
                metric="Loyalty Points Earned",
                properties={"points": 50, "balance_after": 1250},
                time=datetime(2026, 11, 25, 10, 0, 0, 456000, tzinfo=UTC),
                unique_id="loyalty:points_earned:cer_1",
            )
        sent = route.calls.last.request
        assert "value" not in sent.content.decode()


class TestFaults:
    async def test_429_waits_the_retry_after_klaviyo_sends(
        self, klaviyo: KlaviyoClient, clock: FakeClock
    ) -> None:
        """Retry-After: 2 → the client waits 2 s, then the retry succeeds."""
        with partner_mock() as mock:
            route = mock.post(PROFILE_IMPORT).mock(
                side_effect=[
                    httpx.Response(429, headers={"Retry-After": "2"}, json=THROTTLED),
                    httpx.Response(200, json=PROFILE),
                ]
            )
            await klaviyo.upsert_profile(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 2
        assert 2.0 in clock.sleeps

    async def test_a_429_storm_ends_in_a_throttled_error_not_a_loop(
        self, klaviyo: KlaviyoClient, clock: FakeClock
    ) -> None:
        """Every answer 429: four attempts, each after the wait asked, then hand the work back."""
        with partner_mock() as mock:
            route = mock.post(EVENTS).respond(429, headers={"Retry-After": "1"}, json=THROTTLED)
            with pytest.raises(PartnerThrottledError) as caught:
                await klaviyo.create_event(
                    email="a@b.co",
                    metric="Loyalty Points Earned",
                    properties={},
                    time=datetime(2026, 1, 1, tzinfo=UTC),
                    unique_id="k",
                )
        assert route.call_count == 4
        assert caught.value.after >= 1.0

    async def test_a_long_retry_after_is_handed_back_without_sleeping(
        self, klaviyo: KlaviyoClient, clock: FakeClock
    ) -> None:
        """Retry-After: 60 is longer than a job should sleep: raised at once with that wait."""
        with partner_mock() as mock:
            route = mock.post(PROFILE_IMPORT).respond(
                429, headers={"Retry-After": "60"}, json=THROTTLED
            )
            with pytest.raises(PartnerThrottledError) as caught:
                await klaviyo.upsert_profile(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 1
        assert caught.value.after == 60.0
        assert clock.sleeps == []

    async def test_500s_retry_with_capped_backoff_then_give_up(
        self, klaviyo: KlaviyoClient, clock: FakeClock
    ) -> None:
        """503 every time: four attempts with growing, jittered waits, then unavailable."""
        with partner_mock() as mock:
            route = mock.post(PROFILE_IMPORT).respond(503)
            with pytest.raises(PartnerUnavailableError, match="server error 503"):
                await klaviyo.upsert_profile(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 4
        assert len(clock.sleeps) == 3
        assert all(0.25 <= wait <= 12 for wait in clock.sleeps)

    async def test_a_500_then_success_is_one_profile_write(self, klaviyo: KlaviyoClient) -> None:
        """A transient 500 is retried and the profile write succeeds."""
        with partner_mock() as mock:
            route = mock.post(PROFILE_IMPORT).mock(
                side_effect=[httpx.Response(500), httpx.Response(200, json=PROFILE)]
            )
            await klaviyo.upsert_profile(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 2

    async def test_timeouts_are_retried_then_reported(self, klaviyo: KlaviyoClient) -> None:
        """No answer in time: retried, then PartnerUnavailableError saying so."""
        with partner_mock() as mock:
            route = mock.post(EVENTS).mock(side_effect=httpx.ReadTimeout("slow"))
            with pytest.raises(PartnerUnavailableError, match="no answer"):
                await klaviyo.create_event(
                    email="a@b.co",
                    metric="m",
                    properties={},
                    time=datetime(2026, 1, 1, tzinfo=UTC),
                    unique_id="k",
                )
        assert route.call_count == 4

    async def test_a_refused_key_is_not_retried(self, klaviyo: KlaviyoClient) -> None:
        """401: PartnerAuthError with Klaviyo's own words, one call."""
        refused = klaviyo_errors("not_authenticated", "Missing or invalid private key.", status=401)
        with partner_mock() as mock:
            route = mock.post(PROFILE_IMPORT).respond(401, json=refused)
            with pytest.raises(PartnerAuthError, match="Missing or invalid private key"):
                await klaviyo.upsert_profile(email="jane@example.com", properties=PROPERTIES)
        assert route.call_count == 1

    async def test_an_invalid_payload_is_refused_once(self, klaviyo: KlaviyoClient) -> None:
        """400 invalid: PartnerRejectedError, never retried."""
        invalid = klaviyo_errors("invalid", "Invalid email address", status=400)
        with partner_mock() as mock:
            route = mock.post(PROFILE_IMPORT).respond(400, json=invalid)
            with pytest.raises(PartnerRejectedError, match="Invalid email address"):
                await klaviyo.upsert_profile(email="not-an-email", properties=PROPERTIES)
        assert route.call_count == 1


class TestCheckConnection:
    async def test_reads_one_profile(self, klaviyo: KlaviyoClient) -> None:
        """GET /api/profiles?page[size]=1: proves the key without writing anything."""
        with partner_mock() as mock:
            mock.get(PROFILES, params={"page[size]": "1"}, headers=HEADERS).respond(
                200, json={"data": [], "links": {"self": PROFILES}}
            )
            await klaviyo.check_connection()
