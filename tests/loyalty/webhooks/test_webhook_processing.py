"""Storing deliveries and the `process_webhooks` job (loyalty.webhooks), on SQLite and
PostgreSQL: exactly-once storage, ordered handling, failures held back, the sweep's view."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.jobs.sweep import sweep
from loyalty.models import Customer, Shop, WebhookEvent
from loyalty.webhooks import process
from loyalty.webhooks.event import WebhookContext
from loyalty.webhooks.inbox import (
    Delivery,
    DeliveryInbox,
    owed_shops,
    store_deliveries,
    store_delivery,
)
from loyalty.webhooks.payloads import PAYLOAD_BY_TOPIC
from loyalty.webhooks.process import MAX_ATTEMPTS, process_webhooks
from loyalty.webhooks.topics import Topic
from tests.factories import create_shop
from tests.shopify_webhooks import customer_payload


def delivery(
    webhook_id: str,
    payload: Any,
    *,
    topic: str = "customers/update",
    triggered_at: datetime | None = None,
) -> Delivery:
    return Delivery(
        webhook_id=webhook_id,
        topic=topic,
        shop_domain="proc.myshopify.com",
        body=json.dumps(payload),
        event_id=f"ev-{webhook_id}",
        api_version="2026-10",
        triggered_at=triggered_at,
    )


@pytest.fixture(autouse=True)
async def proc_shop(db: str) -> Shop:
    """The shop the deliveries are for: stored only for an installed shop (never created)."""
    return await create_shop(domain="proc.myshopify.com")


SCOPES_UPDATE = {"id": 1, "previous": [], "current": [], "updated_at": "2026-11-25T10:00:00Z"}


class RecordingQueue:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, Any]]] = []

    async def enqueue(
        self, job: JobName, *, job_id: str, defer_seconds: float = 0, **kwargs: Any
    ) -> None:
        self.jobs.append((str(job), kwargs))


class TestStoreDelivery:
    async def test_stores_once_per_webhook_id(self, db: str) -> None:
        first = await store_delivery(delivery=delivery("w1", customer_payload(1)))
        again = await store_delivery(delivery=delivery("w1", customer_payload(1)))
        assert first.is_new and not again.is_new and first.shop_id == again.shop_id
        assert await WebhookEvent.all().count() == 1

    async def test_concurrent_stores_of_one_delivery_store_it_once(self, db: str) -> None:
        results = await asyncio.gather(
            *(store_delivery(delivery=delivery("w2", customer_payload(1))) for _ in range(10))
        )
        assert sum(r.is_new for r in results) == 1
        assert await Shop.filter(domain="proc.myshopify.com").count() == 1

    async def test_a_batch_keeps_its_order_repeats_and_unknown_shops(self, db: str) -> None:
        """One batch: deliveries for a known and an unknown shop, a webhook id twice and one
        already stored; ids follow the batch's order, each repeat is reported as one, and the
        unknown shop's delivery is not stored (nor the shop created)."""
        known = await create_shop(domain="known.myshopify.com")
        await store_delivery(delivery=delivery("old", customer_payload(1)))
        batch = [  # real deliveries never share a body (see the replay test below)
            Delivery("a", "customers/update", "known.myshopify.com", '{"id": 1}'),
            Delivery("b", "customers/update", "new-shop.myshopify.com", '{"id": 2}'),
            Delivery("a", "customers/update", "known.myshopify.com", '{"id": 1}'),
            Delivery("old", "customers/update", "proc.myshopify.com", '{"id": 3}'),
            Delivery("c", "customers/update", "known.myshopify.com", '{"id": 4}'),
        ]
        stored = await store_deliveries(deliveries=batch)
        assert not await Shop.filter(domain="new-shop.myshopify.com").exists()
        assert [s.shop_id for s in stored][:3] == [known.id, None, known.id]
        assert [s.is_new for s in stored] == [True, False, False, False, True]
        ids = [s.event_pk for s in stored if s.event_pk is not None]
        assert await WebhookEvent.filter(webhook_id__in=["a", "b", "c"]).count() == 2
        assert (await WebhookEvent.get(webhook_id="a")).id == ids[0]
        assert (await WebhookEvent.get(webhook_id="a")).id < (
            await WebhookEvent.get(webhook_id="c")
        ).id

    async def test_the_inbox_answers_each_caller_once_committed(self, db: str) -> None:
        """Concurrent callers share writes; each learns whether its delivery was new."""
        inbox = DeliveryInbox(max_batch=3)
        results = await asyncio.gather(
            *(inbox.store(delivery(f"w{n % 7}", customer_payload(n + 1))) for n in range(20))
        )
        assert sum(r.is_new for r in results) == 7
        assert await WebhookEvent.all().count() == 7

    async def test_a_body_that_is_not_an_object_is_stored_failed(self, db: str) -> None:
        await store_delivery(delivery=delivery("w3", [1, 2, 3]))
        event = await WebhookEvent.get(webhook_id="w3")
        assert event.processed_at is not None and event.payload == {}
        assert event.last_error == "invalid payload: the body is not a JSON object"


