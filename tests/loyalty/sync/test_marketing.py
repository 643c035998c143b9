"""The Klaviyo, Omnisend and Postscript sync jobs end to end (awards → intents → job → HTTP),
with the platforms mocked by respx routes that judge every request by the vendor's published
contract (standins.partners: Klaviyo's SDK, Omnisend's and Postscript's OpenAPI definitions; a
request the vendor would refuse gets the vendor's error, so the job fails): one profile write per
customer with the latest state however many changes were queued, each event exactly once, the
per-platform status, and what partner faults do to the work."""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx

from loyalty.jobs import JobName
from loyalty.models import Integration, OutboxIntent, Platform, Shop
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from standins.partners import partner_mock
from tests.factories import create_customer, create_rule
from tests.loyalty.partners.fakes import KEYS, KLAVIYO_PROFILE, klaviyo_errors
from tests.loyalty.partners.scenarios import eventful_shop
from tests.loyalty.sync.harness import award, award_many, connected_shop, enable, pending, run_job

# Routes below, by path: Klaviyo https://developers.klaviyo.com/en/reference/create_or_update_profile
# and /create_event; Omnisend https://api-docs.omnisend.com/reference/post_contacts and
# /post_events; Postscript https://developers.postscript.io/reference/get-subscribers,
# /update-subscriber-by-id and /create-custom-event.
KLAVIYO = "https://a.klaviyo.com"
OMNISEND = "https://api.omnisend.com/api"
POSTSCRIPT = "https://api.postscript.io"
KLAVIYO_HEADERS = {
    "Authorization": f"Klaviyo-API-Key {KEYS[Platform.KLAVIYO]}",
    "revision": "2026-10-15",
    "content-type": "application/vnd.api+json",
}
OMNISEND_HEADERS = {
    "Authorization": f"Omnisend-API-Key {KEYS[Platform.OMNISEND]}",
    "Omnisend-Version": "2026-03-15",
}
POSTSCRIPT_HEADERS = {"Authorization": f"Bearer {KEYS[Platform.POSTSCRIPT]}"}


