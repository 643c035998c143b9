"""Fixtures for the arq tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool


@pytest.fixture
async def arq_redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    """A real Redis pool on a queue of this test's own, deleted afterwards."""
    pool = ArqRedis(
        connection_pool=ConnectionPool.from_url(redis_url),
        default_queue_name=f"test:arq:{uuid.uuid4().hex}",
    )
    yield pool
    await pool.delete(pool.default_queue_name)
    await pool.aclose(close_connection_pool=True)
