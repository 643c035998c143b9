"""Idempotency keys under a real race on PostgreSQL: a first request that has claimed a key and
not yet committed (held open here on a separate connection, as another web process would)
makes a second request with the same key wait on the unique index, then replay the first's
response when it commits, or run itself when it rolls back. Never two awards.

PostgreSQL only: SQLite runs one write transaction at a time, so there the second request
cannot start its claim until the first has finished (test_custom_actions covers that).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from loyalty.clock import utcnow
from loyalty.earning.custom_actions import ActionRequest
from loyalty.models import Customer, EarningHistoryEntry, IdempotencyRecord
from tests.web.public_api.helpers import Api, World, error_of

pytestmark = pytest.mark.parametrize("database", ["postgres"], indirect=True)

BODY = {"action_key": "review_written", "customer_id": 6789012345}
FINGERPRINT = ActionRequest(
    action_key="review_written", shopify_customer_id=6789012345
).fingerprint()
STORED = {
    "data": {
        "type": "earning_history_entry",
        "id": "cer_first",
        "attributes": {"points": 10, "replayed": False},
    }
}


@pytest.fixture
async def other_process(db: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to the test database, as another web process would have."""
    dsn = db.split("?", 1)[0].replace("postgres://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def hold_claim(
    conn: asyncpg.Connection, world: World, key: str, fingerprint: str = FINGERPRINT
) -> asyncpg.transaction.Transaction:
    """Claim `key` in an open transaction, as a first request does before it awards."""
    transaction = conn.transaction()
    await transaction.start()
    await conn.execute(
        'INSERT INTO idempotency_record (shop_id, "key", fingerprint, created_at) '
        "VALUES ($1, $2, $3, $4)",
        world.shop.id,
        key,
        fingerprint,
        utcnow(),
    )
    return transaction


async def still_waiting(task: asyncio.Task[httpx.Response]) -> bool:
    await asyncio.sleep(0.3)
    return not task.done()


class TestSameKeyInFlight:
    async def test_waits_for_the_first_and_replays_its_response(
        self, api: Api, world: World, other_process: asyncpg.Connection
    ) -> None:
        """The second request blocks until the first commits, then returns its response."""
        first = await hold_claim(other_process, world, "race-1")
        second = asyncio.create_task(
            api.post("/actions", BODY, headers={"Idempotency-Key": "race-1"})
        )
        assert await still_waiting(second)
        await other_process.execute(
            "UPDATE idempotency_record SET response_status = 201, response_body = $1 "
            'WHERE "key" = $2',
            json.dumps(STORED),
            "race-1",
        )
        await first.commit()
        response = await second
        assert response.status_code == 200
        assert response.json()["data"]["id"] == "cer_first"
        assert response.json()["data"]["attributes"]["replayed"] is True
        assert await EarningHistoryEntry.filter(customer_id=world.ann.id).count() == 0
        assert (await Customer.get(id=world.ann.id)).points_balance == 0

    async def test_runs_itself_when_the_first_rolls_back(
        self, api: Api, world: World, other_process: asyncpg.Connection
    ) -> None:
        """A first request that failed left no claim: the waiting one awards, once."""
        first = await hold_claim(other_process, world, "race-2")
        second = asyncio.create_task(
            api.post("/actions", BODY, headers={"Idempotency-Key": "race-2"})
        )
        assert await still_waiting(second)
        await first.rollback()
        response = await second
        assert response.status_code == 201
        assert response.json()["data"]["attributes"]["replayed"] is False
        assert await EarningHistoryEntry.filter(customer_id=world.ann.id).count() == 1
        record = await IdempotencyRecord.get(shop_id=world.shop.id, key="race-2")
        assert record.response_status == 201

    async def test_another_body_under_the_key_is_409_once_the_first_commits(
        self, api: Api, world: World, other_process: asyncpg.Connection
    ) -> None:
        """The first request was for something else: the waiting one gets 409, awards nothing."""
        first = await hold_claim(other_process, world, "race-3", fingerprint="0" * 64)
        second = asyncio.create_task(
            api.post("/actions", BODY, headers={"Idempotency-Key": "race-3"})
        )
        assert await still_waiting(second)
        await other_process.execute(
            "UPDATE idempotency_record SET response_status = 201, response_body = $1 "
            'WHERE "key" = $2',
            json.dumps(STORED),
            "race-3",
        )
        await first.commit()
        response = await second
        assert response.status_code == 409
        assert error_of(response)["code"] == "idempotency_key_reused"
        assert await EarningHistoryEntry.filter(customer_id=world.ann.id).count() == 0
