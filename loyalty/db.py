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


def _connection_url(database_url: str) -> str:
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return database_url
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    for key, value in DEFAULT_PG_POOL.items():
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query)))


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
