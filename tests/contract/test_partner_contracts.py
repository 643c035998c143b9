"""Every request our partner clients send, judged by the vendor's own contract: Klaviyo's
official SDK (klaviyo-api 25.0.0, revision 2026-10-15) and Omnisend's and Postscript's OpenAPI
definitions (tests/contract/vendor/). The bodies are the ones the sync jobs build from real
awards and lifecycle changes, not hand-made ones; the negative tests prove the judge strict
enough to catch a misspelt field, and that the stand-ins answer in the vendor's error shape."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from openapi_client.models import (
    EventCreateQueryV2,
    GetAccounts4XXResponse,
    ProfileUpsertQuery,
)

from loyalty.jobs import JobName
from loyalty.models import Platform
from loyalty.partners import klaviyo, omnisend
from loyalty.partners.klaviyo import KlaviyoClient
from loyalty.partners.omnisend import OmnisendClient
from loyalty.partners.postscript import PostscriptClient
from loyalty.partners.transport import PartnerRejectedError
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from standins.partners import (
    KLAVIYO_REVISION,
    Refusal,
    judge_request,
    partner_mock,
    strict_model,
)
from tests.loyalty.partners.fakes import KLAVIYO_PROFILE, FakeClock, client_for, klaviyo_errors
from tests.loyalty.partners.scenarios import eventful_shop
from tests.loyalty.sync import conftest as sync_fixtures
from tests.loyalty.sync.harness import run_job

JOBS = {
    Platform.KLAVIYO: JobName.SYNC_KLAVIYO_PROFILES,
    Platform.OMNISEND: JobName.SYNC_OMNISEND_CONTACTS,
    Platform.POSTSCRIPT: JobName.SYNC_POSTSCRIPT_SUBSCRIBERS,
}
# The operations each sync uses, as (method, path pattern): all of them must be exercised.
OPERATIONS = {
    Platform.KLAVIYO: {("POST", "/api/profile-import"), ("POST", "/api/events")},
    Platform.OMNISEND: {("POST", "/api/contacts"), ("POST", "/api/events")},
    Platform.POSTSCRIPT: {
        ("GET", "/api/v2/subscribers"),
        ("PATCH", "/api/v2/subscribers/{id}"),
        ("POST", "/api/v2/events"),
    },
}
SUBSCRIBER = {
    "page_info": {"page": 1, "total_pages": 1},
    "subscribers": [{"id": "s_abc", "email": "jane@example.com", "properties": {}}],
}


# The worker's job dependencies, pacing and retries on a fake clock: the sync tests' fixtures.
clock = sync_fixtures.clock
deps = sync_fixtures.deps


def success(request: httpx.Request) -> httpx.Response:
    """What each platform answers a request it accepts, in its contract's shapes."""
    path = request.url.path
    if request.url.host == "a.klaviyo.com":
        if path == "/api/events":
            return httpx.Response(202)  # Klaviyo: no body
        if request.method == "GET":
            return httpx.Response(200, json={"data": [], "links": {"self": str(request.url)}})
        return httpx.Response(200, json=KLAVIYO_PROFILE)
    if path.endswith("/events"):
        return httpx.Response(202, json={"event_ids": ["1"]} if "/v2/" in path else None)
    if path == "/api/v2/subscribers":
        return httpx.Response(200, json=SUBSCRIBER)
    if path == "/api/v2/me":
        identity = {"resource_id": "shop_1", "resource_name": "Bench", "resource_type": "shop"}
        return httpx.Response(200, json=identity)
    return httpx.Response(200, json={"id": "s_abc"})


def operation(request: httpx.Request) -> tuple[str, str]:
    path = request.url.path
    if path.startswith("/api/v2/subscribers/"):
        path = "/api/v2/subscribers/{id}"
    return request.method, path


