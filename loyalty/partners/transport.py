"""What every partner client shares: pacing within the partner's limits, one retry policy, and
the errors the sync jobs act on.

Policy, per call:
- before each attempt, a token from the (shop, platform, endpoint class) bucket
  (loyalty.partners.pacing); a wait longer than `max_inline_wait` is not slept here but raised as
  `PartnerThrottledError`, so the job hands its work back and frees its worker slot;
- 429: wait what the partner asked (each platform says it its own way: `retry_after`), or a
  jittered backoff when it does not say; the bucket is held shut for that long too;
- 5xx (and 524) and network errors/timeouts: capped exponential backoff with jitter, a few
  attempts, then `PartnerUnavailableError` (the job retries later with the outbox's backoff);
- anything else is returned for the client to interpret (`check`): 401/403 are
  `PartnerAuthError`, other 4xx `PartnerRejectedError` (never retried).

Whether a failed request may be sent again depends on whether the platform can have processed
it. Certainly not: no connection was made (connect error or timeout, no pooled connection), or
the platform answered 429 or a 5xx of its own. Perhaps: the request was sent and no answer
came (a read or write timeout, the connection dropped), or a gateway answered that the origin
did not answer in time (504, Cloudflare's 524). A request that may not be repeated
(`resend_unanswered=False`: an event on a platform that does not dedupe by our id) raises
`PartnerUnconfirmedError` on the first ambiguous failure instead of being sent again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from loyalty.partners.pacing import Pacer, PartnerLimit

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504, 524})
# A gateway that gave up waiting for the platform: the platform may have processed the request.
AMBIGUOUS_STATUSES = frozenset({504, 524})
# Failures that prove the request never reached the platform: safe to send again.
NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)
MAX_BACKOFF_SECONDS = 8.0

Sleep = Callable[[float], Awaitable[None]]
RetryAfter = Callable[[httpx.Response], float | None]


class PartnerError(Exception):
    """A partner call that did not succeed; `detail` is plain words for the merchant."""

    def __init__(self, platform: str, detail: str, *, status: int | None = None) -> None:
        super().__init__(f"{platform}: {detail}")
        self.platform = platform
        self.detail = detail
        self.status = status


class PartnerAuthError(PartnerError):
    """401/403: the key is wrong, revoked or lacks a scope. Retrying cannot help until the
    merchant saves another key."""


class PartnerRejectedError(PartnerError):
    """A 4xx a retry cannot fix (an invalid payload, an unknown identifier)."""


class PartnerUnavailableError(PartnerError):
    """5xx or network errors that outlasted this call's retries: try again later."""


class PartnerUnconfirmedError(PartnerError):
    """The request was sent and its answer lost, so the platform may have processed it; it was
    not sent again because a repeat would be a second copy (no documented dedupe)."""


