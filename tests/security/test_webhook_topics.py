"""Issue 12, item 1: a signed webhook body is trusted only for what its topic sends.

Shopify's HMAC signs the body, not `X-Shopify-Topic`, `X-Shopify-Shop-Domain` or
`X-Shopify-Triggered-At`: anyone holding one authentic body can post it again under other
headers. Every test here goes through the real route with a real signature, on SQLite and
PostgreSQL, and checks that a refused replay writes nothing (customers, balances, ledger, shop,
API keys, activity, exports, syncs: `state()`), that the shop's API key still works, and that
the refusal is recorded on the stored delivery.

- The four attacks observed in the attack run, each twice: `seen` replays bytes the app has
  already handled (stopped by the body digest, unique across topics: answered "duplicate"),
  `unseen` replays bytes it never saw (stopped by the topic's payload class: recorded "not a
  <topic> body").
- Two matrices driven by Shopify's own example bodies (standins.webhook_examples): every
  example, handled under its topic and re-sent under every other subscribed topic, is a
  duplicate; never seen, it is refused under every other topic except the pairs whose bodies
  Shopify itself may send under both (`SAME_BODY`).
- The destructive topics' exact-match rules: shop/redact after app/uninstalled + 48 h and for
  the shop's own id; customers/redact for the customer named, never a look-alike;
  app/uninstalled for the shop's own Shop object, with X-Shopify-Triggered-At only ever a veto.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from loyalty.clock import utcnow
from loyalty.models import (
    Activity,
    ApiKey,
    Customer,
    DataRequest,
    EarningHistoryEntry,
    OutboxIntent,
    RuleCategory,
    Shop,
    WebhookEvent,
)
from loyalty.webhooks.process import process_webhooks
from standins.webhook_examples import example, subscribed_topics
from tests.factories import create_api_key, create_customer, create_rule, create_shop
from tests.shopify_webhooks import (
    ROUTE_BY_TOPIC,
    customer_payload,
    encode,
    order_payload,
    run_jobs,
    webhook_headers,
)
from web.state import Services

SUBDOMAIN = "bound-shop"
SHOP = f"{SUBDOMAIN}.myshopify.com"
SHOPIFY_SHOP_ID = 548380009  # the id in Shopify's app/uninstalled and app/scopes_update examples
TOPICS = subscribed_topics()

# Topic pairs under which Shopify may send the very same bytes, both genuine: create and update
# of one customer; an order paid and cancelled (Shopify's own examples of the two are the same
# bytes); and the two tag events, which have one shape (nothing in the body says which it is).
# Only the digest, unique across topics, stops a body handled under one from acting again under
# the other.
SAME_BODY = {
    frozenset({"customers/create", "customers/update"}),
    frozenset({"orders/paid", "orders/cancelled"}),
    frozenset({"customer.tags_added", "customer.tags_removed"}),
}


class Merchant:
    """The shop under attack: installed, with an API key, a customer holding points from a
    paid order, and the customers Shopify's examples name."""

    def __init__(self, shop: Shop, key: str, customer: Customer) -> None:
        self.shop = shop
        self.key = key
        self.customer = customer


async def merchant(client: httpx.AsyncClient, services: Services, **shop_fields: Any) -> Merchant:
    fields: dict[str, Any] = {
        "domain": SHOP,
        "installed_at": utcnow() - timedelta(days=1),
        "access_token_enc": "enc-access",
        "refresh_token_enc": "enc-refresh",
        "scopes": "read_customers,read_orders",
        "exclusion_tag": "tag2",
    }
    shop = await create_shop(**(fields | shop_fields))
    await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
    key = (await create_api_key(shop)).secret
    compliance = example("customers/redact")["customer"]
    await create_customer(
        shop, shopify_customer_id=compliance["id"], email=compliance["email"], tags="vip"
    )
    await create_customer(
        shop, shopify_customer_id=1, tags="tag1, tag2", is_excluded=True, excluded_by="tag"
    )
    await create_customer(shop, shopify_customer_id=example("customers/create")["id"])
    paid = order_payload(5001, customer=customer_payload(77, email="rosa@example.com"))
    assert (await post(client, "orders/paid", encode(paid))).json()["status"] == "accepted"
    await run_jobs(services)
    customer = await Customer.get(shop=shop, shopify_customer_id=77)
    assert customer.points_balance == 100
    return Merchant(shop, key, customer)


