"""`/webhooks/...` end to end: verification fails closed, each delivery is stored once and
acknowledged, and the job does each topic's work (in process here; tests/workers runs arq)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
from asgi_lifespan import LifespanManager

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import (
    Activity,
    Customer,
    DataRequest,
    EarningHistoryEntry,
    OutboxIntent,
    RuleCategory,
    Shop,
    WebhookEvent,
)
from loyalty.settings import Settings
from tests.factories import create_customer, create_rule, create_shop
from tests.shopify_webhooks import (
    customer_payload,
    deliver,
    encode,
    order_payload,
    refund_payload,
    run_jobs,
    tags_payload,
    webhook_headers,
)
from web.app import create_app
from web.state import Services

SHOP = "webhook-shop.myshopify.com"


async def nothing_stored() -> bool:
    return await WebhookEvent.all().count() == 0 and await Shop.all().count() == 0


class TestVerification:
    async def test_a_missing_hmac_is_refused(self, client: httpx.AsyncClient) -> None:
        """No X-Shopify-Hmac-Sha256: 400, nothing stored, no shop created."""
        body = encode(order_payload(1, customer=None))
        headers = webhook_headers("orders/paid", body, shop=SHOP)
        del headers["X-Shopify-Hmac-Sha256"]
        response = await client.post("/webhooks/orders", content=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "missing_hmac_header"
        assert await nothing_stored()

    async def test_a_signature_made_with_another_secret_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        """A body signed with the wrong secret: 401, nothing stored."""
        response = await deliver(
            client, "orders/paid", order_payload(1, customer=None), shop=SHOP, secret="forged"
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "invalid_hmac"
        assert await nothing_stored()

    async def test_a_body_changed_after_signing_is_refused(self, client: httpx.AsyncClient) -> None:
        """The signature of the original body does not cover a tampered one: 401."""
        body = encode(order_payload(1, customer=None, subtotal="1.00"))
        headers = webhook_headers("orders/paid", body, shop=SHOP)
        tampered = body.replace(b'"1.00"', b'"9999.00"')
        assert tampered != body
        response = await client.post("/webhooks/orders", content=tampered, headers=headers)
        assert response.status_code == 401
        assert await nothing_stored()

    async def test_a_topic_sent_to_another_groups_route_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        """orders/paid, correctly signed, posted to /webhooks/customers: 400, nothing stored."""
        response = await deliver(
            client,
            "orders/paid",
            order_payload(1, customer=None),
            shop=SHOP,
            route="/webhooks/customers",
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "wrong_topic"
        assert await nothing_stored()

    async def test_a_missing_webhook_id_is_refused(self, client: httpx.AsyncClient) -> None:
        """Without X-Shopify-Webhook-Id there is nothing to deduplicate on: 400."""
        body = encode(customer_payload(5))
        headers = webhook_headers("customers/create", body, shop=SHOP)
        del headers["X-Shopify-Webhook-Id"]
        response = await client.post("/webhooks/customers", content=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "missing_webhook_id"
        assert await nothing_stored()

    async def test_a_shop_domain_that_is_not_myshopify_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        """A signed delivery naming no myshopify.com shop: 400, no shop created."""
        for shop in ("evil.com", "a" * 300 + ".myshopify.com", ""):
            response = await deliver(client, "customers/create", customer_payload(5), shop=shop)
            assert response.status_code == 400
        assert await nothing_stored()

    async def test_get_is_not_a_delivery(self, client: httpx.AsyncClient) -> None:
        """Only POST is routed: 405 with a JSON error."""
        response = await client.get("/webhooks/orders")
        assert response.status_code == 405
        assert response.json()["errors"][0]["status"] == "405"

    async def test_an_oversized_body_is_refused_before_it_is_read(
        self, client: httpx.AsyncClient
    ) -> None:
        """Over 2 MB: 413, nothing stored."""
        body = b"{" + b" " * (2 * 1024 * 1024) + b"}"
        headers = webhook_headers("orders/paid", body, shop=SHOP)
        response = await client.post("/webhooks/orders", content=body, headers=headers)
        assert response.status_code == 413
        assert await nothing_stored()

    async def test_a_body_that_is_not_utf8_is_refused(self, client: httpx.AsyncClient) -> None:
        """Bytes that do not decode cannot have been signed as Shopify signs: 400."""
        body = b'{"id": "\xff"}'
        headers = webhook_headers("orders/paid", body, shop=SHOP)
        response = await client.post("/webhooks/orders", content=body, headers=headers)
        assert response.status_code == 400
        assert await nothing_stored()

    async def test_a_signed_body_nested_too_deeply_is_recorded_as_failed(
        self, client: httpx.AsyncClient
    ) -> None:
        """shopify_app parses the body for its log and cannot parse this one; the HMAC is checked
        first, so the authentic delivery is acknowledged and stored already failed, never 500
        (forged ones: tests/security/test_webhook_verification.py)."""
        await create_shop(domain=SHOP)
        body = b"[" * 200_000 + b"]" * 200_000
        headers = webhook_headers("orders/paid", body, shop=SHOP, webhook_id="wh-deep")
        response = await client.post("/webhooks/orders", content=body, headers=headers)
        assert response.status_code == 200
        event = await WebhookEvent.get(webhook_id="wh-deep")
        assert event.processed_at is not None and event.payload == {}
        assert event.last_error is not None and "nests more than" in event.last_error

    async def test_the_previous_secret_is_accepted_while_rotating(self, settings: Settings) -> None:
        """With SHOPIFY_OLD_API_SECRET set, a body signed with it is accepted."""
        app = create_app(
            settings.with_overrides(shopify_old_api_secret="old-secret"),
            manage_db=False,
            job_defer=0,
        )
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="https://loyalty.test"
            ) as http,
        ):
            response = await deliver(
                http, "customers/create", customer_payload(5), shop=SHOP, secret="old-secret"
            )
        assert response.status_code == 200

    async def test_without_shopify_credentials_webhooks_are_unavailable(
        self, settings: Settings
    ) -> None:
        """No SHOPIFY_API_KEY/SECRET: 503 before anything is read."""
        app = create_app(
            settings.with_overrides(shopify_api_key="", shopify_api_secret=""),
            manage_db=False,
            job_defer=0,
        )
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="https://loyalty.test"
            ) as http,
        ):
            response = await deliver(http, "customers/create", customer_payload(5), shop=SHOP)
        assert response.status_code == 503
        assert await nothing_stored()


class TestDelivery:
    async def test_a_delivery_is_stored_and_acknowledged(self, client: httpx.AsyncClient) -> None:
        """200 at once; the event row holds the headers and the body."""
        await create_shop(domain=SHOP)
        body = encode(customer_payload(5))
        headers = webhook_headers(
            "customers/create", body, shop=SHOP, webhook_id="wh-1", event_id="ev-1"
        )
        response = await client.post("/webhooks/customers", content=body, headers=headers)
        assert response.status_code == 200
        assert response.json() == {"status": "accepted"}
        event = await WebhookEvent.get(webhook_id="wh-1")
        shop = await Shop.get(domain=SHOP)
        assert (event.shop_id, event.topic, event.event_id) == (shop.id, "customers/create", "ev-1")
        assert event.api_version == "2026-10"
        assert event.triggered_at is not None and event.triggered_at.year == 2026
        assert event.payload["id"] == 5 and event.processed_at is None

    async def test_a_repeated_delivery_is_acknowledged_and_handled_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The same webhook id twice: both 200, one row, points awarded once."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        payload = order_payload(1001, customer=customer_payload(77))
        first = await deliver(client, "orders/paid", payload, shop=SHOP, webhook_id="wh-dup")
        await run_jobs(services)
        again = await deliver(client, "orders/paid", payload, shop=SHOP, webhook_id="wh-dup")
        await run_jobs(services)
        assert (first.json(), again.json()) == ({"status": "accepted"}, {"status": "duplicate"})
        assert await WebhookEvent.filter(webhook_id="wh-dup").count() == 1
        customer = await Customer.get(shop=shop, shopify_customer_id=77)
        assert customer.points_balance == 100
        assert await EarningHistoryEntry.filter(order_id=1001).count() == 1

    async def test_a_signed_body_replayed_under_a_new_webhook_id_is_not_handled_again(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The HMAC covers only the body: resending a captured body with fresh headers is
        acknowledged as a duplicate and awards nothing more."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        payload = order_payload(1003, customer=customer_payload(79))
        first = await deliver(client, "orders/paid", payload, shop=SHOP, webhook_id="wh-original")
        replay = await deliver(client, "orders/paid", payload, shop=SHOP, webhook_id="wh-forged")
        await run_jobs(services)
        assert (first.json(), replay.json()) == ({"status": "accepted"}, {"status": "duplicate"})
        assert await WebhookEvent.all().count() == 1
        assert await EarningHistoryEntry.filter(order_id=1003).count() == 1

    async def test_a_signed_body_replayed_for_another_shop_is_not_handled(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """A body signed for one shop, resent naming another shop in the (unsigned) header:
        nothing is awarded in the other shop."""
        shop = await create_shop(domain=SHOP)
        other = await create_shop(domain="other-webhook-shop.myshopify.com")
        for s in (shop, other):
            await create_rule(s, category=RuleCategory.PURCHASE, action="place_order", points=1)
        payload = order_payload(1004, customer=customer_payload(80))
        await deliver(client, "orders/paid", payload, shop=SHOP, webhook_id="wh-a")
        replay = await deliver(client, "orders/paid", payload, shop=other.domain, webhook_id="wh-b")
        await run_jobs(services)
        assert replay.json() == {"status": "duplicate"}
        assert await EarningHistoryEntry.filter(shop_id=other.id).count() == 0
        assert await Customer.filter(shop_id=other.id).count() == 0

    async def test_concurrent_repeats_are_stored_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Ten simultaneous deliveries of one webhook id: one accepted, nine duplicates."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=2)
        body = encode(order_payload(1002, customer=customer_payload(78)))
        headers = webhook_headers("orders/paid", body, shop=SHOP, webhook_id="wh-race")
        responses = await asyncio.gather(
            *(client.post("/webhooks/orders", content=body, headers=headers) for _ in range(10))
        )
        assert {r.status_code for r in responses} == {200}
        statuses = sorted(r.json()["status"] for r in responses)
        assert statuses == ["accepted"] + ["duplicate"] * 9
        await run_jobs(services)
        assert await WebhookEvent.all().count() == 1
        assert (await Customer.get(shopify_customer_id=78)).points_balance == 200

    async def test_concurrent_deliveries_are_all_stored(self, client: httpx.AsyncClient) -> None:
        """Concurrent deliveries of one shop (one group commit): each stored, the shop once."""
        await create_shop(domain=SHOP)
        responses = await asyncio.gather(
            *(
                deliver(client, "customers/create", customer_payload(n), shop=SHOP)
                for n in range(1, 9)
            )
        )
        assert {r.status_code for r in responses} == {200}
        assert await Shop.filter(domain=SHOP).count() == 1
        assert await WebhookEvent.all().count() == 8

    async def test_a_body_that_is_not_json_is_recorded_as_failed(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Authentic but unusable: 200 (a retry would carry the same bytes), recorded failed."""
        await create_shop(domain=SHOP)
        body = b"not json"
        headers = webhook_headers("orders/paid", body, shop=SHOP, webhook_id="wh-garbage")
        response = await client.post("/webhooks/orders", content=body, headers=headers)
        assert response.status_code == 200
        await run_jobs(services)
        event = await WebhookEvent.get(webhook_id="wh-garbage")
        assert event.processed_at is not None
        assert event.last_error is not None and "not valid JSON" in event.last_error

    async def test_a_malformed_payload_fails_alone(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """An order without an id is recorded with a clear error; the next delivery is handled."""
        await create_shop(domain=SHOP)
        await deliver(
            client, "orders/paid", {"subtotal_price": "10.00"}, shop=SHOP, webhook_id="wh-bad"
        )
        await deliver(client, "customers/create", customer_payload(9), shop=SHOP)
        await run_jobs(services)
        bad = await WebhookEvent.get(webhook_id="wh-bad")
        assert bad.processed_at is not None
        assert bad.last_error == "not a orders/paid body: id: Field required"
        assert await Customer.filter(shopify_customer_id=9).exists()

    async def test_a_handled_delivery_keeps_no_personal_data(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Once handled, the row stays (for deduplication) but its payload is emptied."""
        await create_shop(domain=SHOP)
        await deliver(client, "customers/create", customer_payload(9), shop=SHOP, webhook_id="w9")
        await run_jobs(services)
        event = await WebhookEvent.get(webhook_id="w9")
        assert event.processed_at is not None and event.last_error is None
        assert event.payload == {}


class TestOrderTopics:
    async def test_orders_paid_delivered_three_times_awards_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Three deliveries of one order (three webhook ids, as with three subscriptions) award
        the purchase rule once."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=3)
        payload = order_payload(2001, customer=customer_payload(80), subtotal="49.99")
        for _ in range(3):
            response = await deliver(client, "orders/paid", payload, shop=SHOP)
            assert response.status_code == 200
        await run_jobs(services)
        customer = await Customer.get(shopify_customer_id=80)
        entries = await EarningHistoryEntry.filter(customer_id=customer.id)
        assert [(e.points, e.order_id, e.order_number) for e in entries] == [(149, 2001, "#2001")]
        assert customer.points_balance == 149 and customer.lifetime_points == 149
        assert await WebhookEvent.filter(processed_at__isnull=True).count() == 0
        assert await OutboxIntent.filter(
            customer_id=customer.id, job=JobName.SYNC_SHOPIFY_METAFIELDS
        ).exists()

    async def test_cancellation_and_refund_take_points_back(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """A 25 % refund takes back a quarter; the cancellation then takes the rest."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        await deliver(
            client, "orders/paid", order_payload(3001, customer=customer_payload(81)), shop=SHOP
        )
        await run_jobs(services)
        await deliver(client, "refunds/create", refund_payload(91, 3001, "25.00"), shop=SHOP)
        await run_jobs(services)
        customer = await Customer.get(shopify_customer_id=81)
        assert customer.points_balance == 75
        await deliver(
            client,
            "orders/cancelled",
            order_payload(3001, customer=customer_payload(81), cancelled_at="2026-11-27T10:00:00Z"),
            shop=SHOP,
        )
        await run_jobs(services)
        await customer.refresh_from_db()
        assert (customer.points_balance, customer.lifetime_points) == (0, 0)
        reversals = await EarningHistoryEntry.filter(reversed_entry_id__isnull=False).order_by("id")
        assert [(r.action, r.points) for r in reversals] == [
            ("order_refunded", -25),
            ("order_cancelled", -75),
        ]

    async def test_a_guest_order_earns_for_the_customer_with_that_email(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """customer null, email matching an existing customer (any case): they earn."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        known = await create_customer(shop, email="guest@example.com")
        payload = order_payload(3002, customer=None, email="Guest@Example.COM", subtotal="20.00")
        await deliver(client, "orders/paid", payload, shop=SHOP)
        await run_jobs(services)
        await known.refresh_from_db()
        assert known.points_balance == 20


class TestCustomerTopics:
    async def test_create_then_update_mirror_the_customer(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """customers/create creates; a newer customers/update changes names and email."""
        await create_shop(domain=SHOP)
        await deliver(client, "customers/create", customer_payload(50), shop=SHOP)
        await run_jobs(services)
        newer = customer_payload(
            50, email="ann.lee@example.com", last_name="Lee-Smith", updated_at="2026-11-26T10:00Z"
        )
        await deliver(client, "customers/update", newer, shop=SHOP)
        await run_jobs(services)
        customer = await Customer.get(shopify_customer_id=50)
        assert (customer.email, customer.email_key, customer.last_name) == (
            "ann.lee@example.com",
            "ann.lee@example.com",
            "Lee-Smith",
        )
        assert customer.shopify_created_at is not None
        assert customer.anniversary_date is not None and str(customer.anniversary_date) == (
            "2024-03-15"
        )

    async def test_an_older_update_arriving_late_changes_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Shopify does not deliver in order: the stored newer data wins."""
        await create_shop(domain=SHOP)
        newer = customer_payload(51, first_name="New", updated_at="2026-11-26T10:00:00Z")
        older = customer_payload(51, first_name="Old", updated_at="2026-11-25T10:00:00Z")
        await deliver(client, "customers/update", newer, shop=SHOP)
        await run_jobs(services)
        await deliver(client, "customers/update", older, shop=SHOP)
        await run_jobs(services)
        assert (await Customer.get(shopify_customer_id=51)).first_name == "New"

    async def test_customers_update_without_tags_leaves_an_excluded_customer_excluded(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """A 2026-07 customers/update body has no `tags`: it changes the name, and neither the
        tags nor the exclusion the tag event made."""
        await create_shop(domain=SHOP, exclusion_tag="no-loyalty")
        await deliver(client, "customers/create", customer_payload(53), shop=SHOP)
        added = tags_payload(53, ["no-loyalty"], "2026-11-25T11:00:00Z")
        await deliver(client, "customer.tags_added", added, shop=SHOP)
        newer = customer_payload(53, first_name="Anna", updated_at="2026-11-26T10:00:00Z")
        await deliver(client, "customers/update", newer, shop=SHOP)
        await run_jobs(services)
        customer = await Customer.get(shopify_customer_id=53)
        assert customer.first_name == "Anna" and customer.tags == "no-loyalty"
        assert (customer.is_excluded, customer.excluded_by) == (True, "tag")

    async def test_an_older_api_body_with_tags_touches_neither_tags_nor_exclusion(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Bodies before 2025-01 had `tags`: they are not read (tag events are the one source),
        so neither adding nor dropping the exclusion tag there moves anything."""
        await create_shop(domain=SHOP, exclusion_tag="no-loyalty")
        old_shape = customer_payload(54) | {"tags": "vip, no-loyalty"}
        await deliver(client, "customers/create", old_shape, shop=SHOP)
        await run_jobs(services)
        customer = await Customer.get(shopify_customer_id=54)
        assert (customer.is_excluded, customer.tags) == (False, "")
        added = tags_payload(54, ["no-loyalty"], "2026-11-25T11:00:00Z")
        await deliver(client, "customer.tags_added", added, shop=SHOP)
        untagged = customer_payload(54, updated_at="2026-11-26T10:00:00Z") | {"tags": ""}
        await deliver(client, "customers/update", untagged, shop=SHOP)
        await run_jobs(services)
        await customer.refresh_from_db()
        assert (customer.is_excluded, customer.excluded_by) == (True, "tag")


async def removed_then_added_earlier(
    client: httpx.AsyncClient, services: Services, customer_id: int, removed: str, added: str
) -> Customer:
    """A customer of a shop excluding by "no-loyalty"; then `removed` taken off at 11:00,
    delivered before `added` put on at 10:00."""
    await create_shop(domain=SHOP, exclusion_tag="no-loyalty")
    await deliver(client, "customers/create", customer_payload(customer_id), shop=SHOP)
    later = tags_payload(customer_id, [removed], "2026-11-25T11:00:00Z")
    await deliver(client, "customer.tags_removed", later, shop=SHOP)
    earlier = tags_payload(customer_id, [added], "2026-11-25T10:00:00Z")
    await deliver(client, "customer.tags_added", earlier, shop=SHOP)
    await run_jobs(services)
    return await Customer.get(shopify_customer_id=customer_id)


class TestTagTopics:
    """customer.tags_added / customer.tags_removed, in the shape of Shopify's 2026-07 example:
    `{"customerId": gid, "tags": [...], "occurredAt": ...}`."""

    async def test_adding_the_exclusion_tag_excludes_and_removing_it_includes(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Tag added (any case): excluded by "tag", with its activity row and syncs owed; tag
        removed: included again. The mirrored tags follow."""
        await create_shop(domain=SHOP, exclusion_tag="No-Loyalty")
        await deliver(client, "customers/create", customer_payload(52), shop=SHOP)
        await run_jobs(services)
        customer = await Customer.get(shopify_customer_id=52)
        created_intents = await OutboxIntent.filter(customer_id=customer.id).count()
        added = tags_payload(52, ["vip", "no-loyalty"], "2026-11-25T10:00:00Z")
        assert (await deliver(client, "customer.tags_added", added, shop=SHOP)).status_code == 200
        await run_jobs(services)
        await customer.refresh_from_db()
        assert (customer.is_excluded, customer.excluded_by) == (True, "tag")
        assert customer.tags == "vip, no-loyalty"
        assert await OutboxIntent.filter(customer_id=customer.id).count() > created_intents
        removed = tags_payload(52, ["NO-LOYALTY"], "2026-11-25T11:00:00Z")
        await deliver(client, "customer.tags_removed", removed, shop=SHOP)
        await run_jobs(services)
        await customer.refresh_from_db()
        assert (customer.is_excluded, customer.excluded_by, customer.tags) == (False, None, "vip")
        kinds = [a.kind async for a in Activity.filter(customer_id=customer.id).order_by("id")]
        assert kinds == [
            "customer_created",
            "customer_updated",
            "customer_excluded",
            "customer_updated",
            "customer_included",
        ]
        assert await WebhookEvent.filter(last_error__isnull=False).count() == 0

    async def test_an_older_event_arriving_late_never_undoes_a_newer_one(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The removal (11:00) is delivered before the addition it undid (10:00): the customer
        ends included, without the tag."""
        customer = await removed_then_added_earlier(
            client, services, 55, "no-loyalty", "no-loyalty"
        )
        assert (customer.is_excluded, customer.tags) == (False, "")
        assert not await Activity.filter(customer_id=customer.id, kind="customer_excluded").exists()

    async def test_a_late_event_about_one_tag_still_applies_after_one_about_another(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Newest wins per tag, not per customer: "vip" removed at 11:00 delivered first, then
        the exclusion tag added at 10:00: excluded."""
        customer = await removed_then_added_earlier(client, services, 56, "vip", "no-loyalty")
        assert (customer.is_excluded, customer.excluded_by) == (True, "tag")
        assert customer.tags == "no-loyalty"

    async def test_a_repeated_event_changes_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The same event again: the same bytes are a duplicate delivery; under another webhook
        id and serialized differently (as a second subscription would) it is handled and
        changes nothing: one exclusion, one activity row, one set of syncs."""
        await create_shop(domain=SHOP, exclusion_tag="no-loyalty")
        added = tags_payload(57, ["no-loyalty"], "2026-11-25T10:00:00Z")
        first = await deliver(client, "customer.tags_added", added, shop=SHOP, webhook_id="t-1")
        again = await deliver(client, "customer.tags_added", added, shop=SHOP, webhook_id="t-1")
        await run_jobs(services)
        customer = await Customer.get(shopify_customer_id=57)
        intents = await OutboxIntent.filter(customer_id=customer.id).count()
        body = json.dumps(added, indent=1).encode()
        headers = webhook_headers("customer.tags_added", body, shop=SHOP, webhook_id="t-2")
        other = await client.post("/webhooks/customers", content=body, headers=headers)
        await run_jobs(services)
        assert [r.json()["status"] for r in (first, again, other)] == [
            "accepted",
            "duplicate",
            "accepted",
        ]
        await customer.refresh_from_db()
        assert (customer.is_excluded, customer.tags) == (True, "no-loyalty")
        assert await Activity.filter(customer_id=customer.id, kind="customer_excluded").count() == 1
        assert await OutboxIntent.filter(customer_id=customer.id).count() == intents
        assert await WebhookEvent.filter(processed_at__isnull=True).count() == 0

    async def test_a_tag_event_for_an_unknown_customer_takes_effect_when_they_appear(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The exclusion tag added before the app heard of the customer: they are created
        excluded; customers/create then fills in their details, and their order earns nothing."""
        shop = await create_shop(domain=SHOP, exclusion_tag="no-loyalty")
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        added = tags_payload(58, ["no-loyalty"], "2026-11-25T10:00:00Z")
        await deliver(client, "customer.tags_added", added, shop=SHOP)
        await deliver(client, "customers/create", customer_payload(58), shop=SHOP)
        order = order_payload(5801, customer=customer_payload(58))
        await deliver(client, "orders/paid", order, shop=SHOP)
        await run_jobs(services)
        customer = await Customer.get(shopify_customer_id=58)
        assert (customer.email, customer.first_name) == ("ann@example.com", "Ann")
        assert (customer.is_excluded, customer.excluded_by) == (True, "tag")
        assert customer.points_balance == 0
        assert not await EarningHistoryEntry.filter(customer_id=customer.id).exists()

    async def test_removing_the_tag_never_includes_a_customer_staff_excluded(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Only what the tag did, its removal undoes: staff's exclusion stays."""
        shop = await create_shop(domain=SHOP, exclusion_tag="no-loyalty")
        await create_customer(
            shop, shopify_customer_id=59, is_excluded=True, excluded_by="staff", tags="no-loyalty"
        )
        removed = tags_payload(59, ["no-loyalty"], "2026-11-25T10:00:00Z")
        await deliver(client, "customer.tags_removed", removed, shop=SHOP)
        await run_jobs(services)
        customer = await Customer.get(shopify_customer_id=59)
        assert (customer.is_excluded, customer.excluded_by, customer.tags) == (True, "staff", "")

    async def test_a_body_that_names_no_customer_is_recorded_as_failed(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """`customerId` must be a Customer global id: anything else fails alone, recorded."""
        await create_shop(domain=SHOP)
        body = tags_payload(1, ["x"], "2026-11-25T10:00:00Z") | {
            "customerId": "gid://shopify/Order/1"
        }
        await deliver(client, "customer.tags_added", body, shop=SHOP, webhook_id="t-bad")
        await run_jobs(services)
        event = await WebhookEvent.get(webhook_id="t-bad")
        assert event.last_error is not None and "customerId" in event.last_error
        assert await Customer.all().count() == 0


class TestAppTopics:
    async def test_uninstall_marks_the_shop_and_deletes_its_tokens(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """app/uninstalled: uninstalled_at set, tokens gone, pending syncs stopped; twice is
        harmless."""
        shop = await create_shop(
            domain=SHOP,
            access_token_enc="enc-access",
            refresh_token_enc="enc-refresh",
        )
        customer = await create_customer(shop)
        await OutboxIntent.create(shop=shop, customer=customer, job=JobName.SYNC_KLAVIYO_PROFILES)
        body = {"id": 1, "name": "Shop", "myshopify_domain": SHOP, "domain": "shop.example"}
        for _ in range(2):
            assert (await deliver(client, "app/uninstalled", body, shop=SHOP)).status_code == 200
            await run_jobs(services)
        await shop.refresh_from_db()
        assert shop.uninstalled_at is not None
        assert (shop.access_token_enc, shop.refresh_token_enc) == (None, None)
        assert await OutboxIntent.filter(completed_at__isnull=True).count() == 0
        assert await WebhookEvent.filter(last_error__isnull=False).count() == 0

    async def test_scopes_update_records_the_current_scopes(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """app/scopes_update stores what Shopify now grants."""
        await create_shop(domain=SHOP, scopes="read_customers")
        body = {
            "id": 1,
            "previous": ["read_customers"],
            "current": ["read_customers", "read_orders"],
            "updated_at": "2026-11-25T10:00:00Z",
        }
        await deliver(client, "app/scopes_update", body, shop=SHOP)
        await run_jobs(services)
        assert (await Shop.get(domain=SHOP)).scopes == "read_customers,read_orders"


class TestComplianceTopics:
    async def test_data_request_assembles_a_downloadable_record(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """customers/data_request: a completed DataRequest with the profile and ledger."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        await deliver(
            client, "orders/paid", order_payload(4001, customer=customer_payload(60)), shop=SHOP
        )
        body = {
            "shop_id": 1,
            "shop_domain": SHOP,
            "orders_requested": [4001],
            "customer": {"id": 60, "email": "ann@example.com", "phone": None},
            "data_request": {"id": 9999},
        }
        await deliver(client, "customers/data_request", body, shop=SHOP)
        await run_jobs(services)
        request = await DataRequest.get(shopify_request_id=9999)
        assert request.completed_at is not None
        assert request.record["customer"]["email"] == "ann@example.com"
        assert [e["points"] for e in request.record["earning_history"]] == [100]

    async def test_customer_redact_erases_personal_data_and_keeps_totals(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """customers/redact: no email, names or tags left; balances and ledger stay."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        await deliver(
            client, "orders/paid", order_payload(4002, customer=customer_payload(61)), shop=SHOP
        )
        await run_jobs(services)
        body = {
            "shop_id": 1,
            "shop_domain": SHOP,
            "customer": {"id": 61, "email": "ann@example.com", "phone": None},
            "orders_to_redact": [4002],
        }
        await deliver(client, "customers/redact", body, shop=SHOP)
        await run_jobs(services)
        customer = await Customer.get(shop=shop)
        assert (customer.email, customer.first_name, customer.last_name) == (None, "", "")
        assert customer.shopify_customer_id == -customer.id and customer.redacted_at is not None
        assert customer.points_balance == 100
        assert await EarningHistoryEntry.filter(customer_id=customer.id).count() == 1

    async def test_shop_redact_deletes_the_shop(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """shop/redact, 48 hours after app/uninstalled: the shop and everything it owns are
        gone."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        await deliver(
            client, "orders/paid", order_payload(4003, customer=customer_payload(62)), shop=SHOP
        )
        await run_jobs(services)
        await Shop.filter(id=shop.id).update(uninstalled_at=utcnow() - timedelta(hours=49))
        await deliver(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}, shop=SHOP)
        await run_jobs(services)
        assert not await Shop.filter(domain=SHOP).exists()
        assert await Customer.all().count() == 0
        assert await EarningHistoryEntry.all().count() == 0
        # Its deliveries keep only their digests, so none of its bodies can act again.
        events = await WebhookEvent.all().values_list("shop_id", "shop_domain", "payload")
        assert events == [(None, "", {}), (None, "", {})]

    async def test_a_redact_body_for_another_shop_is_not_acted_on(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The HMAC covers the body, not the headers: a shop/redact body naming shop A, replayed
        under shop B's domain header, does not delete B."""
        await create_shop(domain=SHOP)
        body = {"shop_id": 1, "shop_domain": "other-shop.myshopify.com"}
        await deliver(client, "shop/redact", body, shop=SHOP, webhook_id="wh-replay")
        await run_jobs(services)
        assert await Shop.filter(domain=SHOP).exists()
        event = await WebhookEvent.get(webhook_id="wh-replay")
        assert event.last_error is not None and "other-shop.myshopify.com" in event.last_error
