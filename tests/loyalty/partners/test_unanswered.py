"""When a request may be sent again: the transport resends what the platform certainly never
processed (no connection, 429, its own 5xx) and, for events on platforms without documented
dedupe, never what it may have processed (an answer lost, a gateway timeout)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from loyalty.models import Platform
from loyalty.partners.klaviyo import KlaviyoClient
from loyalty.partners.postscript import PostscriptClient
from loyalty.partners.transport import PartnerUnconfirmedError
from tests.loyalty.partners.fakes import FakeClock, client_for

EVENTS = "https://api.postscript.io/api/v2/events"
PATCH = "https://api.postscript.io/api/v2/subscribers/s_1"
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
async def postscript() -> AsyncIterator[PostscriptClient]:
    async with httpx.AsyncClient() as http:
        client = client_for(Platform.POSTSCRIPT, http, FakeClock())
        assert isinstance(client, PostscriptClient)
        yield client


async def send(client: PostscriptClient) -> None:
    await client.send_event(
        type="LoyaltyPointsEarned",
        subscriber_id="s_1",
        email=None,
        time=AT,
        properties={"points": 10},
        external_id="loyalty:points_earned:cer_1",
    )


class TestEventsWithoutDedupe:
    @pytest.mark.parametrize(
        "first",
        [
            httpx.ConnectError("refused"),
            httpx.ConnectTimeout("no connection"),
            httpx.Response(429, json={}),
            httpx.Response(503, json={}),
        ],
        ids=["connect error", "connect timeout", "429", "503"],
    )
    async def test_a_request_the_platform_never_processed_is_sent_again(
        self, postscript: PostscriptClient, first: httpx.Response | Exception
    ) -> None:
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(EVENTS).mock(
                side_effect=[first, httpx.Response(202, json={"event_ids": ["1"]})]
            )
            await send(postscript)
        assert route.call_count == 2 and postscript.requests_sent == 2

    @pytest.mark.parametrize(
        "lost",
        [
            httpx.ReadTimeout("no answer"),
            httpx.WriteTimeout("stalled"),
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpx.ReadError("connection reset"),
            httpx.Response(504, json={}),
            httpx.Response(524, text="A timeout occurred"),
        ],
        ids=["read timeout", "write timeout", "disconnected", "read error", "504", "524"],
    )
    async def test_a_request_the_platform_may_have_processed_is_not_sent_again(
        self, postscript: PostscriptClient, lost: httpx.Response | Exception
    ) -> None:
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(EVENTS).mock(
                side_effect=[lost, httpx.Response(202, json={"event_ids": ["1"]})]
            )
            with pytest.raises(PartnerUnconfirmedError):
                await send(postscript)
        assert route.call_count == 1


class TestStateWritesAndDedupedEvents:
    async def test_a_profile_write_whose_answer_was_lost_is_sent_again(
        self, postscript: PostscriptClient
    ) -> None:
        """A profile write carries state: writing it twice is harmless."""
        with respx.mock(assert_all_called=True) as mock:
            route = mock.patch(PATCH).mock(
                side_effect=[httpx.ReadTimeout("no answer"), httpx.Response(200, json={})]
            )
            await postscript.update_properties(subscriber_id="s_1", properties={"x": 1})
        assert route.call_count == 2

    async def test_a_klaviyo_event_whose_answer_was_lost_is_sent_again_same_unique_id(
        self,
    ) -> None:
        async with httpx.AsyncClient() as http:
            klaviyo = client_for(Platform.KLAVIYO, http, FakeClock())
            assert isinstance(klaviyo, KlaviyoClient)
            with respx.mock(assert_all_called=True) as mock:
                route = mock.post("https://a.klaviyo.com/api/events").mock(
                    side_effect=[httpx.ReadTimeout("no answer"), httpx.Response(202)]
                )
                await klaviyo.create_event(
                    email="jane@example.com",
                    metric="Loyalty Points Earned",
                    properties={"points": 10},
                    time=AT,
                    unique_id="loyalty:points_earned:cer_1",
                )
        bodies = [call.request.content for call in route.calls]
        assert len(bodies) == 2 and bodies[0] == bodies[1]