class TestEverySyncRequest:
    @pytest.mark.parametrize("platform", list(Platform))
    async def test_the_vendor_accepts_every_request_the_sync_sends(
        self, settings: Settings, deps: JobDeps, platform: Platform
    ) -> None:
        """Profile writes and every event kind, built by the sync jobs from real changes:
        nothing is refused, and every operation the sync uses was exercised."""
        shop = await eventful_shop(settings, platform)
        with partner_mock() as mock:
            mock.route().mock(side_effect=success)
            await run_job(JOBS[platform], deps, shop)
            await run_job(JOBS[platform], deps, shop)
            requests = [call.request for call in mock.calls]

        assert [str(refusal) for refusal in mock.refusals] == []
        assert {operation(request) for request in requests} == OPERATIONS[platform]
        events = [r for r in requests if r.method == "POST" and r.url.path.endswith("/events")]
        assert len(events) == 6  # earned, pending, approved, tier changed, expired, expiring
        assert all(judge_request(request) is None for request in requests)


def rejudge(request: httpx.Request, change: Callable[[Any], None]) -> Refusal | None:
    """Judge `request` again with its JSON body changed by `change`."""
    body = json.loads(request.content)
    change(body)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return judge_request(
        httpx.Request(request.method, request.url, headers=headers, content=json.dumps(body))
    )


async def sent_by(
    platform: Platform, clock: FakeClock, call: Callable[[Any], Awaitable[None]]
) -> httpx.Request:
    """The request the client sends for `call(client)`, accepted by the vendor's contract."""
    async with httpx.AsyncClient() as http:
        client = client_for(platform, http, clock, paced=False)
        with partner_mock() as mock:
            route = mock.route().mock(side_effect=success)
            await call(client)
    assert mock.refusals == []
    return route.calls.last.request


# One event as each client sends it: the same figures, a property without a value included.
AT = datetime(2026, 11, 25, 10, tzinfo=UTC)
KEY = "loyalty:points_earned:cer_1"
PROPERTIES = {"points": 50, "vip_tier": None}


async def klaviyo_event(client: KlaviyoClient) -> None:
    metric = "Loyalty Points Earned"
    await client.create_event(
        email="jane@example.com", metric=metric, properties=PROPERTIES, time=AT, unique_id=KEY
    )


