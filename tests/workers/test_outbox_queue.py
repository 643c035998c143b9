"""The outbox on a real Redis: dispatch after commit, the Redis-down path, the sweep, arq
workers running the jobs (twice, harmlessly), and a run queueing its own follow-up for when
its customers are quiet. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import respx
from arq.connections import ArqRedis
from asgi_lifespan import LifespanManager

from loyalty.jobs import JobName
from loyalty.jobs.sweep import OutboxDispatcher, sweep
from loyalty.models import Customer, EarningHistoryEntry, IntentOutcome, OutboxIntent
from loyalty.outbox.queue import ArqJobQueue
from loyalty.settings import Settings
from tests.factories import create_api_key, create_customer, create_rule, create_shop
from tests.loyalty.sync.harness import award, connected_shop, graphql_url
from tests.workers.arq_harness import UNREACHABLE_REDIS, arq_worker, queued_jobs
from web.app import create_app


async def award_once(http: httpx.AsyncClient, key: str, rule_id: str, customer: str) -> None:
    response = await http.post(
        f"/api/v1/earning-rules/{rule_id}/award",
        json={"customer_identifier": customer},
        headers={"Authorization": key},
    )
    assert response.status_code == 201, response.text


class TestRedisDown:
    async def test_awards_still_commit_and_the_sweep_delivers_later(
        self, settings: Settings, arq_redis: ArqRedis
    ) -> None:
        """Redis unreachable: 201, intents wait in the database; Redis back: the sweep sends
        them and a worker completes them."""
        shop = await create_shop()
        key = (await create_api_key(shop)).secret
        rule = await create_rule(shop)
        customer = await create_customer(shop)

        app = create_app(
            settings.with_overrides(redis_url=UNREACHABLE_REDIS), manage_db=False, job_defer=0
        )
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="https://loyalty.test"
            ) as http,
        ):
            await award_once(http, key, rule.public_id, customer.email)
            dispatched = await app.state.services.dispatcher.flush()

        assert dispatched == 0  # the enqueue failed and was logged, not raised
        assert await EarningHistoryEntry.filter(customer_id=customer.id).count() == 1
        pending = await OutboxIntent.filter(customer_id=customer.id, completed_at__isnull=True)
        owed = [JobName.SEND_FLOW_TRIGGERS, JobName.SYNC_SHOPIFY_METAFIELDS]
        assert sorted(i.job for i in pending) == owed

        # Redis is back: the sweep finds the undelivered intents from the database.
        swept = await sweep(ArqJobQueue(arq_redis), grace=timedelta(0))
        assert swept == 2
        assert sorted(await queued_jobs(arq_redis)) == owed

        worker = arq_worker(settings, arq_redis)
        await worker.main()
        await worker.close()

        assert worker.jobs_complete == 2 and worker.jobs_failed == 0
        assert await OutboxIntent.filter(completed_at__isnull=True).count() == 0


class TestDispatch:
    async def test_a_burst_to_one_customer_becomes_one_job_per_kind(
        self, settings: Settings, arq_redis: ArqRedis
    ) -> None:
        """Ten awards in a moment produce one metafield sync job, which completes all ten (and
        one Shopify Flow job)."""
        shop = await create_shop()
        customer = await create_customer(shop)
        rules = [await create_rule(shop, points=10) for _ in range(10)]
        key = (await create_api_key(shop)).secret
        dispatcher = OutboxDispatcher(ArqJobQueue(arq_redis), delay=0, job_defer=0)

        app = create_app(settings, manage_db=False, job_defer=0)
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="https://loyalty.test"
            ) as http,
        ):
            app.state.services.dispatcher = dispatcher  # route this app's dispatch to Redis
            for rule in rules:
                await award_once(http, key, rule.public_id, customer.email)

        await dispatcher.flush()
        assert sorted(await queued_jobs(arq_redis)) == [
            JobName.SEND_FLOW_TRIGGERS,
            JobName.SYNC_SHOPIFY_METAFIELDS,
        ]

        worker = arq_worker(settings, arq_redis)
        await worker.main()
        await worker.close()

        assert worker.jobs_complete == 2
        completed = OutboxIntent.filter(customer_id=customer.id, completed_at__isnull=False)
        assert await completed.filter(job=JobName.SYNC_SHOPIFY_METAFIELDS).count() == 10
        assert (await Customer.get(id=customer.id)).points_balance == 100

    async def test_a_job_run_twice_is_harmless(
        self, settings: Settings, arq_redis: ArqRedis
    ) -> None:
        """arq may run a job twice: the second run finds nothing left to do."""
        shop = await create_shop()
        customer = await create_customer(shop)
        key = (await create_api_key(shop)).secret
        rule = await create_rule(shop)
        app = create_app(settings, manage_db=False, job_defer=0)
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="https://loyalty.test"
            ) as http,
        ):
            app.state.services.dispatcher = OutboxDispatcher(ArqJobQueue(arq_redis))
            await award_once(http, key, rule.public_id, customer.email)

        for attempt in ("first", "second"):
            await arq_redis.enqueue_job(
                str(JobName.SYNC_SHOPIFY_METAFIELDS),
                shop_id=shop.id,
                _job_id=f"{attempt}:{uuid.uuid4()}",
                _queue_name=arq_redis.default_queue_name,
            )
        worker = arq_worker(settings, arq_redis)
        await worker.main()
        await worker.close()

        assert (worker.jobs_complete, worker.jobs_failed) == (2, 0)
        [intent] = await OutboxIntent.filter(
            customer_id=customer.id, job=JobName.SYNC_SHOPIFY_METAFIELDS
        )
        assert intent.completed_at is not None and intent.outcome == IntentOutcome.SKIPPED
        assert intent.attempts == 0  # no delivery ever failed; claims are not attempts


class TestFollowUp:
    async def test_a_run_before_the_quiet_time_queues_the_write_for_when_it_ends(
        self, settings: Settings, arq_redis: ArqRedis
    ) -> None:
        """Three awards, the metafield job queued at once: the worker's first run finds the
        customer not yet quiet and queues the job again on Redis for the moment it will be;
        that run writes the customer once, with all three awards."""
        settings = settings.with_overrides(metafield_sync_delay=1.0, metafield_sync_max_wait=10.0)
        shop = await connected_shop(settings)
        customer = await create_customer(shop)
        for _ in range(3):
            await award(shop, await create_rule(shop, points=10), customer)
        await ArqJobQueue(arq_redis).enqueue(
            JobName.SYNC_SHOPIFY_METAFIELDS, job_id="now", shop_id=shop.id
        )
        ok = {
            "data": {
                "metafieldsSet": {"metafields": [], "userErrors": []},
                "metafieldsDelete": {"deletedMetafields": [], "userErrors": []},
            }
        }
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(graphql_url(shop)).mock(return_value=httpx.Response(200, json=ok))
            worker = arq_worker(settings, arq_redis)
            await worker.main()
            await worker.close()

        assert (worker.jobs_complete, worker.jobs_failed) == (2, 0)
        [call] = route.calls
        values = {f["key"]: f["value"] for f in json_body(call.request)["variables"]["metafields"]}
        assert values["points"] == "30"
        left = OutboxIntent.filter(completed_at__isnull=True, job=JobName.SYNC_SHOPIFY_METAFIELDS)
        assert await left.count() == 0


def json_body(request: httpx.Request) -> dict[str, Any]:
    return dict(json.loads(request.content))
