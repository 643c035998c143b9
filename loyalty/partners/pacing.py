"""Pacing the app's own calls to a partner (Klaviyo, Omnisend, Postscript) within the limits the
partner publishes, per (shop, platform, endpoint class): in Redis when the arq workers run (every
worker process shares one bucket), in this process for the embedded default.

Partners publish a burst limit (calls per second) and/or a steady one (calls per minute) over
fixed windows. A token bucket of capacity C refilled at r per second admits at most C + r·T calls
in *any* window of T seconds, sliding or fixed, so choosing C + r ≤ burst and C + 60·r ≤ steady
keeps every second and every minute within both (`PartnerLimit.bucket`). A 429 from the partner
also holds the bucket shut for as long as the partner asked (`hold`), so every worker waits.

(The web side's request limiter is web/ratelimit.py; this one differs in answering *how long*
to wait, to the millisecond, and in the hold.)
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

from loyalty.outages import OutageLog

log = logging.getLogger(__name__)

_TOKEN_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Bucket:
    rate: float  # tokens per second
    capacity: float


@dataclass(frozen=True, slots=True)
class PartnerLimit:
    """A partner's published limit for one class of endpoints (None: not limited that way)."""

    per_second: float | None = None
    per_minute: float | None = None

    def bucket(self, share: float = 1.0) -> Bucket:
        """The bucket that keeps every 1 s and 60 s window within `share` of the limits."""
        burst = self.per_second * share if self.per_second else None
        steady = self.per_minute * share if self.per_minute else None
        if burst and steady:
            rate = (steady - burst) / 59  # from C + r = burst and C + 60·r = steady
            capacity = burst - rate
        elif burst:
            rate, capacity = burst * 2 / 3, burst / 3
        elif steady:
            capacity = steady / 10
            rate = (steady - capacity) / 60
        else:
            return Bucket(rate=1e9, capacity=1e9)
        if capacity < 1 or rate <= 0:  # a steady limit below the burst: pace at the steady rate
            capacity = 1.0
            rate = max(1e-3, ((steady or 60 * (burst or 1)) - 1) / 60)
        return Bucket(rate=rate, capacity=capacity)


class Pacer(Protocol):
    async def take(self, key: str, bucket: Bucket) -> float:
        """Take a token: 0.0 when the call may go now, else the seconds to wait first."""
        ...

    async def hold(self, key: str, seconds: float) -> None:
        """Refuse every call on `key` for `seconds` (the partner answered 429)."""
        ...


class MemoryPacer:
    """Buckets in this process: right for the embedded default's single process."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # tokens, stamp
        self._holds: dict[str, float] = {}

    async def take(self, key: str, bucket: Bucket) -> float:
        now = self._clock()
        held = self._holds.get(key, 0.0)
        if held > now:
            return held - now
        tokens, stamp = self._buckets.get(key, (bucket.capacity, now))
        tokens = min(bucket.capacity, tokens + max(0.0, now - stamp) * bucket.rate)
        wait = 0.0
        # A hair short of a whole token counts as one: the float error of refilling for
        # exactly the wait we answered must not answer a wait too small to move any clock.
        if tokens >= 1.0 - _TOKEN_EPSILON:
            tokens = max(0.0, tokens - 1.0)
        else:
            wait = (1.0 - tokens) / bucket.rate
        self._buckets[key] = (tokens, now)
        return wait

    async def hold(self, key: str, seconds: float) -> None:
        until = self._clock() + seconds
        self._holds[key] = max(self._holds.get(key, 0.0), until)


# KEYS[1] bucket; ARGV rate/s, capacity. Returns the wait in ms (0: a token was taken). Uses
# Redis's clock, so workers on several machines agree without clock sync.
_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'hold')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
local hold = tonumber(state[3]) or 0
if tokens == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate / 1000)
local wait = 0
if hold > now then
  wait = hold - now
elseif tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.max(math.ceil(capacity / rate * 1000), hold - now) + 60000)
return wait
"""

# KEYS[1] bucket; ARGV the hold in ms. Extends (never shortens) the hold.
_HOLD_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hold = now + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'hold')) or 0
if hold > current then redis.call('HSET', KEYS[1], 'hold', hold) end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) + 60000 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + 60000)
end
return 1
"""


def _share_of(bucket: Bucket, share: float) -> Bucket:
    """`bucket` scaled to `share` of its rate and size, but never below one whole token (a
    bucket that cannot hold a token would refuse every call)."""
    return Bucket(rate=bucket.rate * share, capacity=max(1.0, bucket.capacity * share))


class RedisPacer:
    """Buckets in Redis, shared by every worker.

    While Redis is unreachable, each process paces itself in memory at `fallback_share` of
    every bucket: with the default 1/4, up to four worker processes together stay within the
    partner's limits (the number of workers is not known here; a deployment with more relies
    on the partner's 429s and `hold`, which the fallback honours too). Slower, never unpaced.
    One WARNING when pacing moves to memory, one when it is back in Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "loyalty:pace:",
        fallback_share: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._prefix = prefix
        self._take = redis.register_script(_TAKE_LUA)
        self._hold = redis.register_script(_HOLD_LUA)
        self._fallback = MemoryPacer(clock=clock)
        self._fallback_share = fallback_share
        self._outage = OutageLog(
            log,
            down="partner pacing unavailable in Redis (%s); pacing in this process at "
            f"{fallback_share:g} of each limit until it is back",
            back="partner pacing back in Redis after %.1f s",
            clock=clock,
        )

    async def take(self, key: str, bucket: Bucket) -> float:
        try:
            wait_ms = await self._take(
                keys=[self._prefix + key], args=[bucket.rate, bucket.capacity]
            )
        except (RedisError, OSError) as exc:
            self._outage.failed(exc)
            return await self._fallback.take(key, _share_of(bucket, self._fallback_share))
        self._outage.succeeded()
        return int(wait_ms) / 1000.0

    async def hold(self, key: str, seconds: float) -> None:
        # Held in memory too, so that a hold still counts if Redis goes away during it.
        await self._fallback.hold(key, seconds)
        try:
            await self._hold(keys=[self._prefix + key], args=[max(1, math.ceil(seconds * 1000))])
        except (RedisError, OSError) as exc:
            self._outage.failed(exc)