def sent(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


async def status(shop: Shop, platform: Platform) -> Integration:
    return await Integration.get(shop_id=shop.id, platform=platform)


class TestKlaviyo:
    async def test_a_burst_is_one_profile_import_per_customer_and_every_event_once(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Five awards to one customer and one to another: two profile imports carrying the
        final balances, six `Loyalty Points Earned` events with distinct unique ids."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        busy, quiet = await create_customer(shop), await create_customer(shop)
        entries = await award_many(shop, busy, 5, points=10)
        entries.append(await award(shop, await create_rule(shop, points=7), quiet))

        with partner_mock() as mock:
            profiles = mock.post(f"{KLAVIYO}/api/profile-import", headers=KLAVIYO_HEADERS).mock(
                return_value=httpx.Response(200, json=KLAVIYO_PROFILE)
            )
            events = mock.post(f"{KLAVIYO}/api/events", headers=KLAVIYO_HEADERS).mock(
                return_value=httpx.Response(202)
            )
            done = await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)
            again = await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)
            assert mock.refusals == []  # every request passed the vendor's contract

        assert (done, again) == (6, 0)
        assert profiles.call_count == 2 and events.call_count == 6
        written = {
            b["data"]["attributes"]["email"]: b["data"]["attributes"]["properties"]
            for b in sent(profiles)
        }
        assert written[busy.email]["Loyalty Points Balance"] == 50
        assert written[quiet.email]["Loyalty Points Balance"] == 7
        assert set(written[busy.email]) >= {
            "Loyalty Points Balance",
            "Loyalty Pending Points",
            "Loyalty Lifetime Points",
            "Loyalty VIP Tier",
        }
        bodies = [b["data"]["attributes"] for b in sent(events)]
        assert {b["metric"]["data"]["attributes"]["name"] for b in bodies} == {
            "Loyalty Points Earned"
        }
        assert len({b["unique_id"] for b in bodies}) == 6
        assert all("value" not in b and b["properties"]["points"] > 0 for b in bodies)
        assert (await status(shop, Platform.KLAVIYO)).last_success_at is not None

    async def test_a_refused_key_is_recorded_and_not_retried_in_a_loop(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """401: the status says why, the work is held (not completed, not retried at once)."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        await award(shop, await create_rule(shop), await create_customer(shop))
        refused = klaviyo_errors("not_authenticated", "Missing or invalid private key.", status=401)
        with partner_mock() as mock:
            route = mock.post(f"{KLAVIYO}/api/profile-import").mock(
                return_value=httpx.Response(401, json=refused)
            )
            await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)
            await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)  # held: no second call

        assert route.call_count == 1
        integration = await status(shop, Platform.KLAVIYO)
        assert integration.last_error and "invalid private key" in integration.last_error
        assert integration.last_success_at is None
        [held] = await pending(JobName.SYNC_KLAVIYO_PROFILES, shop)
        assert held.claimed_until is not None and held.attempts == 1

    async def test_an_invalid_payload_is_given_up_and_recorded(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop), customer)
        invalid = klaviyo_errors("invalid", "Invalid email address", status=400)
        with partner_mock() as mock:
            mock.post(f"{KLAVIYO}/api/profile-import").mock(
                return_value=httpx.Response(400, json=invalid)
            )
            await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)

        assert await pending(JobName.SYNC_KLAVIYO_PROFILES, shop) == []
        intent = await OutboxIntent.get(customer_id=customer.id, job=JobName.SYNC_KLAVIYO_PROFILES)
        assert intent.last_error and "Invalid email address" in intent.last_error
        integration = await status(shop, Platform.KLAVIYO)
        assert integration.last_error and "Invalid email address" in integration.last_error

    async def test_a_429_storm_hands_the_work_back_for_later(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Retry-After beyond what a job should sleep: held for that long, status recorded."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        await award(shop, await create_rule(shop), await create_customer(shop))
        with partner_mock() as mock:
            route = mock.post(f"{KLAVIYO}/api/profile-import").mock(
                return_value=httpx.Response(
                    429,
                    headers={"Retry-After": "60"},
                    json=klaviyo_errors("throttled", "Request was throttled.", status=429),
                )
            )
            done = await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)

        assert done == 0 and route.call_count == 1
        [held] = await pending(JobName.SYNC_KLAVIYO_PROFILES, shop)
        assert held.claimed_until is not None and held.claimed_until > held.created_at
        assert "429" in ((await status(shop, Platform.KLAVIYO)).last_error or "")

    async def test_500s_and_timeouts_are_retried_then_held(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """A 500, then a timeout, then success: one profile written, events sent once."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        await award(shop, await create_rule(shop), await create_customer(shop))
        with partner_mock() as mock:
            profiles = mock.post(f"{KLAVIYO}/api/profile-import").mock(
                side_effect=[
                    httpx.Response(500),
                    httpx.ReadTimeout("slow"),
                    httpx.Response(201, json=KLAVIYO_PROFILE),
                ]
            )
            events = mock.post(f"{KLAVIYO}/api/events").mock(return_value=httpx.Response(202))
            done = await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)
        assert done == 1 and profiles.call_count == 3 and events.call_count == 1

        await award(shop, await create_rule(shop), await create_customer(shop))
        with partner_mock() as mock:
            mock.post(f"{KLAVIYO}/api/profile-import").mock(return_value=httpx.Response(503))
            done = await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)
        assert done == 0
        [held] = await pending(JobName.SYNC_KLAVIYO_PROFILES, shop)
        assert held.last_error and "503" in held.last_error


class TestOmnisend:
    async def test_contact_upsert_and_events_in_the_dated_api_shape(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.OMNISEND)
        customer = await create_customer(shop)
        await award_many(shop, customer, 3, points=20)

        with partner_mock() as mock:
            contacts = mock.post(f"{OMNISEND}/contacts", headers=OMNISEND_HEADERS).mock(
                return_value=httpx.Response(200, json={"id": "60a6"})
            )
            events = mock.post(f"{OMNISEND}/events", headers=OMNISEND_HEADERS).mock(
                return_value=httpx.Response(202)
            )
            done = await run_job(JobName.SYNC_OMNISEND_CONTACTS, deps, shop)
            assert mock.refusals == []  # every request passed the vendor's contract

        assert done == 3 and contacts.call_count == 1 and events.call_count == 3
        [contact] = sent(contacts)
        assert contact["identifiers"] == [
            {"type": "email", "id": customer.email, "sendWelcomeMessage": False}
        ]
        assert contact["customProperties"]["loyalty_points_balance"] == 60
        bodies = sent(events)
        assert {b["eventName"] for b in bodies} == {"loyalty points earned"}
        assert len({b["eventID"] for b in bodies}) == 3
        assert all(b["contact"] == {"email": customer.email} for b in bodies)
        assert (await status(shop, Platform.OMNISEND)).last_success_at is not None


