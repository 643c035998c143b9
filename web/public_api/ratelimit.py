"""Per-key rate limits for `/api/v1`: a token bucket per API key, and a separate, larger one for
the award endpoints (`POST /earning-rules/{id}/award`, `POST /actions`).

Every response under `/api/v1` (404s of unknown paths too) carries `RateLimit-Limit` (the
bucket size), `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the bucket is full
again); a refused request answers 429 with `Retry-After`. The middleware runs before routing
and authentication and keys the bucket by a hash of the presented key (or by the client
address when none is sent), so a flood is refused before it costs a database lookup, and a 429
says nothing about whether the key is valid.

The buckets live in the shared limiter (`services.limiter`: Redis when `REDIS_URL` is set, so
every web process draws on the same bucket; this process's memory otherwise). With Redis, a
process does not pay a round trip per request: `ReservedBuckets` takes tokens from the shared
bucket a chunk at a time and hands them out locally. A token is always taken from the shared
bucket before it is used, so several processes together never admit more than the limit; what
chunking can cost is the opposite (tokens a process reserved and did not use within `HOLD`
seconds lapse), which adaptive chunk sizes keep to about one chunk per key and process.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import time
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loyalty.settings import Settings
from web.auth.api_key import key_from_header
from web.errors import error_response
from web.ratelimit import Decision, Limit, MemoryRateLimiter, RateLimiter

# Reserved tokens a process has not used within this many seconds lapse.
HOLD = 1.0
AWARD_PATHS = re.compile(r"^/(?:earning-rules/[^/]+/award|actions)$")


@dataclass(slots=True)
class _Local:
    tokens: int = 0  # reserved from the shared bucket, not yet used
    expires: float = 0.0
    shared: float = 0.0  # what the shared bucket held after the last reservation
    shared_at: float = 0.0
    empty_until: float = 0.0  # the shared bucket was empty: refuse locally until then
    chunk: int = 1  # how many tokens the next reservation asks for
    used: int = 0  # tokens handed out from the current reservation
    waiting: int = 0
    refill: asyncio.Future[None] | None = None


class ReservedBuckets:
    """Token buckets drawn from a shared limiter a chunk at a time (exact, chunk 1, when the
    limiter is this process's memory). One per process."""

    def __init__(self, limiter: RateLimiter, *, max_keys: int = 100_000) -> None:
        self.limiter = limiter
        self._exact = isinstance(limiter, MemoryRateLimiter)
        self._states: dict[str, _Local] = {}
        self._max_keys = max_keys

    async def take(self, key: str, limit: Limit) -> Decision:
        if self._exact:
            return await self.limiter.hit(key, limit)
        state = self._states.get(key)
        if state is None:
            if len(self._states) >= self._max_keys:
                self._states.clear()  # bounded; a reset only ever errs towards refusing less
            state = self._states[key] = _Local()
        for _ in range(8):  # each pass either decides or waits for one reservation
            now = time.monotonic()
            if state.tokens > 0 and now < state.expires:
                state.tokens -= 1
                state.used += 1
                return self._decision(state, limit, now, allowed=True)
            if now < state.empty_until:
                return self._decision(state, limit, now, allowed=False)
            if state.refill is not None:
                state.waiting += 1
                try:
                    await asyncio.shield(state.refill)
                finally:
                    state.waiting -= 1
                continue
            await self._reserve(key, state, limit, now)
        return self._decision(state, limit, time.monotonic(), allowed=False)

    async def _reserve(self, key: str, state: _Local, limit: Limit, now: float) -> None:
        # Slow start: double the chunk while reservations are used up within HOLD; after one
        # lapsed with tokens left, ask for what was actually used.
        cap = max(1, min(limit.burst // 4, math.ceil(limit.rate * HOLD)))
        if state.tokens > 0:  # lapsed unused
            state.chunk = max(1, state.used)
        elif state.used:
            state.chunk = min(cap, state.chunk * 2)
        ask = min(limit.burst, max(state.chunk, state.waiting + 1))
        state.refill = asyncio.get_running_loop().create_future()
        try:
            grant = await self.limiter.reserve(key, limit, ask)
        finally:
            refill, state.refill = state.refill, None
            refill.set_result(None)
        now = time.monotonic()
        state.tokens, state.used, state.expires = grant.granted, 0, now + HOLD
        state.shared, state.shared_at = grant.tokens, now
        if grant.granted == 0:
            state.empty_until = now + max(0.001, (1.0 - grant.tokens) / limit.rate)

    @staticmethod
    def _decision(state: _Local, limit: Limit, now: float, *, allowed: bool) -> Decision:
        shared = min(float(limit.burst), state.shared + (now - state.shared_at) * limit.rate)
        if not allowed:
            wait = max(0.0, state.empty_until - now)
            return Decision(
                allowed=False,
                limit=limit.burst,
                remaining=0,
                reset_seconds=math.ceil(limit.burst / limit.rate),
                retry_after=max(1, math.ceil(wait)),
            )
        tokens = min(float(limit.burst), shared + state.tokens)
        return Decision(
            allowed=True,
            limit=limit.burst,
            remaining=max(0, math.floor(tokens)),
            reset_seconds=math.ceil(max(0.0, limit.burst - tokens) / limit.rate),
            retry_after=0,
        )


def limits_of(settings: Settings) -> tuple[Limit, Limit]:
    """(general, award) limits per API key."""
    return (
        Limit(rate=settings.api_rate_limit, burst=settings.api_rate_burst),
        Limit(rate=settings.api_award_rate_limit, burst=settings.api_award_rate_burst),
    )


class ApiRateLimitMiddleware:
    """App-level middleware for the paths under `prefix` (before routing and authentication)."""

    def __init__(self, app: ASGIApp, *, prefix: str = "/api/v1") -> None:
        self.app = app
        self.prefix = prefix
        self._buckets: ReservedBuckets | None = None
        self._limits: tuple[Settings, Limit, Limit] | None = None

    def _setup(self, scope: Scope) -> tuple[ReservedBuckets, Limit, Limit]:
        services = scope["state"]["services"]
        if self._buckets is None or self._buckets.limiter is not services.limiter:
            self._buckets = ReservedBuckets(services.limiter)
        if self._limits is None or self._limits[0] is not services.settings:
            self._limits = (services.settings, *limits_of(services.settings))
        return self._buckets, self._limits[1], self._limits[2]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        full_path: str = scope.get("path", "")
        path = full_path.removeprefix(scope.get("root_path", "")).removeprefix(self.prefix)
        if scope["type"] != "http" or not (path == "" or path.startswith("/")) or path == full_path:
            await self.app(scope, receive, send)
            return
        buckets, general, award = self._setup(scope)
        is_award = scope["method"] == "POST" and AWARD_PATHS.match(path) is not None
        limit = award if is_award else general
        secret = key_from_header(Headers(scope=scope).get("authorization"))
        if secret is not None:
            who = "key:" + hashlib.sha256(secret.encode()).hexdigest()[:32]
        else:
            client = scope.get("client")
            who = "addr:" + (client[0] if client else "unknown")
        decision = await buckets.take(f"api:{'award' if is_award else 'all'}:{who}", limit)
        headers = decision.headers()
        if not decision.allowed:
            response = error_response(
                429,
                "rate_limited",
                "Too Many Requests",
                f"This API key may make {limit.burst} requests at once and {limit.rate:g} per "
                f"second after that; retry after {decision.retry_after} s",
                headers=headers,
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in headers.items():
                    response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
