"""Redis locks for the periodic jobs: two workers never run the same sweep or scheduler at once.

arq already enqueues each cron tick once across workers (the job id names the tick), but a
pass still running when the next tick fires, or a worker whose clock is off, could overlap; the
lock closes that. `SET NX PX` with a token, released only by its holder (compare-and-delete),
and expiring on its own if the holder dies.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@contextlib.asynccontextmanager
async def redis_lock(redis: Redis, name: str, *, ttl: float) -> AsyncIterator[bool]:
    """Yields whether the lock was taken; the body should do nothing when it was not."""
    key = f"loyalty:lock:{name}"
    token = secrets.token_hex(16)
    taken = bool(await redis.set(key, token, nx=True, px=max(1, int(ttl * 1000))))
    if not taken:
        log.info("%s is already running elsewhere; skipped", name)
    try:
        yield taken
    finally:
        if taken:
            # Redis gone meanwhile: the pass itself is done, and the lock expires on its own.
            with contextlib.suppress(RedisError, OSError):
                await redis.eval(_RELEASE_LUA, 1, key, token)  # type: ignore[misc]
