"""loyalty.db_retry on real PostgreSQL connections killed with `pg_terminate_backend`: which
failures count as lost and unsent, and what the app's Tortoise client runs again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.db import connection
from loyalty.db_retry import (
    fresh_connections,
    is_connection_lost,
    retry_on_lost_connection,
    statement_not_sent,
)
from loyalty.models import Shop
from tests.factories import create_shop
from tests.resilience.postgres_faults import (
    terminate_backends_half_noticed,
    terminate_backends_unnoticed,
)

pytestmark = pytest.mark.parametrize("database", ["postgres"], indirect=True)


@pytest.fixture(autouse=True)
async def pool_renewed_after(db: str) -> AsyncIterator[None]:
    """Each test leaves pooled connections to killed backends; the database's cleanup (the
    `db` fixture's TRUNCATE, run after this) must not draw one. On a busy machine a connection
    can still be half-noticed then, and asyncpg refuses it ("cannot switch to state")."""
    yield
    await fresh_connections()


def raw_pool() -> asyncpg.Pool:
    pool: asyncpg.Pool = connection()._pool  # type: ignore[attr-defined]
    return pool


async def warm(count: int = 4) -> None:
    """`count` pooled connections open at once."""
    await connection().execute_query("SELECT 1")  # Tortoise opens its pool on first use
    conns = [await raw_pool().acquire() for _ in range(count)]
    for conn in conns:
        await raw_pool().release(conn)


async def failure_on_raw_connection() -> BaseException:
    async with raw_pool().acquire() as conn:
        try:
            await conn.execute("SELECT 1")
        except Exception as exc:
            return exc
    raise AssertionError("the statement did not fail")


class TestClassification:
    async def test_a_statement_sent_to_a_dead_backend_is_lost_but_not_provably_unsent(
        self, db: str
    ) -> None:
        """asyncpg sends it, then reads the server's goodbye: it may have run, for all it
        knows."""
        await warm()
        terminate_backends_unnoticed(db)
        exc = await failure_on_raw_connection()
        assert isinstance(exc, asyncpg.exceptions.ConnectionDoesNotExistError)
        assert is_connection_lost(exc)
        assert not statement_not_sent(exc)

    async def test_a_statement_refused_before_sending_is_unsent(self, db: str) -> None:
        """The notice was read: asyncpg refuses to start the statement at all."""
        await warm()
        await terminate_backends_half_noticed(db)
        exc = await failure_on_raw_connection()
        assert "cannot switch to state" in str(exc)
        assert is_connection_lost(exc) and statement_not_sent(exc)

    async def test_a_constraint_violation_is_not_a_lost_connection(self, db: str) -> None:
        await create_shop(domain="same.myshopify.com")
        with pytest.raises(IntegrityError) as raised:
            await create_shop(domain="same.myshopify.com")
        assert not is_connection_lost(raised.value)


class TestRetryOnLostConnection:
    async def test_a_write_that_may_have_run_is_not_run_again(self, db: str) -> None:
        """Without proof it had no effect, a write lost after sending is raised, not rerun."""
        shop = await create_shop(name="A")
        await warm()
        terminate_backends_unnoticed(db)
        with pytest.raises(asyncpg.exceptions.ConnectionDoesNotExistError):
            await sql.execute("UPDATE shop SET name = name || 'b' WHERE id = $1", shop.id)
        assert (await Shop.get(id=shop.id)).name == "A"

    async def test_a_write_never_sent_runs_once_more(self, db: str) -> None:
        shop = await create_shop(name="A")
        await warm()
        await terminate_backends_half_noticed(db)
        await sql.execute("UPDATE shop SET name = name || 'b' WHERE id = $1", shop.id)
        assert (await Shop.get(id=shop.id)).name == "Ab"

    async def test_a_read_runs_again_on_a_fresh_connection(self, db: str) -> None:
        await create_shop()
        await warm()
        terminate_backends_unnoticed(db)
        assert await Shop.all().count() == 1

    async def test_the_callers_proof_allows_a_rerun(self, db: str) -> None:
        """Lost after sending; the caller's check finds nothing written, so it runs again."""
        shop = await create_shop(name="A")
        await warm()
        terminate_backends_unnoticed(db)
        checks: list[bool] = []

        async def unchanged() -> bool:
            checks.append((await Shop.get(id=shop.id)).name == "A")
            return checks[-1]

        await retry_on_lost_connection(
            lambda: sql.execute("UPDATE shop SET name = name || 'b' WHERE id = $1", shop.id),
            not_executed=unchanged,
        )
        assert checks == [True]
        assert (await Shop.get(id=shop.id)).name == "Ab"


class TestTransactionStart:
    async def test_a_transaction_begins_on_a_fresh_connection(self, db: str) -> None:
        await warm()
        terminate_backends_unnoticed(db)
        async with in_transaction():
            await Shop.create(domain="fresh.myshopify.com", name="Fresh")
        assert await Shop.filter(domain="fresh.myshopify.com").count() == 1

    async def test_a_failed_begin_gives_its_connection_back(self, db: str) -> None:
        """After BEGIN failed on a dead connection, every pooled connection is free again (the
        failed one is not kept in use forever)."""
        await warm()
        await terminate_backends_half_noticed(db)
        async with in_transaction():
            await Shop.create(domain="fresh.myshopify.com", name="Fresh")
        pool = raw_pool()
        assert pool.get_idle_size() == pool.get_size()