async def post(
    client: httpx.AsyncClient,
    topic: str,
    body: bytes,
    *,
    webhook_id: str | None = None,
    triggered_at: str = "2026-11-25T10:00:00.123456789Z",
) -> httpx.Response:
    """`body` signed as Shopify signs it, posted under `topic` to that topic's route."""
    headers = webhook_headers(
        topic, body, shop=SHOP, webhook_id=webhook_id, triggered_at=triggered_at
    )
    response = await client.post(ROUTE_BY_TOPIC[topic], content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def state() -> dict[str, list[Any]]:
    """Everything a webhook could change, but the webhook store itself."""
    return {
        "shops": await Shop.all()
        .order_by("id")
        .values_list(
            "id",
            "domain",
            "installed_at",
            "uninstalled_at",
            "access_token_enc",
            "refresh_token_enc",
            "scopes",
            "shopify_shop_id",
        ),
        "api_keys": await ApiKey.all().order_by("id").values_list("id", "key_hash", "revoked_at"),
        "customers": await Customer.all()
        .order_by("id")
        .values_list(
            "id",
            "shopify_customer_id",
            "email",
            "first_name",
            "last_name",
            "tags",
            "is_excluded",
            "excluded_by",
            "points_balance",
            "pending_points",
            "lifetime_points",
            "redeemed_points",
            "redacted_at",
            "updated_at",
        ),
        "entries": await EarningHistoryEntry.all()
        .order_by("id")
        .values_list("id", "points", "status", "reversed_entry_id"),
        "activity": await Activity.all().order_by("id").values_list("id", "kind"),
        "exports": await DataRequest.all().order_by("id").values_list("id", "shopify_request_id"),
        "intents": await OutboxIntent.all().order_by("id").values_list("id", "completed_at"),
    }


async def assert_key_works(client: httpx.AsyncClient, key: str) -> None:
    """The shop's API key still authenticates (an uninstalled shop's keys answer 401)."""
    response = await client.get("/api/v1/customers", headers={"Authorization": key})
    assert response.status_code == 200, response.text


async def refused(webhook_id: str, topic: str) -> str:
    """The stored delivery was closed with its reason, and no effect."""
    event = await WebhookEvent.get(webhook_id=webhook_id)
    assert event.processed_at is not None and event.last_error is not None
    assert event.last_error.startswith(f"not a {topic} body: "), event.last_error
    return event.last_error


def other_bytes(payload: dict[str, Any]) -> bytes:
    """The same body serialized differently: bytes the app has never seen (as a second
    subscription's delivery may be)."""
    return json.dumps(payload, indent=1).encode()


async def replay(
    client: httpx.AsyncClient, services: Services, topic: str, body: bytes
) -> tuple[str, str]:
    """Post `body` under `topic` with fresh headers and a fresh trigger time; run the jobs."""
    webhook_id = f"replay-{uuid.uuid4()}"
    fresh = utcnow().isoformat().replace("+00:00", "Z")
    response = await post(client, topic, body, webhook_id=webhook_id, triggered_at=fresh)
    await run_jobs(services)
    return response.json()["status"], webhook_id


SEEN = pytest.mark.parametrize("seen", [True, False], ids=["seen", "unseen"])


async def attack(
    client: httpx.AsyncClient,
    services: Services,
    *,
    body: bytes,
    topic: str,
    seen_as: str | None = None,
    refusal: str = "",
) -> None:
    """Deliver `body` genuinely under `seen_as` first (if given), then replay it under
    `topic`: nothing changes, and the replay is a duplicate (`seen_as`) or is recorded as not
    `topic`'s body, saying `refusal` (never seen)."""
    if seen_as is not None:
        await post(client, seen_as, body)
        await run_jobs(services)
    before = await state()
    status, webhook_id = await replay(client, services, topic, body)
    assert await state() == before
    if seen_as is not None:
        assert status == "duplicate"
        assert not await WebhookEvent.filter(webhook_id=webhook_id).exists()
    else:
        assert refusal in await refused(webhook_id, topic)


class TestObservedAttacks:
    """Each fails on the code before issue 12: the replay acted."""

    @SEEN
    async def test_a_data_request_replayed_as_customers_redact_erases_nobody(
        self, client: httpx.AsyncClient, services: Services, seen: bool
    ) -> None:
        """customers/data_request's body has the customer, not `orders_to_redact`."""
        world = await merchant(client, services)
        request = example("customers/data_request", shop=SUBDOMAIN)
        request["customer"] |= {"id": 77, "email": "rosa@example.com"}
        await attack(
            client,
            services,
            body=encode(request),
            topic="customers/redact",
            seen_as="customers/data_request" if seen else None,
            refusal="data_request",
        )
        await world.customer.refresh_from_db()
        assert (world.customer.email, world.customer.points_balance) == ("rosa@example.com", 100)
        assert await DataRequest.filter(shopify_customer_id=77).exists() == seen
        await assert_key_works(client, world.key)

    @SEEN
    async def test_a_data_request_replayed_as_shop_redact_deletes_nothing(
        self, client: httpx.AsyncClient, services: Services, seen: bool
    ) -> None:
        """Even for a shop uninstalled 49 hours ago, where a real shop/redact would act: a
        shop/redact body is exactly `shop_id` and `shop_domain`."""
        await merchant(client, services, uninstalled_at=utcnow() - timedelta(hours=49))
        await attack(
            client,
            services,
            body=encode(example("customers/data_request", shop=SUBDOMAIN)),
            topic="shop/redact",
            seen_as="customers/data_request" if seen else None,
            refusal="customer: Extra inputs are not permitted",
        )
        assert await Shop.filter(domain=SHOP).exists()

    @SEEN
    async def test_a_paid_order_replayed_as_orders_cancelled_keeps_its_points(
        self, client: httpx.AsyncClient, services: Services, seen: bool
    ) -> None:
        """An orders/paid body with `cancelled_at: null` is not a cancellation. The order
        earned from its delivery in `merchant`; `seen` replays those bytes, `unseen` the same
        body in other bytes."""
        world = await merchant(client, services)
        paid = order_payload(5001, customer=customer_payload(77, email="rosa@example.com"))
        assert paid["cancelled_at"] is None
        await attack(
            client,
            services,
            body=encode(paid) if seen else other_bytes(paid),
            topic="orders/cancelled",
            seen_as="orders/paid" if seen else None,  # seen: the bytes `merchant` delivered
            refusal="cancelled_at",
        )
        await world.customer.refresh_from_db()
        assert (world.customer.points_balance, world.customer.lifetime_points) == (100, 100)
        assert not await EarningHistoryEntry.filter(reversed_entry_id__isnull=False).exists()

    @SEEN
    async def test_a_scopes_update_replayed_as_app_uninstalled_disables_nothing(
        self, client: httpx.AsyncClient, services: Services, seen: bool
    ) -> None:
        """With a fresh X-Shopify-Triggered-At (unsigned): a scopes_update body
        (`previous`/`current`) is not the Shop object app/uninstalled sends. The shop stays
        installed, its tokens and API keys work."""
        world = await merchant(client, services)
        await attack(
            client,
            services,
            body=encode(example("app/scopes_update") | {"current": ["read_customers"]}),
            topic="app/uninstalled",
            seen_as="app/scopes_update" if seen else None,
            refusal="previous",
        )
        shop = await Shop.get(domain=SHOP)
        assert shop.uninstalled_at is None and shop.access_token_enc == "enc-access"
        assert not await Activity.filter(kind="app_uninstalled").exists()
        await assert_key_works(client, world.key)


def example_body(topic: str) -> bytes:
    body = example(topic, shop=SUBDOMAIN)
    if topic == "app/uninstalled":
        body["myshopify_domain"] = SHOP  # see TestExactMatch: Shopify's example leaves it null
    return encode(body)


class TestEveryExampleUnderEveryOtherTopic:
    @pytest.mark.parametrize("topic", TOPICS)
    async def test_a_handled_example_resent_under_any_other_topic_is_a_duplicate(
        self, topic: str, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Handled under its own topic, then re-sent under each of the other eleven: each
        answer is "duplicate", nothing is stored, nothing changes."""
        world = await merchant(client, services)
        body = example_body(topic)
        assert (await post(client, topic, body)).json()["status"] == "accepted"
        await run_jobs(services)
        before, stored = await state(), await WebhookEvent.all().count()
        for other in TOPICS:
            if other != topic:
                status, _ = await replay(client, services, other, body)
                assert status == "duplicate", other
        assert (await state(), await WebhookEvent.all().count()) == (before, stored)
        if topic not in {"app/uninstalled", "shop/redact"}:
            await assert_key_works(client, world.key)

    async def test_one_body_posted_under_every_topic_at_once_is_stored_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Twelve concurrent deliveries of one body, one per topic: one accepted, the rest
        duplicates, however the writes interleave (the digest is a unique constraint)."""
        await merchant(client, services)
        stored = await WebhookEvent.all().count()
        body = example_body("customers/update")
        responses = await asyncio.gather(*(post(client, topic, body) for topic in TOPICS))
        statuses = sorted(response.json()["status"] for response in responses)
        assert statuses == ["accepted"] + ["duplicate"] * (len(TOPICS) - 1)
        assert await WebhookEvent.all().count() == stored + 1

    @pytest.mark.parametrize("topic", TOPICS)
    async def test_an_example_never_seen_is_refused_under_every_other_topic(
        self, topic: str, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Sent only under another topic, Shopify's example of `topic` is recorded as not that
        topic's body, with no effect, except where Shopify may send the same bytes under both
        (`SAME_BODY`)."""
        world = await merchant(client, services)
        body = example_body(topic)
        before = await state()
        for other in TOPICS:
            if other == topic or frozenset({topic, other}) in SAME_BODY:
                continue
            # The same bytes once stored cannot come in again: each topic gets its own copy.
            copy = body if other == TOPICS[0] else body + b" " * TOPICS.index(other)
            status, webhook_id = await replay(client, services, other, copy)
            assert status == "accepted", other
            await refused(webhook_id, other)
        assert await state() == before
        await assert_key_works(client, world.key)


def shop_redact(**fields: Any) -> bytes:
    return encode({"shop_id": SHOPIFY_SHOP_ID, "shop_domain": SHOP} | fields)


async def last_error(webhook_id: str) -> str | None:
    return (await WebhookEvent.get(webhook_id=webhook_id)).last_error


class TestShopRedact:
    async def test_after_the_uninstall_and_48_hours_the_shop_is_deleted(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The genuine case still works: exactly the shop's id and domain, 49 h after."""
        await merchant(client, services, uninstalled_at=utcnow() - timedelta(hours=49))
        await replay(client, services, "shop/redact", shop_redact())
        assert not await Shop.filter(domain=SHOP).exists()
        assert await Customer.all().count() == 0

    async def test_no_body_the_redacted_shop_was_sent_acts_on_its_next_install(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The shop's deliveries keep their digests after it is deleted: installed afresh under
        the same domain, its old orders/paid and app/uninstalled bodies are duplicates."""
        await merchant(client, services)
        gone = encode(example("app/uninstalled") | {"myshopify_domain": SHOP, "name": "Shop"})
        await replay(client, services, "app/uninstalled", gone)
        await Shop.filter(domain=SHOP).update(uninstalled_at=utcnow() - timedelta(hours=49))
        await replay(client, services, "shop/redact", shop_redact())
        assert not await Shop.filter(domain=SHOP).exists()
        shop = await create_shop(domain=SHOP, installed_at=utcnow())  # installed afresh
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        key = (await create_api_key(shop)).secret
        paid = order_payload(5001, customer=customer_payload(77, email="rosa@example.com"))
        before = await state()
        for topic, body in [
            ("orders/paid", encode(paid)),
            ("app/uninstalled", gone),
            ("shop/redact", shop_redact()),
        ]:
            assert (await replay(client, services, topic, body))[0] == "duplicate", topic
        assert await state() == before
        await assert_key_works(client, key)

    async def test_for_an_installed_shop_it_is_refused(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Shopify sends shop/redact only after app/uninstalled, never after a reinstall."""
        world = await merchant(client, services)
        before = await state()
        _, webhook_id = await replay(client, services, "shop/redact", shop_redact())
        assert await state() == before
        error = await last_error(webhook_id)
        assert error is not None and error.startswith("refused: shop/redact for a shop that has")
        await assert_key_works(client, world.key)

    async def test_within_48_hours_it_is_held_and_refused_after_a_reinstall(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """An hour after the uninstall it is held until 48 h after it, not refused (our
        uninstall time may trail Shopify's); a reinstall meanwhile refuses it."""
        uninstalled = utcnow() - timedelta(hours=1)
        await merchant(client, services, uninstalled_at=uninstalled)
        before = await state()
        _, held_id = await replay(client, services, "shop/redact", shop_redact())
        assert await state() == before
        event = await WebhookEvent.get(webhook_id=held_id)
        assert event.processed_at is None and event.claimed_until is not None
        assert event.claimed_until == uninstalled + timedelta(hours=48)
        # Reinstalled before it was due; the hold lapses: refused when it comes round.
        await Shop.filter(domain=SHOP).update(uninstalled_at=None)
        await WebhookEvent.filter(id=event.id).update(claimed_until=None)
        reinstalled = await state()
        assert event.shop_id is not None
        assert (await process_webhooks(shop_id=event.shop_id)).failed == 1
        assert (await last_error(held_id) or "").startswith("refused: ")
        assert await state() == reinstalled

    async def test_a_held_redaction_acts_once_due(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        await merchant(client, services, uninstalled_at=utcnow() - timedelta(hours=47))
        _, held_id = await replay(client, services, "shop/redact", shop_redact())
        event = await WebhookEvent.get(webhook_id=held_id)
        assert event.processed_at is None
        # Two hours later (as time passes: the uninstall moves back, the hold lapses).
        await Shop.filter(domain=SHOP).update(uninstalled_at=utcnow() - timedelta(hours=49))
        await WebhookEvent.filter(id=event.id).update(claimed_until=None)
        assert event.shop_id is not None
        assert (await process_webhooks(shop_id=event.shop_id)).handled == 1
        assert not await Shop.filter(domain=SHOP).exists()

    @pytest.mark.parametrize(
        ("fields", "reason"),
        [
            ({"shop_id": SHOPIFY_SHOP_ID + 1}, "it is for the shop with id"),
            ({"shop_domain": "other-shop.myshopify.com"}, "it is for 'other-shop.myshopify.com'"),
            ({"customer": {"id": 1}}, "customer: Extra inputs are not permitted"),
        ],
        ids=["other-shop-id", "other-domain", "extra-field"],
    )
    async def test_a_body_that_is_not_exactly_this_shops_is_refused(
        self,
        client: httpx.AsyncClient,
        services: Services,
        fields: dict[str, Any],
        reason: str,
    ) -> None:
        """The shop's Shopify id known (from its uninstall), 49 h after the uninstall."""
        await merchant(
            client,
            services,
            uninstalled_at=utcnow() - timedelta(hours=49),
            shopify_shop_id=SHOPIFY_SHOP_ID,
        )
        await attack(
            client, services, body=shop_redact(**fields), topic="shop/redact", refusal=reason
        )


def customer_redact(customer: dict[str, Any], orders: list[int] | None = None) -> bytes:
    body = example("customers/redact", shop=SUBDOMAIN) | {"customer": customer}
    return encode(body if orders is None else body | {"orders_to_redact": orders})


class TestCustomerRedact:
    async def test_the_customer_named_by_id_is_erased(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        world = await merchant(client, services)
        await replay(
            client, services, "customers/redact", customer_redact({"id": 77, "email": None})
        )
        await world.customer.refresh_from_db()
        assert world.customer.redacted_at is not None and world.customer.email is None

    async def test_an_unknown_id_never_erases_a_customer_who_shares_its_email(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Shopify names customer 78; ours with that email is customer 77: another person."""
        world = await merchant(client, services)
        body = customer_redact({"id": 78, "email": "Rosa@Example.com"})
        await replay(client, services, "customers/redact", body)
        await world.customer.refresh_from_db()
        assert world.customer.redacted_at is None
        assert world.customer.email == "rosa@example.com"

    async def test_by_email_only_when_exactly_one_customer_has_it(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        world = await merchant(client, services)
        twin = await create_customer(world.shop, email="ROSA@example.com")
        await replay(
            client, services, "customers/redact", customer_redact({"email": "rosa@example.com"})
        )
        for customer in (world.customer, twin):
            await customer.refresh_from_db()
            assert customer.redacted_at is None
        await twin.delete()
        body = customer_redact({"email": "rosa@example.com"}, orders=[5001])  # a later request
        await replay(client, services, "customers/redact", body)
        await world.customer.refresh_from_db()
        assert world.customer.redacted_at is not None

    async def test_a_body_naming_no_customer_is_refused(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        await merchant(client, services)
        await attack(
            client,
            services,
            body=customer_redact({"phone": "555"}),
            topic="customers/redact",
            refusal="names no customer",
        )


def uninstalled(**fields: Any) -> bytes:
    body = example("app/uninstalled")
    return encode(body | {"myshopify_domain": SHOP, "domain": "shop.example"} | fields)


class TestAppUninstalled:
    async def test_the_shops_own_shop_object_uninstalls_and_records_its_id(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Shopify's example with the shop's domain filled in (the docs' example leaves
        `myshopify_domain` null; Shop.myshopifyDomain is non-null in the Admin schema)."""
        world = await merchant(client, services)
        await replay(client, services, "app/uninstalled", uninstalled())
        shop = await Shop.get(domain=SHOP)
        assert shop.uninstalled_at is not None and shop.access_token_enc is None
        assert shop.shopify_shop_id == SHOPIFY_SHOP_ID
        response = await client.get("/api/v1/customers", headers={"Authorization": world.key})
        assert response.status_code == 401

    @pytest.mark.parametrize(
        ("fields", "reason"),
        [
            ({"myshopify_domain": "other-shop.myshopify.com"}, "'other-shop.myshopify.com'"),
            ({"myshopify_domain": None}, "myshopify_domain: Input should be a valid string"),
            ({"id": SHOPIFY_SHOP_ID + 1}, "it is for the shop with id"),
        ],
        ids=["other-domain", "no-domain", "other-id"],
    )
    async def test_another_shops_object_is_refused(
        self,
        client: httpx.AsyncClient,
        services: Services,
        fields: dict[str, Any],
        reason: str,
    ) -> None:
        world = await merchant(client, services, shopify_shop_id=SHOPIFY_SHOP_ID)
        await attack(
            client, services, body=uninstalled(**fields), topic="app/uninstalled", refusal=reason
        )
        await assert_key_works(client, world.key)

    async def test_the_unsigned_trigger_time_can_only_veto(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """X-Shopify-Triggered-At before the shop's latest install: a stale uninstall, ignored.
        A fresh one is what the attack sent: it is no reason to act (see TestObservedAttacks)."""
        world = await merchant(client, services)
        before = await state()
        stale = (utcnow() - timedelta(days=2)).isoformat().replace("+00:00", "Z")
        await post(client, "app/uninstalled", uninstalled(), triggered_at=stale)
        await run_jobs(services)
        assert await state() == before
        await assert_key_works(client, world.key)


class TestTagEvents:
    async def test_an_event_without_occurred_at_is_refused_whatever_the_header_says(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Only the signed `occurredAt` orders tag events; the header is not signed."""
        await merchant(client, services)
        body = encode({"customerId": "gid://shopify/Customer/1", "tags": ["tag2"]})
        await attack(
            client, services, body=body, topic="customer.tags_removed", refusal="occurredAt"
        )
