"""Sign-up points (loyalty.earning.signup), driven by Shopify's real body shapes delivered to
the webhook routes (customers/create, customers/update, orders/paid), on SQLite and PostgreSQL:
once per customer created after the rule, never for the backfilled, the older, the excluded or
under an inactive rule, and at the first paid order when the rule waits for one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.models import Activity, Customer, EarningHistoryEntry, EarningStatus, RuleCategory
from loyalty.shopify.admin_api import AdminApi
from loyalty.shopify.backfill import backfill_customers, request_backfill
from loyalty.webhooks.customers import handle_customer
from loyalty.webhooks.event import WebhookContext
from loyalty.webhooks.payloads import CustomerCreatePayload
from standins.shopify_admin import ShopifyAdmin, customer_node
from tests.factories import create_customer, create_tier
from tests.loyalty.earning.earn_by_webhook import (
    customer,
    entries_of,
    later,
    rule,
    send,
    webhook_shop,
)
from tests.shopify_webhooks import (
    customer_payload,
    encode,
    order_payload,
    run_jobs,
    webhook_headers,
)
from web.state import Services

SIGNUP = RuleCategory.SIGNUP
ANN = 8101


class TestAtSignUp:
    async def test_a_customer_created_after_the_rule_earns_it_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """customers/create awards the rule's points; the updates that follow award nothing
        more. The activity row and a customer sync are written with it."""
        shop = await webhook_shop()
        signup = await rule(shop, SIGNUP, points=200)
        created = later()
        await send(
            client,
            services,
            "customers/create",
            customer_payload(ANN, created_at=created, updated_at=created),
        )
        for n in range(2):
            body = customer_payload(
                ANN, first_name=f"Ann{n}", created_at=created, updated_at=later(5 + n)
            )
            await send(client, services, "customers/update", body)

        [entry] = await entries_of(ANN)
        assert (entry.rule_id, entry.action, entry.dedupe_key) == (
            signup.id,
            "create_account",
            "signup",
        )
        assert (entry.points, entry.status, entry.order_id) == (200, EarningStatus.APPROVED, None)
        ann = await customer(ANN)
        assert (ann.points_balance, ann.lifetime_points, ann.first_name) == (200, 200, "Ann1")
        awarded = await Activity.get(customer_id=ann.id, kind="points_awarded")
        assert awarded.data["rule_id"] == signup.public_id and awarded.data["points"] == 200

    async def test_points_times_the_tier_multiplier_pending_for_the_approval_time(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """A ×1.5 member earns 300 for a 200-point rule, pending 7 days as the rule says."""
        shop = await webhook_shop()
        silver = await create_tier(shop, points_required=0, points_multiplier=Decimal("1.50"))
        await create_customer(shop, shopify_customer_id=ANN, vip_tier=silver)  # seen in an order
        await rule(shop, SIGNUP, points=200, approval_time_days=7)
        created = later()
        await send(
            client,
            services,
            "customers/create",
            customer_payload(ANN, created_at=created, updated_at=created),
        )

        [entry] = await entries_of(ANN)
        assert (entry.base_points, entry.points, entry.status) == (200, 300, EarningStatus.PENDING)
        assert entry.points_due_at is not None
        assert entry.points_due_at - entry.created_at == timedelta(days=7)
        ann = await customer(ANN)
        assert (ann.points_balance, ann.pending_points) == (0, 300)

    async def test_twenty_simultaneous_deliveries_award_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Twenty customers/create deliveries for one customer (each a different body, as
        Shopify's retries and follow-up updates are) posted at once: one entry, 200 points."""
        shop = await webhook_shop()
        await rule(shop, SIGNUP, points=200)
        created = later()
        bodies = [
            customer_payload(ANN, created_at=created, updated_at=later(2 + n)) for n in range(20)
        ]
        posted = await asyncio.gather(
            *(
                client.post(
                    "/webhooks/customers",
                    content=encode(b),
                    headers=webhook_headers("customers/create", encode(b), shop=shop.domain),
                )
                for b in bodies
            )
        )
        assert [r.json() for r in posted] == [{"status": "accepted"}] * 20
        await run_jobs(services)
        assert len(await entries_of(ANN)) == 1
        assert (await customer(ANN)).points_balance == 200

    async def test_twenty_concurrent_handlers_award_once(self, db: str) -> None:
        """The handler run twenty times at once, each in its own transaction (as twenty jobs
        would if nothing serialised them): the unique dedupe key lets one entry in."""
        shop = await webhook_shop()
        await rule(shop, SIGNUP, points=200)
        body = CustomerCreatePayload.model_validate(
            customer_payload(ANN, created_at=later(), updated_at=later())
        )

        async def handle(n: int) -> list[str]:
            ctx = WebhookContext(
                event_pk=n,
                shop=shop,
                topic="customers/create",
                webhook_id=f"w{n}",
                body=body,
                triggered_at=None,
                now=utcnow(),
            )
            async with in_transaction():
                return await handle_customer(ctx)

        await asyncio.gather(*(handle(n) for n in range(20)))
        assert len(await entries_of(ANN)) == 1
        ann = await customer(ANN)
        assert (ann.points_balance, ann.lifetime_points) == (200, 200)
        assert await Activity.filter(customer_id=ann.id, kind="points_awarded").count() == 1