class TestKlaviyoSdk:
    def test_the_revision_we_pin_is_the_sdks(self) -> None:
        assert klaviyo.REVISION == KLAVIYO_REVISION == "2026-10-15"

    async def test_a_misspelt_field_is_refused_though_the_sdk_model_alone_drops_it(
        self, clock: FakeClock
    ) -> None:
        """`uniqe_id`: pydantic's lenient model validates it (and loses it); the judge
        refuses it with a pointer to the field."""
        request = await sent_by(Platform.KLAVIYO, clock, klaviyo_event)
        body = json.loads(request.content)
        attributes = body["data"]["attributes"]
        attributes["uniqe_id"] = attributes.pop("unique_id")
        EventCreateQueryV2.model_validate(body)  # the SDK's model alone: no complaint

        def misspell(body: Any) -> None:
            attributes = body["data"]["attributes"]
            attributes["uniqe_id"] = attributes.pop("unique_id")

        refusal = rejudge(request, misspell)
        assert refusal is not None and refusal.status == 400
        assert refusal.problems[0][0] == "/data/attributes/uniqe_id"

    @pytest.mark.parametrize(
        ("change", "where"),
        [
            (lambda b: b["data"].update(type="evnt"), "/data/type"),
            (
                lambda b: b["data"]["attributes"].update(properties=[1]),
                "/data/attributes/properties",
            ),
            (lambda b: b["data"]["attributes"].update(time="yesterday"), "/data/attributes/time"),
            (lambda b: b["data"]["attributes"].pop("metric"), "/data/attributes/metric"),
        ],
    )
    async def test_types_and_required_fields_are_the_sdks(
        self, clock: FakeClock, change: Callable[[Any], None], where: str
    ) -> None:
        request = await sent_by(Platform.KLAVIYO, clock, klaviyo_event)
        refusal = rejudge(request, change)
        assert refusal is not None and refusal.problems[0][0] == where

    async def test_another_revision_is_refused(self, clock: FakeClock) -> None:
        request = await sent_by(Platform.KLAVIYO, clock, klaviyo_event)
        request.headers["revision"] = "2025-10-15"
        refusal = judge_request(request)
        assert refusal is not None
        assert refusal.problems == (
            ("header revision", "'2025-10-15'; the SDK sends '2026-10-15'"),
        )

    async def test_page_size_is_a_parameter_of_the_sdks_get_profiles(
        self, clock: FakeClock
    ) -> None:
        """check_connection's `page[size]=1` is what ProfilesApi.get_profiles sends; a
        misspelt parameter, or a size past the SDK's limit of 100, is refused."""
        request = await sent_by(Platform.KLAVIYO, clock, lambda c: c.check_connection())
        assert request.url.params["page[size]"] == "1"
        for query, problem in [
            ({"page[sise]": "1"}, "Unexpected keyword argument"),
            ({"page[size]": "500"}, "less than or equal to 100"),
        ]:
            other = httpx.Request(
                "GET", request.url.copy_with(params=query), headers=request.headers
            )
            refusal = judge_request(other)
            assert refusal is not None and problem in str(refusal)

    async def test_the_duplicate_profile_retry_is_a_valid_upsert_by_id(
        self, clock: FakeClock
    ) -> None:
        """409 duplicate_profile, then the retry by `data.id` with the properties alone:
        both bodies are ProfileUpsertQuery documents Klaviyo accepts."""
        conflict = klaviyo_errors(
            "duplicate_profile",
            "A profile already exists with one of these identifiers.",
            status=409,
            meta={"duplicate_profile_id": "01HDUPLICATE"},
        )
        properties = {"Loyalty Points Balance": 10, "Loyalty VIP Tier": None}
        async with httpx.AsyncClient() as http:
            client = client_for(Platform.KLAVIYO, http, clock, paced=False)
            assert isinstance(client, KlaviyoClient)
            with partner_mock() as mock:
                route = mock.post(url__regex="/api/profile-import$").mock(
                    side_effect=[
                        httpx.Response(409, json=conflict),
                        httpx.Response(200, json=KLAVIYO_PROFILE),
                    ]
                )
                await client.upsert_profile(email="jane@example.com", properties=properties)
                first, retry = (call.request for call in route.calls)
        assert mock.refusals == []
        parsed, unknown = strict_model(ProfileUpsertQuery, retry.content)
        assert parsed is not None and unknown == []
        assert parsed.data.id == "01HDUPLICATE" and parsed.data.attributes.email is None
        assert parsed.data.attributes.properties == properties
        assert judge_request(first) is None

    async def test_a_refusal_is_klaviyos_error_document(self, clock: FakeClock) -> None:
        """The stand-in's 400 is a GetAccounts4XXResponse (strictly, nothing extra), and the
        client reports Klaviyo's words."""
        request = await sent_by(Platform.KLAVIYO, clock, klaviyo_event)
        refusal = rejudge(request, lambda b: b["data"].update(type="evnt"))
        assert refusal is not None
        parsed, unknown = strict_model(GetAccounts4XXResponse, json.dumps(refusal.body).encode())
        assert parsed is not None and unknown == []

        async with httpx.AsyncClient() as http:
            client = client_for(Platform.KLAVIYO, http, clock, paced=False)
            assert isinstance(client, KlaviyoClient)
            with partner_mock() as mock:
                route = mock.post(url__regex="/api/events$").respond(202)
                with pytest.raises(PartnerRejectedError, match="400: Input should be an object"):
                    await client.create_event(
                        email="jane@example.com",
                        metric="Loyalty Points Earned",
                        properties=[1],  # type: ignore[arg-type]
                        time=datetime(2026, 1, 1, tzinfo=UTC),
                        unique_id="k",
                    )
        assert route.call_count == 1 and mock.refusals[0].status == 400


async def omnisend_contact(client: OmnisendClient) -> None:
    await client.upsert_contact(email="jane@example.com", properties={"loyalty_vip_tier": ""})


async def omnisend_event(client: OmnisendClient) -> None:
    name = "loyalty points earned"
    await client.send_event(
        email="jane@example.com", name=name, key=KEY, time=AT, properties=PROPERTIES
    )