class TestProcessWebhooks:
    async def test_handles_in_received_order_and_marks_processed(self, db: str) -> None:
        """create then update, stored in that order: the update's data is what remains."""
        stored = await store_delivery(
            delivery=delivery("w1", customer_payload(7, first_name="A"), topic="customers/create")
        )
        await store_delivery(
            delivery=delivery(
                "w2", customer_payload(7, first_name="B", updated_at="2026-11-26T00:00:00Z")
            )
        )
        run = await process_webhooks(shop_id=stored.shop_id)
        assert (run.handled, run.failed, run.held) == (2, 0, 0)
        assert run.jobs == {str(JobName.SYNC_SHOPIFY_METAFIELDS)}
        assert (await Customer.get(shopify_customer_id=7)).first_name == "B"
        events = await WebhookEvent.all()
        assert all(e.processed_at and e.payload == {} for e in events)
        assert [e.attempts for e in events] == [1, 1]

    async def test_running_twice_handles_nothing_twice(self, db: str) -> None:
        stored = await store_delivery(delivery=delivery("w1", customer_payload(7)))
        first = await process_webhooks(shop_id=stored.shop_id)
        second = await process_webhooks(shop_id=stored.shop_id)
        assert (first.handled, second.handled) == (1, 0)

    async def test_one_run_at_a_time_works_on_a_shop(self, db: str) -> None:
        """While a job holds the shop's lease another returns at once; a lease left by a job
        that died lapses and the next run takes over."""
        stored = await store_delivery(delivery=delivery("w1", customer_payload(7)))
        await Shop.filter(id=stored.shop_id).update(
            webhooks_leased_until=utcnow() + timedelta(minutes=1)
        )
        assert (await process_webhooks(shop_id=stored.shop_id)).handled == 0
        await Shop.filter(id=stored.shop_id).update(
            webhooks_leased_until=utcnow() - timedelta(seconds=1)
        )
        assert (await process_webhooks(shop_id=stored.shop_id)).handled == 1
        assert (await Shop.get(id=stored.shop_id)).webhooks_leased_until is None

    async def test_concurrent_runs_handle_each_delivery_once(self, db: str) -> None:
        shop_id = 0
        for n in range(30):
            shop_id = (
                await store_delivery(delivery=delivery(f"w{n}", customer_payload(100 + n)))
            ).shop_id
        runs = await asyncio.gather(
            *(process_webhooks(shop_id=shop_id, batch_size=4) for _ in range(4))
        )
        assert sum(r.handled for r in runs) == 30
        assert await Customer.all().count() == 30

    async def test_a_delivery_whose_claim_lapsed_is_handled_once(self, db: str) -> None:
        """A worker died holding the claim: the next run takes it over; already-handled ones
        are never applied again."""
        stored = await store_delivery(delivery=delivery("w1", customer_payload(7)))
        await WebhookEvent.filter(webhook_id="w1").update(
            claimed_until=utcnow() - timedelta(seconds=1), attempts=1
        )
        run = await process_webhooks(shop_id=stored.shop_id)
        assert run.handled == 1
        assert (await WebhookEvent.get(webhook_id="w1")).attempts == 2

    async def test_a_failing_delivery_is_held_back_and_does_not_block_the_rest(
        self, db: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async def broken(ctx: WebhookContext) -> list[str]:
            await Customer.create(shop=ctx.shop, shopify_customer_id=999)  # rolled back
            raise RuntimeError("partner down")

        monkeypatch.setitem(process.HANDLERS, "app/scopes_update", broken)
        stored = await store_delivery(
            delivery=delivery("w-bad", SCOPES_UPDATE, topic="app/scopes_update")
        )
        await store_delivery(delivery=delivery("w-ok", customer_payload(8)))

        started = utcnow()
        run = await process_webhooks(shop_id=stored.shop_id)

        assert (run.handled, run.held) == (1, 1)
        bad = await WebhookEvent.get(webhook_id="w-bad")
        assert bad.processed_at is None and bad.last_error == "RuntimeError: partner down"
        assert bad.claimed_until is not None
        assert (
            started + timedelta(seconds=2) <= bad.claimed_until <= utcnow() + timedelta(seconds=6)
        )
        assert not await Customer.filter(shopify_customer_id=999).exists()
        assert await Customer.filter(shopify_customer_id=8).exists()
        # Held back: not owed to a sweep, nor claimable, until its retry time.
        assert await owed_shops(received_before=utcnow()) == []
        assert (await process_webhooks(shop_id=stored.shop_id)).held == 0

        monkeypatch.setitem(process.HANDLERS, "app/scopes_update", process.app.handle_scopes_update)
        await WebhookEvent.filter(webhook_id="w-bad").update(claimed_until=None)
        assert (await process_webhooks(shop_id=stored.shop_id)).handled == 1
        bad = await WebhookEvent.get(webhook_id="w-bad")
        assert bad.processed_at is not None and bad.last_error is None

    async def test_a_delivery_failing_for_a_day_is_given_up(
        self, db: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async def broken(ctx: WebhookContext) -> list[str]:
            raise RuntimeError("still down")

        monkeypatch.setitem(process.HANDLERS, "app/scopes_update", broken)
        stored = await store_delivery(
            delivery=delivery("w-bad", SCOPES_UPDATE, topic="app/scopes_update")
        )
        await WebhookEvent.filter(webhook_id="w-bad").update(attempts=MAX_ATTEMPTS - 1)
        run = await process_webhooks(shop_id=stored.shop_id)
        bad = await WebhookEvent.get(webhook_id="w-bad")
        assert run.held == 1 and bad.processed_at is not None
        assert bad.last_error == f"gave up after {MAX_ATTEMPTS} attempts: RuntimeError: still down"

    async def test_a_topic_without_a_handler_is_recorded(self, db: str) -> None:
        stored = await store_delivery(delivery=delivery("w-x", {}, topic="products/create"))
        run = await process_webhooks(shop_id=stored.shop_id)
        event = await WebhookEvent.get(webhook_id="w-x")
        assert run.failed == 1 and event.last_error == (
            "invalid payload: no handler for topic 'products/create'"
        )

    def test_every_topic_has_a_handler_and_a_payload_class(self) -> None:
        """The tag events included: a topic the routes accept is never parked unhandled."""
        assert set(process.HANDLERS) == set(Topic) == set(PAYLOAD_BY_TOPIC)

    async def test_a_tag_event_without_occurred_at_is_refused_whatever_its_trigger_time(
        self, proc_shop: Shop
    ) -> None:
        """`occurredAt` is the only signed time that orders tag events: without it the event is
        recorded as failed, even with an X-Shopify-Triggered-At (an unsigned header)."""
        proc_shop.exclusion_tag = "no-loyalty"
        await proc_shop.save(update_fields=["exclusion_tag"])
        body = {"customerId": "gid://shopify/Customer/7", "tags": ["no-loyalty"]}
        triggered = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
        timed = delivery("w-t", body, topic="customer.tags_added", triggered_at=triggered)
        stored = await store_delivery(delivery=timed)
        run = await process_webhooks(shop_id=stored.shop_id)
        assert (run.handled, run.failed) == (0, 1)
        assert not await Customer.filter(shopify_customer_id=7).exists()
        failed = await WebhookEvent.get(webhook_id="w-t")
        assert failed.last_error == "not a customer.tags_added body: occurredAt: Field required"

    async def test_the_time_budget_leaves_the_rest_for_another_run(self, db: str) -> None:
        shop_id = 0
        for n in range(5):
            shop_id = (
                await store_delivery(delivery=delivery(f"w{n}", customer_payload(n + 1)))
            ).shop_id
        run = await process_webhooks(shop_id=shop_id, batch_size=2, time_budget=0)
        assert (run.handled, run.more) == (2, True)


class TestSweep:
    async def test_requeues_shops_with_deliveries_nobody_handled(self, db: str) -> None:
        """Stored but never queued (Redis was down): the sweep queues process_webhooks for the
        shop once the grace period has passed; handled or held ones are not owed."""
        stored = await store_delivery(delivery=delivery("w1", customer_payload(1)))
        other = await create_shop()
        await WebhookEvent.create(
            webhook_id="w-held",
            topic="customers/update",
            shop_domain=other.domain,
            shop=other,
            received_at=utcnow() - timedelta(minutes=1),
            claimed_until=utcnow() + timedelta(minutes=5),
        )
        queue = RecordingQueue()
        assert await sweep(queue, grace=timedelta(seconds=5)) == 0  # still within the grace
        assert await sweep(queue, grace=timedelta(0)) == 1
        assert queue.jobs == [(str(JobName.PROCESS_WEBHOOKS), {"shop_id": stored.shop_id})]
        await process_webhooks(shop_id=stored.shop_id)
        assert await owed_shops(received_before=utcnow()) == []
