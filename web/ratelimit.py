"""Token-bucket rate limits: in Redis when configured (shared by every web process), in this
process otherwise (the embedded default).

A bucket holds up to `burst` tokens and refills at `rate` per second; each request takes one.
The Redis bucket is one atomic Lua script using Redis's own clock, so several web processes
agree without clock sync. If Redis is unreachable the limiter fails open (and logs): a rate
limiter must never be the reason the API is down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.responses import Response

from loyalty.outages import OutageLog

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    rate: float  # tokens per second
    burst: int

    @classmethod
    def per_minute(cls, count: int, *, burst: int | None = None) -> Limit:
        return cls(rate=count / 60.0, burst=burst or count)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after: int  # seconds until one token is available (when refused)

    def headers(self) -> dict[str, str]:
        values = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            values["Retry-After"] = str(self.retry_after)
        return values

    def apply(self, response: Response) -> Response:
        response.headers.update(self.headers())
        return response


def _decide(tokens: float, allowed: bool, limit: Limit) -> Decision:
    return Decision(
        allowed=allowed,
        limit=limit.burst,
        remaining=max(0, math.floor(tokens)),
        reset_seconds=math.ceil(max(0.0, limit.burst - tokens) / limit.rate),
        retry_after=0 if allowed else max(1, math.ceil((1 - tokens) / limit.rate)),
    )


@dataclass(frozen=True, slots=True)
class Grant:
    """Tokens taken from a bucket in one go (`reserve`), and what the bucket held after."""

    granted: int
    tokens: float


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: Limit) -> Decision: ...

    async def reserve(self, key: str, limit: Limit, count: int) -> Grant: ...


class MemoryRateLimiter:
    """Buckets in this process. Right for one process; each process counts separately."""

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys
        self._clock = clock  # injectable, so a test can hold time still

    async def hit(self, key: str, limit: Limit) -> Decision:
        now = self._clock()
        tokens, stamp = self._buckets.get(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - stamp) * limit.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()  # bounded memory; a reset only ever errs towards allowing
        self._buckets[key] = (tokens, now)
        return _decide(tokens, allowed, limit)

    async def reserve(self, key: str, limit: Limit, count: int) -> Grant:
        """Take up to `count` tokens at once (as many whole tokens as the bucket holds)."""
        now = self._clock()
        tokens, stamp = self._buckets.get(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - stamp) * limit.rate)
        granted = max(0, min(count, math.floor(tokens)))
        tokens -= granted
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()
        self._buckets[key] = (tokens, now)
        return Grant(granted, tokens)


# KEYS[1] bucket; ARGV rate/s, burst. Returns {allowed, tokens*1000}. Uses Redis's clock.
_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, math.floor(tokens * 1000)}
"""


# As _BUCKET_LUA, taking up to ARGV[3] tokens at once. Returns {granted, tokens*1000}.
_RESERVE_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local granted = math.max(0, math.min(want, math.floor(tokens)))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {granted, math.floor(tokens * 1000)}
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis, *, prefix: str = "loyalty:ratelimit:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_BUCKET_LUA)
        self._reserve_script = redis.register_script(_RESERVE_LUA)
        # Fails open while Redis is away: one WARNING when it goes and one when it is back,
        # never a line per request.
        self._outage = OutageLog(
            log,
            down="rate limiter: Redis unreachable (%s); allowing requests until it is back",
            back="rate limiter: Redis back after %.1f s; limits apply again",
        )

    async def hit(self, key: str, limit: Limit) -> Decision:
        try:
            allowed, milli_tokens = await self._script(
                keys=[self._prefix + key], args=[limit.rate, limit.burst]
            )
        except (RedisError, OSError) as exc:
            self._outage.failed(exc)
            return Decision(True, limit.burst, limit.burst, 0, 0)
        self._outage.succeeded()
        return _decide(int(milli_tokens) / 1000.0, bool(allowed), limit)

    async def reserve(self, key: str, limit: Limit, count: int) -> Grant:
        """Take up to `count` tokens in one round trip (see web.public_api.ratelimit)."""
        try:
            granted, milli_tokens = await self._reserve_script(
                keys=[self._prefix + key], args=[limit.rate, limit.burst, count]
            )
        except (RedisError, OSError) as exc:
            self._outage.failed(exc)
            return Grant(count, float(limit.burst))
        self._outage.succeeded()
        return Grant(int(granted), int(milli_tokens) / 1000.0)
