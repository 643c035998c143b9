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
from loyalty.partners.transport import PartnerUnconfirmedError, SendWatch
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


class Watch(SendWatch):
    """Records what the transport told it, in order."""

    def __init__(self) -> None:
        self.heard: list[str] = []

    async def sending(self) -> None:
        self.heard.append("sending")

    async def refused(self) -> None:
        self.heard.append("refused")


class TestSendWatch:
    """The caller hears when an event's request leaves (after pacing) and when the platform
    answered without taking it, so its "may have" mark spans exactly the time in flight."""

    async def test_a_refusal_then_success_is_heard_in_order(
        self, postscript: PostscriptClient
    ) -> None:
        watch = Watch()
        with respx.mock(assert_all_called=True) as mock:
            mock.post(EVENTS).mock(
                side_effect=[
                    httpx.Response(500, json={}),
                    httpx.Response(429, headers={"Retry-After": "1"}, json={}),
                    httpx.Response(202, json={}),
                ]
            )
            await send_watched(postscript, watch)
        assert watch.heard == ["sending", "refused", "sending", "refused", "sending"]

    async def test_a_lost_answer_is_never_heard_as_refused(
        self, postscript: PostscriptClient
    ) -> None:
        watch = Watch()
        with respx.mock(assert_all_called=True) as mock:
            mock.post(EVENTS).mock(side_effect=httpx.ReadTimeout("no answer"))
            with pytest.raises(PartnerUnconfirmedError):
                await send_watched(postscript, watch)
        assert watch.heard == ["sending"]

    async def test_nothing_is_heard_before_the_rate_limit_lets_the_request_go(self) -> None:
        """A request waiting for its pacing slot has not left: a worker killed while it waits
        must leave no mark, so `sending` comes only after the wait."""
        clock = FakeClock()
        watch = Watch()
        sent = 0  # requests that have completed
        heard_while_waiting: list[tuple[int, int]] = []  # (sendings heard, requests completed)
        sleep = clock.sleep

        async def observed_sleep(seconds: float) -> None:
            heard_while_waiting.append((watch.heard.count("sending"), sent))
            await sleep(seconds)

        clock.sleep = observed_sleep  # type: ignore[method-assign]
        async with httpx.AsyncClient() as http:
            client = client_for(Platform.POSTSCRIPT, http, clock)
            assert isinstance(client, PostscriptClient)
            with respx.mock() as mock:
                mock.post(EVENTS).mock(return_value=httpx.Response(202, json={}))
                for _ in range(40):  # past the burst: later calls wait for the pacer
                    await send_watched(client, watch)
                    sent += 1
        assert heard_while_waiting, "the pacer never made a call wait"
        # While a call waits, only the calls already completed have been heard leaving.
        assert all(heard == done for heard, done in heard_while_waiting)
        assert watch.heard == ["sending"] * 40


async def send_watched(client: PostscriptClient, watch: SendWatch) -> None:
    await client.send_event(
        type="LoyaltyPointsEarned",
        subscriber_id="s_1",
        email=None,
        time=AT,
        properties={"points": 10},
        external_id="loyalty:points_earned:cer_1",
        watch=watch,
    )