class PartnerThrottledError(PartnerError):
    """The partner (or our pacing) asks for a wait longer than a job should sleep."""

    def __init__(self, platform: str, detail: str, *, after: float) -> None:
        super().__init__(platform, detail, status=429)
        self.after = after


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A class of endpoints that share one published limit."""

    name: str
    limit: PartnerLimit


def backoff(attempt: int) -> float:
    """0.5 s, 1 s, 2 s … capped at 8 s, with ±50 % jitter so workers do not retry in step."""
    ceiling: float = min(MAX_BACKOFF_SECONDS, 0.5 * 2.0 ** max(0, attempt - 1))
    return ceiling * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not crypto


def header_retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (the integer form; an HTTP-date is read as "soon")."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return 1.0
    return max(0.0, seconds)


def body_json(response: httpx.Response) -> Any:
    try:
        return response.json()  # a JSON value of any shape; callers check it
    except (ValueError, json.JSONDecodeError):
        return None


class PartnerTransport:
    """One partner, one shop's credentials: paced, retried requests. Cheap to build per job
    run; the httpx client is the process's shared one."""

    def __init__(
        self,
        *,
        platform: str,
        http: httpx.AsyncClient,
        base_url: str,
        headers: Mapping[str, str],
        shop_id: int,
        pacer: Pacer | None,
        share: float,
        retry_after: RetryAfter,
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = 4,
        max_inline_wait: float = 10.0,
        timeout: float = 10.0,
    ) -> None:
        self.platform = platform
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._shop_id = shop_id
        self._pacer = pacer
        self._share = share
        self._retry_after = retry_after
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_inline_wait = max_inline_wait
        self._timeout = timeout
        # Requests actually sent (paced out ones are not): a failure with none sent was never
        # a delivery attempt.
        self.requests_sent = 0

    def _key(self, endpoint: Endpoint) -> str:
        return f"{self.platform}:{self._shop_id}:{endpoint.name}"

    async def _pace(self, endpoint: Endpoint) -> None:
        if self._pacer is None:
            return
        bucket = endpoint.limit.bucket(self._share)
        while (wait := await self._pacer.take(self._key(endpoint), bucket)) > 0:
            if wait > self._max_inline_wait:
                raise PartnerThrottledError(
                    self.platform, f"rate limit reached; next call in {wait:.0f} s", after=wait
                )
            await self._sleep(wait)

    async def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: Endpoint,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        resend_unanswered: bool = True,
    ) -> httpx.Response:
        """Send with pacing and retries; returns the first response that is not a 429 or a
        retryable 5xx. Raises PartnerThrottledError or PartnerUnavailableError, and
        PartnerUnconfirmedError when `resend_unanswered` is False and an answer was lost."""
        url = self._base_url + path
        for attempt in range(1, self._max_attempts + 1):
            await self._pace(endpoint)
            self.requests_sent += 1
            try:
                response = await self._http.request(
                    method,
                    url,
                    headers=self._headers,
                    json=json,
                    params=params,
                    timeout=self._timeout,
                )
            except NOT_SENT as exc:
                problem, wait = f"could not connect ({type(exc).__name__}: {exc})", None
            except httpx.TransportError as exc:
                if isinstance(exc, httpx.TimeoutException):
                    problem = f"no answer within {self._timeout:.0f} s ({type(exc).__name__})"
                else:
                    problem = f"the connection dropped ({type(exc).__name__}: {exc})"
                if not resend_unanswered:
                    raise PartnerUnconfirmedError(self.platform, problem) from exc
                wait = None
            else:
                if response.status_code == 429:
                    asked = self._retry_after(response)
                    wait = asked if asked is not None else backoff(attempt)
                    if self._pacer is not None:
                        await self._pacer.hold(self._key(endpoint), wait)
                    if wait > self._max_inline_wait or attempt == self._max_attempts:
                        raise PartnerThrottledError(
                            self.platform,
                            f"rate limited (429); asked to wait {wait:.0f} s",
                            after=max(wait, 1.0),
                        )
                    log.info("%s 429 on %s %s: waiting %.2fs", self.platform, method, path, wait)
                    await self._sleep(wait)
                    continue
                if response.status_code not in RETRYABLE_STATUSES:
                    return response
                problem, wait = f"server error {response.status_code}", None
                if response.status_code in AMBIGUOUS_STATUSES and not resend_unanswered:
                    raise PartnerUnconfirmedError(self.platform, f"{problem} (gateway timeout)")
            if attempt == self._max_attempts:
                raise PartnerUnavailableError(
                    self.platform, f"{problem} after {attempt} attempts", status=None
                )
            wait = backoff(attempt) if wait is None else wait
            log.info("%s %s %s: %s; retrying in %.2fs", self.platform, method, path, problem, wait)
            await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


def check(platform: str, response: httpx.Response, detail: Callable[[httpx.Response], str]) -> None:
    """Raise for a 4xx: PartnerAuthError on 401/403, PartnerRejectedError otherwise."""
    status = response.status_code
    if status < 400:
        return
    words = detail(response)
    if status in (401, 403):
        raise PartnerAuthError(
            platform, f"the API key was refused ({status}: {words})", status=status
        )
    raise PartnerRejectedError(platform, f"request refused ({status}: {words})", status=status)


def raw_detail(response: httpx.Response, *, limit: int = 300) -> str:
    text = response.text.strip() or response.reason_phrase
    return text[:limit]