class TestOmnisendDefinition:
    async def test_a_misspelt_field_is_refused(self, clock: FakeClock) -> None:
        """`sendWelcomeMesage` would be ignored by Omnisend, and the welcome series would
        start (the field defaults to true): the stand-in refuses it."""
        request = await sent_by(Platform.OMNISEND, clock, omnisend_contact)
        refusal = rejudge(
            request,
            lambda b: b["identifiers"][0].update(
                sendWelcomeMesage=b["identifiers"][0].pop("sendWelcomeMessage")
            ),
        )
        assert refusal is not None and refusal.status == 400
        assert refusal.body["errors"][0]["field"] == "identifiers.0"
        assert "sendWelcomeMesage" in refusal.body["errors"][0]["message"]

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            (lambda b: b.update(eventID="loyalty:points_earned:cer_1"), "eventID"),
            (lambda b: b.update(eventID="6f1b1c8e-4c1e-1d59-9a55-2d7f0c6c1a01"), "eventID"),
            (lambda b: b.update(eventTime="25/11/2026"), "eventTime"),
            (lambda b: b.update(contact={"mail": "jane@example.com"}), "contact"),
        ],
    )
    async def test_event_fields_follow_the_definition(
        self, clock: FakeClock, change: Callable[[Any], None], field: str
    ) -> None:
        """eventID must be a UUID v4–v7 (a v1 is refused; ours are v5), eventTime RFC 3339,
        contact fields the definition's."""
        request = await sent_by(Platform.OMNISEND, clock, omnisend_event)
        assert omnisend.event_id("loyalty:points_earned:cer_1") in request.content.decode()
        refusal = rejudge(request, change)
        assert refusal is not None and refusal.body["errors"][0]["field"] == field

    async def test_headers_and_query_follow_the_definition(self, clock: FakeClock) -> None:
        """Another Omnisend-Version, the legacy X-API-KEY, an unknown or out-of-range query
        parameter: each refused in Omnisend's Problem shape."""
        request = await sent_by(Platform.OMNISEND, clock, lambda c: c.check_connection())
        assert request.url.params["limit"] == "1"
        cases = [
            ({"Omnisend-Version": "2024-01-01"}, {}, 400),
            ({"Authorization": "", "X-API-KEY": "k"}, {}, 401),
            ({}, {"limit": "500"}, 400),
            ({}, {"pageSize": "1"}, 400),
        ]
        for headers, params, status in cases:
            changed = request.headers.copy()
            changed.update(headers)
            url = request.url.copy_with(params=params or request.url.params)
            other = httpx.Request("GET", url, headers=changed)
            refusal = judge_request(other)
            assert refusal is not None and refusal.status == status, (headers, params)
            assert refusal.body["status"] == status and refusal.body["instance"].startswith("urn:")


async def postscript_event(client: PostscriptClient) -> None:
    await client.send_event(
        type="LoyaltyPointsEarned",
        subscriber_id="s_abc",
        email="jane@example.com",
        time=AT,
        properties=PROPERTIES,
        external_id=KEY,
    )


class TestPostscriptDefinition:
    async def test_event_fields_follow_the_definition(self, clock: FakeClock) -> None:
        """Our event passes (its null property left out); a null value, an ISO `T` time, a
        type with spaces and a misspelt field are each refused."""
        request = await sent_by(Platform.POSTSCRIPT, clock, postscript_event)
        assert "vip_tier" not in json.loads(request.content)["properties"]
        cases: list[tuple[Callable[[Any], None], list[Any]]] = [
            (lambda b: b["properties"].update(vip_tier=None), ["properties", "vip_tier"]),
            (lambda b: b.update(occurred_at="2026-11-25T10:00:00Z"), ["occurred_at"]),
            (lambda b: b.update(type="Loyalty Points Earned"), ["type"]),
            (lambda b: b.update(occured_at=b.pop("occurred_at")), []),
        ]
        for change, loc in cases:
            refusal = rejudge(request, change)
            assert refusal is not None and refusal.body["errors"][0]["loc"] == loc

    async def test_subscriber_properties_are_an_object_of_at_most_50(
        self, clock: FakeClock
    ) -> None:
        """ReadMe's `format: json` field is a JSON object on the wire; 51 properties, or a
        nested object, are more than Postscript takes."""
        request = await sent_by(
            Platform.POSTSCRIPT,
            clock,
            lambda c: c.update_properties(subscriber_id="s_abc", properties={"loyalty_x": 1}),
        )
        many = {f"p{n}": n for n in range(51)}
        assert rejudge(request, lambda b: b.update(properties=many)) is not None
        assert rejudge(request, lambda b: b["properties"].update(x={"a": 1})) is not None
        assert rejudge(request, lambda b: b["properties"].update(x=["a", "b"])) is None

    async def test_custom_events_is_not_a_postscript_path(self, clock: FakeClock) -> None:
        """`/api/v2/custom-events` (from a third-party mock) is not in the definition: 404."""
        request = await sent_by(Platform.POSTSCRIPT, clock, postscript_event)
        other = httpx.Request(
            "POST",
            "https://api.postscript.io/api/v2/custom-events",
            headers=request.headers,
            content=request.content,
        )
        refusal = judge_request(other)
        assert refusal is not None and refusal.status == 404