class TestRefusals:
    async def test_a_customer_created_before_the_rule_earns_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await webhook_shop()
        await rule(shop, SIGNUP, points=200)
        old = "2024-03-15T09:30:00-04:00"
        await send(
            client,
            services,
            "customers/create",
            customer_payload(ANN, created_at=old, updated_at=old),
        )
        assert await entries_of(ANN) == []
        assert (await customer(ANN)).points_balance == 0

    async def test_an_inactive_rule_awards_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await webhook_shop()
        await rule(shop, SIGNUP, points=200, is_active=False)
        created = later()
        await send(
            client,
            services,
            "customers/create",
            customer_payload(ANN, created_at=created, updated_at=created),
        )
        assert await entries_of(ANN) == []

    async def test_an_excluded_customer_earns_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Excluded by the shop's tag (a tag event came first): the body creates no award."""
        shop = await webhook_shop()
        await create_customer(shop, shopify_customer_id=ANN, is_excluded=True, excluded_by="tag")
        await rule(shop, SIGNUP, points=200)
        created = later()
        await send(
            client,
            services,
            "customers/create",
            customer_payload(ANN, created_at=created, updated_at=created),
        )
        assert await entries_of(ANN) == []

    async def test_a_shop_with_its_programme_off_awards_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await webhook_shop(programme_enabled=False)
        await rule(shop, SIGNUP, points=200)
        created = later()
        await send(
            client,
            services,
            "customers/create",
            customer_payload(ANN, created_at=created, updated_at=created),
        )
        assert await entries_of(ANN) == []

    async def test_a_backfilled_customer_never_earns_it(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The install's backfill imports a customer (through the Admin API stand-in, which
        validates the query against Shopify's schema), marked as such; even created after the
        rule and then sent as customers/create, they earn nothing, and a customer the backfill
        did not import does."""
        shop = await webhook_shop()
        await rule(shop, SIGNUP, points=200)
        created = later()
        shopify = ShopifyAdmin(
            customers=[
                customer_node(ANN, email="ann@example.com", created_at=created, updated_at=created)
            ]
        )
        await request_backfill(shop_id=shop.id)
        result = await backfill_customers(
            shop_id=shop.id, admin=cast(AdminApi, StandInAdmin(shopify))
        )
        assert result is not None and result.inserted == 1
        assert (await customer(ANN)).backfilled_at is not None

        await send(
            client,
            services,
            "customers/create",
            customer_payload(ANN, created_at=created, updated_at=later(3)),
        )
        assert await entries_of(ANN) == []
        await send(
            client,
            services,
            "customers/create",
            customer_payload(ANN + 1, created_at=created, updated_at=created),
        )
        assert len(await entries_of(ANN + 1)) == 1


class StandInAdmin:
    """AdminApi.execute answered by the Admin API stand-in (which refuses a document Shopify's
    schema would), without tokens or HTTP."""

    def __init__(self, shopify: ShopifyAdmin) -> None:
        self.shopify = shopify

    async def execute(
        self, shop_id: int, operation: Any, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        status, body = self.shopify.answer(
            {"query": operation.document, "variables": variables or {}}
        )
        assert status == 200 and "errors" not in body, body
        return cast(dict[str, Any], body["data"])


class TestAfterFirstOrder:
    async def test_waits_for_the_first_paid_order_and_pays_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Sign-up alone earns nothing; the first paid order earns it (with the purchase
        points), a cancelled one did not, and a second order earns no second sign-up."""
        shop = await webhook_shop()
        await rule(shop, SIGNUP, points=200, after_first_order=True)
        created = later()
        body = customer_payload(ANN, created_at=created, updated_at=created)
        await send(client, services, "customers/create", body)
        assert await entries_of(ANN) == []

        cancelled = order_payload(9001, customer=body, cancelled_at="2026-11-25T11:00:00-05:00")
        await send(client, services, "orders/paid", cancelled)
        assert await entries_of(ANN) == []
        await send(client, services, "orders/paid", order_payload(9002, customer=body))
        await send(client, services, "orders/paid", order_payload(9003, customer=body))

        [entry] = await entries_of(ANN)
        assert (entry.dedupe_key, entry.points, entry.order_id) == ("signup", 200, None)
        assert (await customer(ANN)).points_balance == 200

    async def test_a_first_order_arriving_before_the_customer_body_still_counts(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """orders/paid may come first: its customer object (created after the rule) is
        enough; the customers/create that follows awards nothing more."""
        shop = await webhook_shop()
        await rule(shop, SIGNUP, points=200, after_first_order=True)
        created = later()
        body = customer_payload(ANN, created_at=created, updated_at=created)
        await send(client, services, "orders/paid", order_payload(9001, customer=body))
        await send(client, services, "customers/create", body)
        assert [e.dedupe_key for e in await entries_of(ANN)] == ["signup"]

    async def test_an_order_from_a_customer_older_than_the_rule_earns_no_sign_up(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await webhook_shop()
        await rule(
            shop, SIGNUP, points=200, after_first_order=True, made=datetime(2025, 1, 1, tzinfo=UTC)
        )
        body = customer_payload(ANN, created_at="2024-03-15T09:30:00-04:00")
        await send(client, services, "orders/paid", order_payload(9001, customer=body))
        assert await entries_of(ANN) == []

    async def test_a_rule_that_does_not_wait_awards_nothing_at_an_order(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Without the setting the order is not the trigger; the customer body is."""
        shop = await webhook_shop()
        await rule(shop, SIGNUP, points=200)
        created = later()
        body = customer_payload(ANN, created_at=created, updated_at=created)
        await send(client, services, "orders/paid", order_payload(9001, customer=body))
        assert await entries_of(ANN) == []
        await send(client, services, "customers/create", body | {"note": "signed up"})
        assert len(await entries_of(ANN)) == 1
        assert await EarningHistoryEntry.filter(dedupe_key="signup").count() == 1
        assert await Customer.filter(shopify_customer_id=ANN).count() == 1
