"""The web process's outbox dispatcher while Redis is down: every commit still answers, each
enqueue failure is left to the sweep, and the log says so once per outage, not once per request.
Against a private redis-server the test starts late."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from arq.connections import ArqRedis

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.jobs.sweep import OutboxDispatcher
from loyalty.models import OutboxIntent
from loyalty.outbox.queue import ArqJobQueue
from tests.factories import create_customer, create_shop
from tests.resilience.redis_server import RedisServer


@pytest.fixture
async def dispatcher(redis_server: RedisServer) -> AsyncIterator[OutboxDispatcher]:
    pool = ArqRedis.from_url(redis_server.url, socket_connect_timeout=0.2, socket_timeout=1)
    yield OutboxDispatcher(ArqJobQueue(pool), delay=0, job_defer=0)
    await pool.aclose()


def queue_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "loyalty.outbox.dispatch" and r.levelname == "WARNING"
    ]


class TestQueueOutage:
    async def test_one_warning_when_the_queue_goes_and_one_when_it_is_back(
        self,
        db: str,
        redis_server: RedisServer,
        dispatcher: OutboxDispatcher,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        shop = await create_shop()
        customer = await create_customer(shop)
        intent = await OutboxIntent.create(
            shop=shop, customer=customer, job=str(JobName.SYNC_SHOPIFY_METAFIELDS), payload={}
        )
        await OutboxIntent.filter(id=intent.id).update(
            created_at=utcnow() - timedelta(minutes=1)  # past the sweep's grace
        )
        jobs = [JobName.SYNC_SHOPIFY_METAFIELDS, JobName.SYNC_KLAVIYO_PROFILES]
        for shop_id in range(1, 11):  # ten requests' worth of commits, two kinds each
            dispatcher.notify(shop_id, jobs)
            assert await dispatcher.flush() == 0
        assert await dispatcher.sweep() == 0  # the sweep meets the same outage
        lines = queue_lines(caplog)
        assert len(lines) == 1 and lines[0].startswith("job queue unreachable")

        redis_server.start()
        assert await dispatcher.sweep() == 1
        dispatcher.notify(shop.id, jobs)
        assert await dispatcher.flush() == 2
        lines = queue_lines(caplog)
        assert len(lines) == 2 and lines[1].startswith("job queue back after")
