"""A terminated pooled connection answers 201 (the award, the custom action) and a job still
completes, right after every backend of the app's pool was killed (PostgreSQL only: SQLite has
no connections to lose)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loyalty.jobs import JobName
from loyalty.models import EarningHistoryEntry, OutboxIntent
from loyalty.settings import Settings
from loyalty.sync.deps import build_job_deps, new_http_client
from tests.factories import create_customer, create_shop
from tests.resilience.postgres_faults import terminate_backends, terminate_backends_unnoticed
from tests.web.public_api.helpers import Api, World
from workers.jobs import FUNCTIONS

pytestmark = pytest.mark.parametrize("database", ["postgres"], indirect=True)


async def warm_pool(api: Api, world: World) -> None:
    """Several pooled connections in use at once, and the award's key cache filled."""
    responses = await asyncio.gather(
        *(api.get(f"/customers/{world.bob.shopify_customer_id}") for _ in range(6))
    )
    assert {r.status_code for r in responses} == {200}
    response = await api.post(
        f"/earning-rules/{world.rule.public_id}/award",
        {"customer_identifier": str(world.bob.shopify_customer_id)},
    )
    assert response.status_code == 201, response.text


class TestAwardAfterTermination:
    async def test_award_on_a_connection_killed_unnoticed_answers_201_once(
        self, api: Api, world: World, db: str
    ) -> None:
        """The statement goes out on a connection whose backend is already gone."""
        await warm_pool(api, world)
        assert terminate_backends_unnoticed(db) >= 2
        response = await api.post(
            f"/earning-rules/{world.rule.public_id}/award",
            {"customer_identifier": str(world.ann.shopify_customer_id)},
        )
        assert response.status_code == 201, response.text
        assert await EarningHistoryEntry.filter(customer_id=world.ann.id).count() == 1

    async def test_a_burst_on_killed_connections_answers_201_for_each(
        self, api: Api, world: World, db: str
    ) -> None:
        """Twenty concurrent awards, one shared statement, right after the kill: the batch is
        rerun whole once a check finds it wrote nothing. (The previous code got through this
        case by rerunning the awards one by one, which would also rerun a batch that had
        committed; only a batch of one answered 500.)"""
        await warm_pool(api, world)
        customers = [await create_customer(world.shop) for _ in range(20)]
        terminate_backends_unnoticed(db)
        responses = await asyncio.gather(
            *(
                api.post(
                    f"/earning-rules/{world.rule.public_id}/award",
                    {"customer_identifier": str(customer.shopify_customer_id)},
                )
                for customer in customers
            )
        )
        assert [r.status_code for r in responses] == [201] * 20
        assert (
            await EarningHistoryEntry.filter(customer_id__in=[c.id for c in customers]).count()
            == 20
        )

    async def test_each_award_after_repeated_kills_answers_201(
        self, api: Api, world: World, db: str
    ) -> None:
        """Killed five times from this process's loop, an award right after each: its
        connections have read the server's notice or not yet, whichever came first."""
        await warm_pool(api, world)
        for _ in range(5):
            customer = await create_customer(world.shop)
            await terminate_backends(db)
            response = await api.post(
                f"/earning-rules/{world.rule.public_id}/award",
                {"customer_identifier": customer.email},
            )
            assert response.status_code == 201, response.text
            assert await EarningHistoryEntry.filter(customer_id=customer.id).count() == 1


class TestCustomActionAfterTermination:
    async def test_action_on_a_connection_killed_unnoticed_answers_201_once(
        self, api: Api, world: World, db: str
    ) -> None:
        await warm_pool(api, world)
        terminate_backends_unnoticed(db)
        response = await api.post(
            "/actions", {"action_key": "quiz_completed", "customer_id": 6789012345}
        )
        assert response.status_code == 201, response.text
        assert await EarningHistoryEntry.filter(customer_id=world.ann.id).count() == 1


class RecordingRedis:
    """Stands in for arq's pool where the job only enqueues: keeps what it was given."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[str, dict[str, Any]]] = []

    async def enqueue_job(self, function: str, *args: Any, **kwargs: Any) -> None:
        self.enqueued.append((function, kwargs))


class TestJobAfterTermination:
    async def test_a_job_whose_first_write_meets_a_killed_connection_completes(
        self, settings: Settings, db: str
    ) -> None:
        """The metafield job's claim (a write, lost after sending) fails; the job runs again
        on a fresh connection and completes the intent (the shop has no Shopify token, so the
        job completes it without calling Shopify)."""
        shop = await create_shop()
        customer = await create_customer(shop)
        intent = await OutboxIntent.create(
            shop=shop, customer=customer, job=str(JobName.SYNC_SHOPIFY_METAFIELDS), payload={}
        )
        job = {f.name: f for f in FUNCTIONS}[str(JobName.SYNC_SHOPIFY_METAFIELDS)]
        async with new_http_client(settings) as http:
            # The run may queue its own follow-up (loyalty.jobs.sync): a queue that keeps them.
            ctx = {"deps": build_job_deps(settings, http), "redis": RecordingRedis()}
            terminate_backends_unnoticed(db)
            assert await job.coroutine(ctx, shop_id=shop.id) == 1
        await intent.refresh_from_db()
        assert intent.completed_at is not None
