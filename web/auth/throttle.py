"""Failed-authentication throttling per client address: the one home of that rule, used by every
surface that authenticates a caller (API keys on `/api/v1`, proxy signatures on `/proxy`, ID
tokens on `/app/api` and the admin pages).

Each failure (a missing, unknown, revoked or forged credential) takes a token from the
address's bucket (`AUTH_FAILURE_BURST` tokens, refilled at `AUTH_FAILURE_LIMIT` per minute); a
success takes none. While the bucket is empty, *every* request from the address is refused with
429 `too_many_failures` before its credential is looked up, a valid one too: telling a valid key
apart would cost the very lookup the throttle saves, and would answer a key-guessing question.
The address is `request.client.host`, which `loyalty serve` (uvicorn `proxy_headers`) takes
from `X-Forwarded-For` only when the peer is a trusted proxy (`FORWARDED_ALLOW_IPS`).

The buckets live in the app's limiter (web.ratelimit): Redis when configured, so every web
process counts together, else this process. Checking and counting are two steps, so a burst of
concurrent failures can overshoot the bucket by its concurrency; the next request is refused.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import Scope

from loyalty.settings import Settings
from web.errors import error_response
from web.ratelimit import Limit, MemoryRateLimiter

if TYPE_CHECKING:
    from web.state import Services

log = logging.getLogger(__name__)

CODE = "too_many_failures"
# With the limiter in Redis, an address whose bucket had room is not looked up again by this
# process for this long (unless it fails here meanwhile): the public API's hot path must not
# pay a Redis round trip per request. Failures in other processes count within this delay.
CLEAR_FOR = 1.0


class AuthThrottle:
    """One per process (web.state.Services): the per-address memo of recent clear looks."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._clear_until: dict[str, float] = {}
        self._max_keys = max_keys

    async def refusal(self, services: Services, address: str) -> Response | None:
        memo = not isinstance(services.limiter, MemoryRateLimiter)  # memory: exact and cheap
        if memo and self._clear_until.get(address, 0.0) > time.monotonic():
            return None
        limit = _limit(services.settings)
        grant = await services.limiter.reserve(_KEY + address, limit, 0)  # a look, not a take
        if grant.tokens >= 1.0:
            if memo:
                if len(self._clear_until) >= self._max_keys:
                    self._clear_until.clear()  # bounded; a reset only costs a look
                self._clear_until[address] = time.monotonic() + CLEAR_FOR
            return None
        retry_after = max(1, math.ceil((1.0 - grant.tokens) / limit.rate))
        log.info("authentication throttled for %s", address)
        return error_response(
            429,
            CODE,
            "Too Many Requests",
            f"Too many failed authentications from this address: at most {limit.burst} at "
            f"once and {services.settings.auth_failure_limit:g} a minute after that; retry "
            f"after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    async def failed(self, services: Services, address: str) -> None:
        self._clear_until.pop(address, None)
        await services.limiter.hit(_KEY + address, _limit(services.settings))


_KEY = "authfail:"


def _limit(settings: Settings) -> Limit:
    return Limit(rate=settings.auth_failure_limit / 60.0, burst=settings.auth_failure_burst)


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


async def refusal(scope: Scope) -> Response | None:
    """The 429 to send instead when the caller's address has used up its failures, else None.
    Takes nothing from the bucket."""
    services: Services = scope["state"]["services"]
    return await services.auth_throttle.refusal(services, _address(scope))


async def failed(scope: Scope) -> None:
    """Count one failed authentication against the caller's address."""
    services: Services = scope["state"]["services"]
    await services.auth_throttle.failed(services, _address(scope))
