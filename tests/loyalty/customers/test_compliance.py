"""Privacy requests (loyalty.customers.compliance), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from loyalty.customers.compliance import (
    REDACTED_EVENT,
    export_customer_data,
    list_data_requests,
    redact_customer,
    redact_shop,
)
from loyalty.customers.mirror import CustomerRecord
from loyalty.earning.purchases import PaidOrder, award_purchase
from loyalty.jobs import JobName
from loyalty.models import (
    Activity,
    ApiKey,
    Customer,
    DataRequest,
    EarningHistoryEntry,
    EarningRule,
    OutboxIntent,
    Shop,
    VipTier,
    WebhookEvent,
)
from loyalty.models.earning_rule import RuleCategory
from tests.factories import create_api_key, create_customer, create_rule, create_shop, create_tier

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def member(shop: Shop, **fields: object) -> Customer:
    """A customer with personal data, a tier and a purchase in the ledger."""
    tier = await create_tier(shop, name="Gold", points_required=0, points_multiplier=Decimal(1))
    await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
    customer = await create_customer(
        shop,
        email="Rosa@Example.com",
        first_name="Rosa",
        last_name="Diaz",
        tags="vip",
        date_of_birth=date(1990, 5, 17),
        anniversary_date=date(2020, 1, 2),
        vip_tier=tier,
        **fields,
    )
    order = PaidOrder(
        order_id=7100,
        order_number="#7100",
        subtotal=Decimal("42.00"),
        email=None,
        customer=CustomerRecord(shopify_customer_id=customer.shopify_customer_id),
    )
    await award_purchase(shop=shop, order=order, now=NOW)
    await customer.refresh_from_db()
    return customer


class TestExportCustomerData:
    async def test_assembles_profile_balances_tier_ledger_and_activity(self, db: str) -> None:
        shop = await create_shop()
        customer = await member(shop)
        request = await export_customer_data(
            shop=shop,
            shopify_customer_id=customer.shopify_customer_id,
            email=None,
            shopify_request_id=555,
            orders_requested=[7100],
            now=NOW,
        )
        record = request.record
        assert request.completed_at == NOW
        assert record["customer"]["email"] == "Rosa@Example.com"
        assert record["customer"]["date_of_birth"] == "1990-05-17"
        assert record["customer"]["points_balance"] == 42
        assert record["customer"]["vip_tier"] == {"name": "Gold", "points_multiplier": "1.00"}
        assert [(e["points"], e["order_number"]) for e in record["earning_history"]] == [
            (42, "#7100")
        ]
        assert "points_awarded" in [a["kind"] for a in record["activity"]]
        assert record["request"]["orders_requested"] == [7100]

    async def test_finds_the_customer_by_email_when_the_id_is_unknown(self, db: str) -> None:
        shop = await create_shop()
        await member(shop)
        request = await export_customer_data(
            shop=shop,
            shopify_customer_id=1,
            email="rosa@example.com",
            shopify_request_id=556,
            orders_requested=[],
            now=NOW,
        )
        assert request.record["customer"]["first_name"] == "Rosa"

    async def test_a_customer_we_never_saw_gets_an_empty_record(self, db: str) -> None:
        shop = await create_shop()
        request = await export_customer_data(
            shop=shop,
            shopify_customer_id=12345,
            email="nobody@example.com",
            shopify_request_id=557,
            orders_requested=[],
            now=NOW,
        )
        assert request.record["customer"] is None and request.completed_at is not None

    async def test_exports_are_listed_for_their_shop_newest_first(self, db: str) -> None:
        shop, other = await create_shop(), await create_shop()
        for request_id in (1, 2):
            await export_customer_data(
                shop=shop,
                shopify_customer_id=None,
                email="x@example.com",
                shopify_request_id=request_id,
                orders_requested=[],
                now=NOW,
            )
        listed = await list_data_requests(shop=shop)
        assert [r.shopify_request_id for r in listed] == [2, 1]
        assert await list_data_requests(shop=other) == []

    async def test_the_same_request_twice_is_exported_once(self, db: str) -> None:
        shop = await create_shop()
        customer = await member(shop)
        for _ in range(2):
            await export_customer_data(
                shop=shop,
                shopify_customer_id=customer.shopify_customer_id,
                email=None,
                shopify_request_id=558,
                orders_requested=[],
                now=NOW,
            )
        assert await DataRequest.filter(shopify_request_id=558).count() == 1


class TestRedactCustomer:
    async def test_erases_personal_data_and_keeps_anonymous_totals(self, db: str) -> None:
        shop = await create_shop()
        customer = await member(shop)
        shopify_id = customer.shopify_customer_id
        await export_customer_data(
            shop=shop,
            shopify_customer_id=shopify_id,
            email=None,
            shopify_request_id=559,
            orders_requested=[],
            now=NOW,
        )
        await OutboxIntent.create(shop=shop, customer=customer, job=JobName.SYNC_KLAVIYO_PROFILES)

        result = await redact_customer(
            shop=shop, shopify_customer_id=shopify_id, email="rosa@example.com", now=NOW
        )

        await customer.refresh_from_db()
        assert (customer.email, customer.email_key, customer.first_name, customer.last_name) == (
            None,
            None,
            "",
            "",
        )
        assert (customer.tags, customer.date_of_birth, customer.anniversary_date) == (
            "",
            None,
            None,
        )
        assert customer.shopify_customer_id == -customer.id and customer.redacted_at == NOW
        assert (customer.points_balance, customer.lifetime_points) == (42, 42)
        assert customer.vip_tier_id is not None
        assert await EarningHistoryEntry.filter(customer_id=customer.id).count() == 1
        assert result.exports_deleted == 1 and await DataRequest.all().count() == 0
        assert await OutboxIntent.filter(customer_id=customer.id, completed_at=None).count() == 0
        assert await Activity.filter(customer_id=customer.id, kind="customer_redacted").exists()
        assert not await Customer.filter(shopify_customer_id=shopify_id).exists()

    async def test_twice_or_for_an_unknown_customer_is_harmless(self, db: str) -> None:
        shop = await create_shop()
        customer = await member(shop)
        shopify_id = customer.shopify_customer_id
        await redact_customer(shop=shop, shopify_customer_id=shopify_id, email=None, now=NOW)
        again = await redact_customer(
            shop=shop, shopify_customer_id=shopify_id, email=None, now=NOW
        )
        unknown = await redact_customer(shop=shop, shopify_customer_id=1, email=None, now=NOW)
        assert again.customer_id is None and unknown.customer_id is None
        assert await Activity.filter(kind="customer_redacted").count() == 1

    async def test_unhandled_deliveries_about_the_customer_are_dropped(self, db: str) -> None:
        """A stored customers/update would write the erased data back: it is closed instead."""
        shop = await create_shop()
        customer = await member(shop)
        about = await WebhookEvent.create(
            webhook_id="w-about",
            topic="customers/update",
            shop_domain=shop.domain,
            shop=shop,
            payload={"id": customer.shopify_customer_id, "email": "rosa@example.com"},
            received_at=NOW,
        )
        other = await WebhookEvent.create(
            webhook_id="w-other",
            topic="customers/update",
            shop_domain=shop.domain,
            shop=shop,
            payload={"id": 1, "email": "someone@example.com"},
            received_at=NOW,
        )
        result = await redact_customer(
            shop=shop, shopify_customer_id=customer.shopify_customer_id, email=None, now=NOW
        )
        await about.refresh_from_db()
        await other.refresh_from_db()
        assert result.events_dropped == 1
        assert (about.payload, about.last_error, about.processed_at) == ({}, REDACTED_EVENT, NOW)
        assert other.processed_at is None and other.payload["id"] == 1


class TestRedactShop:
    async def test_deletes_everything_the_shop_owns(self, db: str) -> None:
        shop = await create_shop()
        customer = await member(shop)
        await create_api_key(shop)
        await OutboxIntent.create(shop=shop, customer=customer, job=JobName.SYNC_SHOPIFY_METAFIELDS)
        await DataRequest.create(shop=shop, record={"x": 1})
        other = await create_shop()
        await create_customer(other)

        assert await redact_shop(shop_id=shop.id)
        assert not await redact_shop(shop_id=shop.id)

        for model in (Customer, EarningHistoryEntry, EarningRule, VipTier, ApiKey, Activity):
            assert await model.filter(shop_id=shop.id).count() == 0, model
        assert await OutboxIntent.all().count() == 0 and await DataRequest.all().count() == 0
        assert await Shop.filter(id=other.id).exists()
        assert await Customer.filter(shop_id=other.id).count() == 1
