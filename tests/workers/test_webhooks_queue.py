"""Webhook deliveries handled by real arq workers on a real Redis, on SQLite and PostgreSQL:
the Redis-down path recovered by the sweep, and a burst with repeats awarded exactly once."""

from __future__ import annotations

from datetime import timedelta

import httpx
from arq.connections import ArqRedis
from asgi_lifespan import LifespanManager

from loyalty.jobs import JobName
from loyalty.jobs.sweep import OutboxDispatcher, sweep
from loyalty.models import Customer, EarningHistoryEntry, OutboxIntent, RuleCategory, WebhookEvent
from loyalty.outbox.queue import ArqJobQueue
from loyalty.settings import Settings
from tests.factories import create_rule, create_shop
from tests.shopify_webhooks import customer_payload, deliver, order_payload
from tests.workers.arq_harness import UNREACHABLE_REDIS, arq_worker, queued_jobs
from web.app import create_app

SHOP = "queued-shop.myshopify.com"


class TestRedisDown:
    async def test_a_delivery_stored_while_redis_was_down_is_swept_and_handled(
        self, settings: Settings, arq_redis: ArqRedis
    ) -> None:
        """Redis unreachable: the delivery is still acknowledged and stored; Redis back: the
        sweep queues process_webhooks and an arq worker awards the order."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        app = create_app(
            settings.with_overrides(redis_url=UNREACHABLE_REDIS), manage_db=False, job_defer=0
        )
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="https://loyalty.test"
            ) as http,
        ):
            payload = order_payload(9001, customer=customer_payload(301), subtotal="12.00")
            response = await deliver(http, "orders/paid", payload, shop=SHOP)
            dispatched = await app.state.services.dispatcher.flush()

        assert response.status_code == 200 and dispatched == 0
        event = await WebhookEvent.get()
        assert event.processed_at is None

        assert await sweep(ArqJobQueue(arq_redis), grace=timedelta(0)) == 1
        assert await queued_jobs(arq_redis) == [JobName.PROCESS_WEBHOOKS]
        worker = arq_worker(settings, arq_redis)
        await worker.main()
        await worker.close()

        # process_webhooks, then the metafield sync and the Shopify Flow job it queued.
        assert (worker.jobs_complete, worker.jobs_failed) == (3, 0)
        await event.refresh_from_db()
        assert event.processed_at is not None and event.last_error is None
        customer = await Customer.get(shopify_customer_id=301)
        assert customer.points_balance == 12
        assert await OutboxIntent.filter(completed_at__isnull=True).count() == 0


class TestBurst:
    async def test_a_burst_with_repeats_is_awarded_exactly_once_per_order(
        self, settings: Settings, arq_redis: ArqRedis
    ) -> None:
        """Forty orders, every fourth one delivered twice under the same webhook id and once
        more under a new one (the same signed body: a replay): each order earns once."""
        shop = await create_shop(domain=SHOP)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        dispatcher = OutboxDispatcher(ArqJobQueue(arq_redis), delay=0, job_defer=0)
        app = create_app(settings, manage_db=False, job_defer=0)
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="https://loyalty.test"
            ) as http,
        ):
            app.state.services.dispatcher = dispatcher
            for n in range(40):
                payload = order_payload(10_000 + n, customer=customer_payload(400 + n % 7))
                webhook_id = f"burst-{n}"
                first = await deliver(
                    http, "orders/paid", payload, shop=SHOP, webhook_id=webhook_id
                )
                assert first.json() == {"status": "accepted"}
                if n % 4 == 0:
                    again = await deliver(
                        http, "orders/paid", payload, shop=SHOP, webhook_id=webhook_id
                    )
                    assert again.json() == {"status": "duplicate"}
                    await deliver(http, "orders/paid", payload, shop=SHOP)
        await dispatcher.flush()

        worker = arq_worker(settings, arq_redis)
        await worker.main()
        await worker.close()

        assert worker.jobs_failed == 0
        assert await WebhookEvent.filter(processed_at__isnull=True).count() == 0
        assert await WebhookEvent.all().count() == 40  # repeats and replays stored once
        per_order = await EarningHistoryEntry.all().values_list("order_id", flat=True)
        assert sorted(per_order) == [10_000 + n for n in range(40)]
        balances = await Customer.all().values_list("points_balance", flat=True)
        assert sum(balances) == 40 * 100