class TestBenchStandIns:
    async def test_bench_sync_partners_answer_what_the_vendor_answers(self) -> None:
        """bench/sync's Klaviyo, Omnisend and Postscript stand-ins judge through the same
        contracts: a misspelt Klaviyo field and a non-UUID Omnisend eventID get the vendor's
        400 and are counted; a valid Postscript lookup is answered."""
        from bench.sync_burst import Stubs, stub_app

        stubs = Stubs()
        transport = httpx.ASGITransport(app=stub_app(stubs))
        async with httpx.AsyncClient(transport=transport, base_url="http://stub") as http:
            event = {
                "data": {
                    "type": "event",
                    "attributes": {
                        "properties": {},
                        "uniqe_id": "k",
                        "metric": {"data": {"type": "metric", "attributes": {"name": "M"}}},
                        "profile": {"data": {"type": "profile", "attributes": {"email": "a@b.co"}}},
                    },
                }
            }
            refused = await http.post(
                "/klaviyo/api/events", headers=klaviyo.headers("pk_bench"), json=event
            )
            bad_id = await http.post(
                "/omnisend/events",
                headers=omnisend.headers("key"),
                json={"eventName": "loyalty points earned", "eventID": "k", "origin": "api"},
            )
            found = await http.get(
                "/postscript/api/v2/subscribers",
                params={"shopify_customer_id__eq": "7"},
                headers={"Authorization": "Bearer sk_bench"},
            )
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["source"] == {"pointer": "/data/attributes/uniqe_id"}
        assert bad_id.status_code == 400 and bad_id.json()["errors"][0]["field"] == "eventID"
        assert found.status_code == 200 and found.json()["subscribers"][0]["id"] == "s_7"
        assert {platform: len(found) for platform, found in stubs.contract_refusals.items()} == {
            "klaviyo": 1,
            "omnisend": 1,
        }


class TestMocksAnswerLikeTheVendor:
    @pytest.mark.parametrize(
        ("platform", "call", "answer", "words"),
        [
            (
                Platform.KLAVIYO,
                lambda c: c.upsert_profile(email="jane@example.com", properties={}),
                httpx.Response(200, json={"data": {"id": "01H"}}),
                "/data/type: Field required (PostProfileResponse)",
            ),
            (Platform.KLAVIYO, klaviyo_event, httpx.Response(202, json={}), "no body"),
            (
                Platform.KLAVIYO,
                klaviyo_event,
                httpx.Response(400, json={"errors": [{"detail": "bad"}]}),
                "/errors/0/id: Field required (GetAccounts4XXResponse)",
            ),
            (
                Platform.OMNISEND,
                omnisend_contact,
                httpx.Response(429, json={"retryAfter": "soon"}),
                '/retryAfter: "soon" is not of type "integer"',
            ),
            (
                Platform.POSTSCRIPT,
                postscript_event,
                httpx.Response(202, json={"event_ids": "1"}),
                '/event_ids: "1" is not of type "array"',
            ),
        ],
    )
    async def test_a_route_answering_what_the_vendor_never_answers_fails_the_test(
        self,
        clock: FakeClock,
        platform: Platform,
        call: Callable[[Any], Awaitable[None]],
        answer: httpx.Response,
        words: str,
    ) -> None:
        """Mocks are judged too, by the response the vendor's contract declares for the
        status: a made-up answer cannot stand in for the vendor's."""
        async with httpx.AsyncClient() as http:
            client = client_for(platform, http, clock, paced=False)
            # The failing route is not counted as called: the assertion ends the call first.
            with partner_mock(assert_all_called=False) as mock:
                mock.route().mock(return_value=answer)
                with pytest.raises(AssertionError, match=re.escape(words)):
                    await call(client)