class TestPostscript:
    async def test_patches_an_existing_subscriber_and_sends_events(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.POSTSCRIPT)
        customer = await create_customer(shop)
        await award_many(shop, customer, 2, points=15)
        lookup = {
            "page_info": {"page": 1, "total_pages": 1},
            "subscribers": [{"id": "s_abc", "properties": {}}],
        }
        with partner_mock() as mock:
            find = mock.get(
                f"{POSTSCRIPT}/api/v2/subscribers",
                params={"shopify_customer_id__eq": str(customer.shopify_customer_id)},
                headers=POSTSCRIPT_HEADERS,
            ).mock(return_value=httpx.Response(200, json=lookup))
            patch = mock.patch(f"{POSTSCRIPT}/api/v2/subscribers/s_abc").mock(
                return_value=httpx.Response(200, json={"id": "s_abc"})
            )
            events = mock.post(f"{POSTSCRIPT}/api/v2/events").mock(
                return_value=httpx.Response(202, json={"event_ids": ["1"]})
            )
            # No route creates a subscriber: respx fails any request it has no route for.
            done = await run_job(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, deps, shop)
            assert mock.refusals == []  # every request passed the vendor's contract

        assert done == 2 and find.call_count == 1 and patch.call_count == 1
        [properties] = sent(patch)
        assert properties["properties"]["loyalty_points_balance"] == 30
        bodies = sent(events)
        assert {b["type"] for b in bodies} == {"LoyaltyPointsEarned"}
        assert len({b["external_id"] for b in bodies}) == 2
        assert all(b["subscriber_id"] == "s_abc" for b in bodies)

    async def test_a_customer_who_is_not_a_subscriber_is_skipped_not_created(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Looked up by Shopify id, then email; not found: no write, no event, completed."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.POSTSCRIPT)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop), customer)
        empty = {"page_info": {"page": 1, "total_pages": 0}, "subscribers": []}
        with partner_mock() as mock:
            by_id = mock.get(
                f"{POSTSCRIPT}/api/v2/subscribers",
                params={"shopify_customer_id__eq": str(customer.shopify_customer_id)},
            ).mock(return_value=httpx.Response(200, json=empty))
            by_email = mock.get(
                f"{POSTSCRIPT}/api/v2/subscribers", params={"email__eq": customer.email}
            ).mock(return_value=httpx.Response(200, json=empty))
            done = await run_job(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, deps, shop)
            assert mock.refusals == []  # every request passed the vendor's contract

        assert done == 1 and by_id.call_count == 1 and by_email.call_count == 1
        assert await pending(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, shop) == []


class TestUninstalledShop:
    async def test_no_platform_is_called_and_nothing_is_left_pending(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        shop = await connected_shop(settings)
        for platform in Platform:
            await enable(settings, shop, platform)
        await award(shop, await create_rule(shop), await create_customer(shop))
        await Shop.filter(id=shop.id).update(uninstalled_at=shop.installed_at)

        with partner_mock(assert_all_called=False) as mock:
            anything = mock.route()
            for job in (
                JobName.SYNC_KLAVIYO_PROFILES,
                JobName.SYNC_OMNISEND_CONTACTS,
                JobName.SYNC_POSTSCRIPT_SUBSCRIBERS,
            ):
                await run_job(job, deps, shop)

        assert anything.call_count == 0
        left = await OutboxIntent.filter(shop_id=shop.id, completed_at__isnull=True).values_list(
            "job", flat=True
        )
        # only the jobs not run here
        assert sorted(left) == [JobName.SEND_FLOW_TRIGGERS, JobName.SYNC_SHOPIFY_METAFIELDS]


class TestLifecycleEvents:
    async def test_each_loyalty_event_reaches_klaviyo_under_its_metric_name(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Earned, pending, approved, tier changed, expired and expiring soon: each once, by
        name."""
        shop = await eventful_shop(settings, Platform.KLAVIYO)

        with partner_mock() as mock:
            mock.post(f"{KLAVIYO}/api/profile-import").mock(
                return_value=httpx.Response(200, json=KLAVIYO_PROFILE)
            )
            events = mock.post(f"{KLAVIYO}/api/events").mock(return_value=httpx.Response(202))
            await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)
            await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)
            assert mock.refusals == []  # every request passed the vendor's contract

        names = sorted(
            b["data"]["attributes"]["metric"]["data"]["attributes"]["name"] for b in sent(events)
        )
        assert names == [
            "Loyalty Points Approved",
            "Loyalty Points Earned",
            "Loyalty Points Expired",
            "Loyalty Points Expiring Soon",
            "Loyalty Points Pending",
            "Loyalty VIP Tier Changed",
        ]
        assert len({b["data"]["attributes"]["unique_id"] for b in sent(events)}) == 6
