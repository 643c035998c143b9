"""The sync and lifecycle jobs under real arq workers on a real Redis: a worker killed half-way
through a job and the work run again (no double effect), Redis emptied with work queued (nothing
lost: the outbox sweep re-queues it), the periodic jobs' Redis lock, and the embedded default
running the very same job functions in-process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.jobs.in_process import in_process_functions
from loyalty.jobs.registry import PERIODIC_JOBS, SHOP_JOBS
from loyalty.jobs.sweep import sweep
from loyalty.models import Customer, EarningHistoryEntry, EarningStatus, OutboxIntent, Platform
from loyalty.outbox.queue import ArqJobQueue
from loyalty.settings import Settings
from loyalty.sync.deps import build_job_deps
from standins.shopify_admin import ShopifyAdmin
from tests.factories import create_customer, create_rule
from tests.loyalty.lifecycle.entries import pending_entry
from tests.loyalty.sync.harness import award, award_many, connected_shop, enable
from tests.workers.arq_harness import arq_worker
from workers.jobs import arq_job
from workers.settings import worker_options

KLAVIYO = "https://a.klaviyo.com"


async def run_burst(settings: Settings, pool: ArqRedis) -> Worker:
    done = arq_worker(settings, pool)
    await done.main()
    await done.close()
    return done


def fast(settings: Settings) -> Settings:
    """Syncs queued without the coalescing defer, so a burst worker finds them at once."""
    return settings.with_overrides(marketing_sync_delay=0)


class TestKilledHalfWay:
    async def test_a_job_killed_mid_run_and_run_again_sends_each_event_once(
        self, settings: Settings, arq_redis: ArqRedis
    ) -> None:
        """The job is killed while Klaviyo holds the third event; after the claim lapses the
        sweep re-queues and an arq worker finishes. Events completed before the kill are not
        re-sent; the one in flight is re-sent with the same `unique_id` (Klaviyo keeps one)."""
        settings = fast(settings)
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        customer = await create_customer(shop)
        await award_many(shop, customer, 5, points=10)
        stuck = asyncio.Event()
        unique_ids: list[str] = []

        async def event(request: httpx.Request) -> httpx.Response:
            unique_ids.append(json.loads(request.content)["data"]["attributes"]["unique_id"])
            if len(unique_ids) == 3 and not stuck.is_set():
                stuck.set()
                await asyncio.sleep(3600)  # the worker is killed while it waits here
            return httpx.Response(202)

        with respx.mock(assert_all_called=True) as mock:
            profiles = mock.post(f"{KLAVIYO}/api/profile-import").mock(
                return_value=httpx.Response(200, json={"data": {"id": "01H"}})
            )
            mock.post(f"{KLAVIYO}/api/events").mock(side_effect=event)
            mock.post(f"https://{shop.domain}/admin/api/2026-10/graphql.json").mock(
                side_effect=ShopifyAdmin()
            )

            # The worker's own job function, as arq calls it, killed while it waits.
            [function] = [
                f
                for f in worker_options(
                    settings.with_overrides(redis_url="redis://unused"), manage_db=False
                )["functions"]
                if f.name == JobName.SYNC_KLAVIYO_PROFILES
            ]
            async with httpx.AsyncClient() as http:
                ctx = {"redis": arq_redis, "deps": build_job_deps(settings, http)}
                running = asyncio.create_task(function.coroutine(ctx, shop_id=shop.id))
                await asyncio.wait_for(stuck.wait(), timeout=10)
                running.cancel()  # killed: none of its own cleanup reaches the database
                await asyncio.gather(running, return_exceptions=True)

            left = await OutboxIntent.filter(
                customer_id=customer.id, job=JobName.SYNC_KLAVIYO_PROFILES
            ).order_by("id")
            assert [i.completed_at is not None for i in left] == [True, True, False, False, False]

            # Time passes: the dead run's claims lapse, and the sweep finds the work again.
            await OutboxIntent.filter(completed_at__isnull=True).update(
                claimed_until=utcnow() - timedelta(seconds=1)
            )
            assert await sweep(ArqJobQueue(arq_redis), grace=timedelta(0)) >= 1
            again = await run_burst(settings, arq_redis)

        assert again.jobs_failed == 0
        assert await OutboxIntent.filter(completed_at__isnull=True).count() == 0
        assert len(set(unique_ids)) == 5  # every event delivered
        repeated = [u for u in set(unique_ids) if unique_ids.count(u) > 1]
        assert repeated == [unique_ids[2]]  # only the one in flight at the kill
        assert profiles.call_count == 2  # state-based: the rerun writes the same profile
        assert (await Customer.get(id=customer.id)).points_balance == 50

    async def test_an_approval_run_twice_by_two_workers_credits_once(
        self, settings: Settings, arq_redis: ArqRedis
    ) -> None:
        """arq may run a job twice (a retry after a lost ack): the same approval job queued
        under two ids and run by a worker changes the balance once."""
        shop = await connected_shop(settings)
        customer = await create_customer(shop)
        for _ in range(3):
            await pending_entry(customer, due=utcnow() - timedelta(minutes=1), points=20)
        for job_id in ("a", "b"):
            await arq_redis.enqueue_job(
                str(JobName.APPROVE_POINTS), shop_id=shop.id, _job_id=job_id
            )
        with respx.mock(assert_all_called=True) as mock:
            # The metafield syncs the approvals owe run in the same burst.
            mock.post(f"https://{shop.domain}/admin/api/2026-10/graphql.json").mock(
                side_effect=ShopifyAdmin()
            )
            done = await run_burst(settings, arq_redis)

        assert done.jobs_failed == 0
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.pending_points, fresh.lifetime_points) == (60, 0, 60)
        statuses = await EarningHistoryEntry.filter(customer_id=customer.id).values_list(
            "status", flat=True
        )
        assert set(statuses) == {EarningStatus.APPROVED}


class TestRedisLost:
    async def test_work_queued_when_redis_is_emptied_is_found_again(
        self, settings: Settings, arq_redis: ArqRedis
    ) -> None:
        """Jobs queued, then Redis restarts empty: the sweep re-queues every kind
        from the database and a worker completes them."""
        settings = fast(settings)
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=30), customer)
        sweep_grace = timedelta(0)
        # metafields, Klaviyo, Shopify Flow
        assert await sweep(ArqJobQueue(arq_redis), grace=sweep_grace) == 3
        assert len(await arq_redis.queued_jobs(queue_name=arq_redis.default_queue_name)) == 3

        # Redis restarted without its data: the queue and every job arq stored are gone (only
        # those: the suite's Redis database is flushed by nobody).
        lost = [k async for k in arq_redis.scan_iter(match="arq:*")]
        await arq_redis.delete(arq_redis.default_queue_name, *lost)
        assert await arq_redis.queued_jobs(queue_name=arq_redis.default_queue_name) == []

        requeued = await sweep(ArqJobQueue(arq_redis), grace=sweep_grace)
        with respx.mock(assert_all_called=True) as mock:
            mock.post(f"https://{shop.domain}/admin/api/2026-10/graphql.json").mock(
                side_effect=ShopifyAdmin()
            )
            mock.post(f"{KLAVIYO}/api/profile-import").mock(
                return_value=httpx.Response(200, json={"data": {"id": "01H"}})
            )
            mock.post(f"{KLAVIYO}/api/events").mock(return_value=httpx.Response(202))
            done = await run_burst(settings, arq_redis)

        assert requeued == 3 and done.jobs_complete == 3 and done.jobs_failed == 0
        assert await OutboxIntent.filter(completed_at__isnull=True).count() == 0


class TestPeriodicLock:
    @pytest.fixture
    async def redis(self, redis_url: str) -> AsyncIterator[Redis]:
        client = Redis.from_url(redis_url)
        yield client
        await client.aclose()

    async def test_two_workers_never_run_the_same_sweep_at_once(self, redis: Redis) -> None:
        """Two workers fire the same periodic job together: one runs, the other skips."""
        runs: list[str] = []

        async def slow(deps: Any, queue: Any) -> int:
            runs.append("ran")
            await asyncio.sleep(0.2)
            return 1

        name = JobName.SCHEDULE_APPROVALS
        job = arq_job(slow, lock=str(name), lock_ttl=60)
        ctx = {"redis": ArqRedis(connection_pool=redis.connection_pool), "deps": None}
        await redis.delete(f"loyalty:lock:{name}")

        together = await asyncio.gather(job(ctx), job(ctx))
        after = await job(ctx)  # the lock is released when the pass ends

        assert sorted(together) == [0, 1] and after == 1
        assert runs == ["ran", "ran"]

    async def test_two_outbox_sweeps_at_once_dispatch_once(
        self, settings: Settings, arq_redis: ArqRedis
    ) -> None:
        shop = await connected_shop(settings)
        await award(shop, await create_rule(shop), await create_customer(shop))
        await OutboxIntent.all().update(created_at=utcnow() - timedelta(minutes=1))
        ctx = {"redis": arq_redis, "deps": None}
        await arq_redis.delete("loyalty:lock:sweep_outbox")
        options = worker_options(settings.with_overrides(redis_url="redis://x"), manage_db=False)
        [sweep_outbox] = [c.coroutine for c in options["cron_jobs"] if c.name == "sweep_outbox"]

        results = await asyncio.gather(*(sweep_outbox(ctx) for _ in range(4)))

        assert sorted(results)[:3] == [0, 0, 0] and max(results) >= 1


class TestEmbeddedDefault:
    async def test_in_process_runs_the_jobs_the_worker_registers(self, settings: Settings) -> None:
        """One list of jobs: what arq registers is what the web process runs in-process."""
        options = worker_options(settings.with_overrides(redis_url="redis://x"))
        registered = {f.name for f in options["functions"]}
        async with httpx.AsyncClient() as http:
            deps = build_job_deps(settings, http)
            in_process = {str(name) for name in in_process_functions(deps)}
        assert registered == in_process
        lifecycle = (JobName.APPROVE_POINTS, JobName.EXPIRE_POINTS, JobName.AWARD_OCCASIONS)
        assert {str(j) for j in (*SHOP_JOBS, *lifecycle, JobName.PROCESS_WEBHOOKS)} == (registered)
        crons = {c.name for c in options["cron_jobs"]}
        assert crons == {str(JobName.SWEEP_OUTBOX), *(str(j.name) for j in PERIODIC_JOBS)}

    async def test_an_award_is_synced_by_the_web_process_itself(self, settings: Settings) -> None:
        """Without REDIS_URL the award's metafield sync, and its Shopify Flow trigger, run in
        the web process."""
        from asgi_lifespan import LifespanManager

        from tests.factories import create_api_key
        from web.app import create_app

        shop = await connected_shop(settings)
        rule = await create_rule(shop, points=25)
        customer = await create_customer(shop)
        key = (await create_api_key(shop)).secret
        app = create_app(settings, manage_db=False, job_defer=0)
        standin = ShopifyAdmin()
        with respx.mock(assert_all_called=True) as mock:
            shopify = mock.post(f"https://{shop.domain}/admin/api/2026-10/graphql.json").mock(
                side_effect=standin
            )
            async with LifespanManager(app) as manager:
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=manager.app),
                    base_url="https://loyalty.test",
                ) as http:
                    response = await http.post(
                        f"/api/v1/earning-rules/{rule.public_id}/award",
                        json={"customer_identifier": customer.email},
                        headers={"Authorization": key},
                    )
                    assert response.status_code == 201, response.text
                services = app.state.services
                await services.dispatcher.flush()
                await services.queue.drain(grace=5)

        assert shopify.call_count == 2
        owner = f"gid://shopify/Customer/{customer.shopify_customer_id}"
        assert standin.metafield(owner, "points") == "25"
        assert [handle for handle, _ in standin.flow_triggers] == ["loyalty-points-earned"]
        assert await OutboxIntent.filter(completed_at__isnull=True).count() == 0
