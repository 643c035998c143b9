"""What-if variants of the award server, for measuring a suggested change before making it.

    BENCH_AWARD_APP=experiments:create BENCH_EXPERIMENTS=no_pool_reset,auth_cache bench/award

`create()` applies the patches named in BENCH_EXPERIMENTS, in this process only, and then
builds the real app with `web.asgi.create()`. Nothing here is used by the default benchmark;
the patches only approximate the changes they stand for:

- no_pool_reset: asyncpg pools created with a no-op `reset`, so releasing a connection no longer
  sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` (one extra round
  trip per query Tortoise runs; the app uses no session state, LISTEN or advisory locks).
- auth_cache: API keys resolved to their shop are cached in-process for 5 s, so a request
  usually needs no API-key query (a revoked key would keep working for up to 5 s).
- in_flight_1 / in_flight_2: each process runs at most 1 / 2 award batches at once (default 4),
  so more awards share each statement (fewer plans and commits per award, a longer wait).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from starlette.applications import Starlette


async def _no_reset(connection: Any) -> None:
    return None


def _patch_no_pool_reset() -> None:
    from tortoise.backends.asyncpg import client

    original = client.AsyncpgDBClient.create_pool

    async def create_pool(self: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("reset", _no_reset)
        return await original(self, **kwargs)

    client.AsyncpgDBClient.create_pool = create_pool  # type: ignore[method-assign]


def _patch_auth_cache(ttl: float = 5.0) -> None:
    from web.auth import api_key as middleware

    original = middleware.authenticate  # type: ignore[attr-defined]
    cache: dict[str | None, tuple[float, Any]] = {}

    async def authenticate(secret: str | None, **kwargs: Any) -> Any:
        hit = cache.get(secret)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = await original(secret, **kwargs)
        cache[secret] = (now + ttl, dataclasses.replace(principal, needs_touch=False))
        return principal

    middleware.authenticate = authenticate  # type: ignore[attr-defined]


def _patch_in_flight(count: int) -> None:
    from loyalty.ledger import award_batch

    original = award_batch.AwardBatcher.__init__

    def init(self: Any, *, max_batch: int = 64, max_in_flight: int = 4) -> None:
        original(self, max_batch=max_batch, max_in_flight=count)

    award_batch.AwardBatcher.__init__ = init  # type: ignore[method-assign]


PATCHES = {
    "no_pool_reset": _patch_no_pool_reset,
    "auth_cache": _patch_auth_cache,
    "in_flight_1": lambda: _patch_in_flight(1),
    "in_flight_2": lambda: _patch_in_flight(2),
}


def create() -> Starlette:
    for name in filter(None, os.environ.get("BENCH_EXPERIMENTS", "").split(",")):
        PATCHES[name.strip()]()
    from web.asgi import create as create_app

    return create_app()
