"""Shared fixtures: real databases (SQLite always, PostgreSQL when reachable, required on CI),
the app with its lifespan running, and an HTTP client bound to it.

Every test that takes `db` (directly or through `client`) runs once per database:
`test_x[sqlite]` and `test_x[postgres]`.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.models import Model
from tortoise.transactions import in_transaction

from loyalty.db import APP_LABEL, close_db, connection, init_db, migrate
from loyalty.outages import INTEGRATIONS
from loyalty.settings import Settings
from web.app import create_app
from web.state import Services

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def tables_children_first() -> list[str]:
    """Every table of the app's models, each before the tables it references (so deleting in
    this order never trips a foreign key): taken from the models, never a hand-kept list."""
    models = list(Tortoise.apps[APP_LABEL].values())

    def depth(model: type[Model], seen: frozenset[str] = frozenset()) -> int:
        parents = [
            model._meta.fields_map[name].related_model  # type: ignore[attr-defined]
            for name in model._meta.fk_fields | model._meta.o2o_fields
        ]
        name = model._meta.db_table
        return 1 + max(
            (depth(p, seen | {name}) for p in parents if p._meta.db_table not in seen), default=0
        )

    return [m._meta.db_table for m in sorted(models, key=depth, reverse=True)]


def _reachable(url: str, default_port: int) -> bool:
    parsed = httpx.URL(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or default_port), 1):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, port: int) -> None:
    """Skip when a service is missing on a developer machine; fail on CI, where it must exist."""
    if _reachable(url, port):
        return
    if ON_CI:
        pytest.fail(f"{name} at {url} is required when CI=true but is unreachable")
    pytest.skip(f"{name} at {url} is unreachable (required on CI)")


def _postgres_admin_dsn() -> str:
    return POSTGRES_URL.replace("postgres://", "postgresql://", 1)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated throwaway database, one per session and backend."""
    # Tortoise caches compiled INSERTs per connection *name*, not per dialect; both backends
    # use "default", so drop SQLite's `?` statements before PostgreSQL runs (and vice versa).
    EXECUTOR_CACHE.clear()
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'loyalty.sqlite3'}"
        await migrate(url)
        await init_db(url)
        yield url
        await close_db()
        return

    require_service("PostgreSQL", POSTGRES_URL, 5432)
    name = f"loyalty_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_postgres_admin_dsn())
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}?maxsize=25"
    try:
        await migrate(url)
        await init_db(url)
        yield url
    finally:
        await close_db()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def db(database: str) -> AsyncIterator[str]:
    """The database for one test, emptied afterwards."""
    yield database
    conn = connection()
    if conn.capabilities.dialect == "sqlite":
        for table in tables_children_first():
            await conn.execute_script(f'DELETE FROM "{table}"')
    else:
        await _truncate_postgres()


# Emptying waits this long for a lock at most. A connection a test left stuck mid-statement
# (seen once in CI: a background job's `DELETE FROM sync_lease`, its backend waiting on the
# client, during the connection-kill tests) would otherwise hold the TRUNCATE, and the whole
# run, forever.
TRUNCATE_LOCK_TIMEOUT = "20s"
_STUCK_BACKENDS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
)


async def _truncate_postgres() -> None:
    truncate = (
        "TRUNCATE "
        + ", ".join(f'"{t}"' for t in tables_children_first())
        + " RESTART IDENTITY CASCADE"
    )
    try:
        async with in_transaction() as tx:
            await tx.execute_script(f"SET LOCAL lock_timeout = '{TRUNCATE_LOCK_TIMEOUT}'")
            await tx.execute_script(truncate)
        return
    except Exception as exc:
        if "lock timeout" not in str(exc):
            raise
    # Only what is not idle: the stuck holder (the pool's idle connections stay usable)
    await connection().execute_script(_STUCK_BACKENDS)
    await connection().execute_script(truncate)


@pytest.fixture
def settings(db: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db,
        redis_url=None,
        shopify_api_key="test-client-id",
        shopify_api_secret="test-client-secret",
        secret_key="test-secret-key-0123456789abcdef",
        outbox_dispatch_delay=0,
        outbox_sweep_interval=3600,
        # No quiet time: a sync run right after a change writes it.
        metafield_sync_delay=0,
        metafield_sync_max_wait=0,
        shutdown_grace=2.0,
    )


@dataclass
class RunningApp:
    asgi: ASGIApp  # the app wrapped so requests see the lifespan state
    services: Services


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    application = create_app(settings, manage_db=False, job_defer=0)
    async with LifespanManager(application) as manager:
        yield RunningApp(asgi=manager.app, services=application.state.services)


@pytest.fixture
def services(app: RunningApp) -> Services:
    """The running app's services (dispatcher, queue), as handlers reach them."""
    return app.services


@pytest.fixture
async def client(app: RunningApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.asgi), base_url="https://loyalty.test"
    ) as http:
        yield http


def redis_keys() -> set[bytes]:
    """Every key in the suite's Redis database (TEST_REDIS_URL, a database of its own)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return set(client.scan_iter(count=1000))
    finally:
        client.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The suite's Redis database; whatever the test left there (queued arq jobs, their
    results, rate-limit buckets, locks) is deleted afterwards, so the next test starts clean."""
    require_service("Redis", REDIS_URL, 6379)
    before = redis_keys()
    yield REDIS_URL
    left = redis_keys() - before
    if left:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            client.delete(*left)
        finally:
            client.close()


@pytest.fixture(scope="session", autouse=True)
def redis_left_as_found() -> Iterator[None]:
    """`make test` leaves nothing behind in Redis: the run fails (an error at the last test's
    teardown) if a key that was not there at the start outlives it."""
    if not _reachable(REDIS_URL, 6379):
        yield
        return
    before = redis_keys()
    yield
    left = sorted(key.decode(errors="replace") for key in redis_keys() - before)
    assert left == [], f"the tests left {len(left)} key(s) in {REDIS_URL}: {left[:10]}"


@pytest.fixture(autouse=True)
def integrations_as_at_start() -> None:
    """Each test starts as a fresh process: no integration remembered as failing."""
    INTEGRATIONS.clear()


@pytest.fixture(autouse=True)
def shopify_refused_nothing() -> Iterator[None]:
    """No test passes while a Shopify stand-in answered an error it was not told to expect
    (a document or variables Shopify's schema refuses, or something it does not model)."""
    from standins.shopify_admin import UNEXPECTED_ERRORS

    UNEXPECTED_ERRORS.clear()
    yield
    assert UNEXPECTED_ERRORS == [], "Shopify stand-in answered errors: " + "; ".join(
        UNEXPECTED_ERRORS
    )
