"""Database wiring: the Tortoise config for a URL, startup/shutdown, and schema migrations.

SQLite is the embedded default (`DATABASE_URL` unset → a file under `./data/`); PostgreSQL when
`DATABASE_URL=postgres://…`. The schema is owned by the migrations in `loyalty/migrations`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as tortoise_migrate

APP_LABEL = "loyalty"
MODELS_MODULE = "loyalty.models"
MIGRATIONS_MODULE = "loyalty.migrations"

# A pool per process: enough for bursts of concurrent requests, small enough that several web
# processes and workers stay well under PostgreSQL's default max_connections (100).
DEFAULT_PG_POOL = {"minsize": "2", "maxsize": "10"}


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": _connection_url(database_url)},
        "apps": {
            APP_LABEL: {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _connection_url(database_url: str) -> str | dict[str, Any]:
    if database_url.startswith("sqlite://"):
        parts = urlsplit(database_url)
        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Tortoise turns query parameters into PRAGMAs and already uses WAL. In WAL mode,
        # synchronous=NORMAL (SQLite's recommended pairing) stays consistent and loses nothing
        # if the app crashes; a power cut may undo the last moments of commits, which is the
        # embedded default's trade for a 1.6x faster award. Production runs PostgreSQL.
        pragmas = dict(parse_qsl(parts.query))
        pragmas.setdefault("synchronous", "NORMAL")
        return database_url.split("?", 1)[0] + "?" + urlencode(pragmas)
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    for key, value in DEFAULT_PG_POOL.items():
        query.setdefault(key, value)
    config: dict[str, Any] = expand_db_url(urlunsplit(parts._replace(query=urlencode(query))))
    config["credentials"]["reset"] = _keep_session
    # No JIT compilation: the app's statements are short, and a stale row estimate on a
    # churning table (sync leases, intents) can push a millisecond plan past jit_above_cost,
    # where compiling it costs 100 ms or more (seen in a hand-made test of the lease take).
    config["credentials"]["server_settings"] = {
        **config["credentials"].get("server_settings", {}),
        "jit": "off",
    }
    # Tortoise's asyncpg client, retrying on a fresh connection what a lost one provably did
    # not run (see loyalty.db_retry).
    config["engine"] = "loyalty.db_retry"
    return config


async def _keep_session(connection: Any) -> None:
    """asyncpg's default reset runs `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release: a round trip per query (a fifth of the award path's CPU). The app never
    uses session state (no SET, LISTEN, advisory locks or cursors outside transactions), and
    asyncpg still rolls back any transaction left open, so there is nothing to reset."""


async def init_db(database_url: str) -> None:
    # A process-wide context: the server's lifespan runs in one task and requests in others
    # (Tortoise's own Starlette integration does the same).
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str) -> None:
    """Apply every pending migration (idempotent: applied ones are recorded and skipped)."""
    await tortoise_migrate(config=tortoise_config(database_url))
    await Tortoise.close_connections()


def connection() -> BaseDBAsyncClient:
    client: BaseDBAsyncClient = connections.get("default")
    return client


def dialect() -> str:
    """`postgres` or `sqlite`, for the few statements written per dialect."""
    return "sqlite" if connection().capabilities.dialect == "sqlite" else "postgres"


# For the `tortoise` CLI (makemigrations) only; the app builds its config from Settings.
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", "sqlite://data/loyalty.sqlite3"))
