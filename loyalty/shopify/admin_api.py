"""The Admin GraphQL client: `shopify_app.admin_graphql_request_async` plus what it leaves out.

On top of the package it adds: a fresh token for every call (refreshed under the shop's lock),
one token refresh and retry on 401, waiting out Shopify's `THROTTLED` errors (which arrive
with HTTP 200 and which the package does not retry) as long as the returned cost data says,
and capped, jittered retries of 429, 5xx and network errors. Anything else is a clear
`ShopifyApiError`. One instance per process, sharing one httpx.AsyncClient.
https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from shopify_app import GQLResult, ShopifyApp

from loyalty.errors import DomainError
from loyalty.settings import SHOPIFY_API_VERSION
from loyalty.shopify.cost import CostBudget
from loyalty.shopify.operations import Operation
from loyalty.shopify.tokens import (
    ShopifyUnavailableError,
    ShopReauthRequiredError,
    TokenProvider,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
MAX_WAIT_SECONDS = 30.0


class ShopifyApiError(DomainError):
    """Shopify rejected the request for a reason a retry will not fix."""

    code = "shopify_api_error"
    title = "Shopify API error"

    def __init__(self, detail: str, *, errors: list[Any] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


Sleep = Callable[[float], Awaitable[None]]


class AdminApi:
    def __init__(
        self,
        *,
        shopify: ShopifyApp,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        api_version: str = SHOPIFY_API_VERSION,
        sleep: Sleep = asyncio.sleep,
        budget: CostBudget | None = None,
    ) -> None:
        self._shopify = shopify
        self._http = http
        self.tokens = tokens
        self._api_version = api_version
        self._sleep = sleep
        self.budget = budget or CostBudget()  # this process's view of each shop's cost bucket

    async def execute(
        self, shop_id: int, operation: Operation, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one of the registered operations (loyalty/shopify/operations.py) for the shop;
        returns `data`. Mutation `userErrors` are in `data` for the caller to check (Shopify
        answers 200 with them)."""
        refreshed = force_refresh = False
        last_problem = "no attempt made"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            access = await self.tokens.access(shop_id, force_refresh=force_refresh)
            force_refresh = False
            result = None
            if not operation.urgent:
                await self._leave_room(shop_id)
            try:
                if (paced := self.budget.reserve(shop_id)) > 0:
                    await self._sleep(min(paced, MAX_WAIT_SECONDS))
                result = await self._shopify.admin_graphql_request_async(
                    operation.document,
                    shop=access.name,
                    access_token=access.token,
                    api_version=self._api_version,
                    variables=variables,
                    max_retries=0,  # retries are ours: one policy, and a sleep tests can replace
                    http_client=self._http,
                )
            finally:
                self.budget.settle(shop_id, _extensions(result))
            if result.ok:
                return result.data or {}
            code = result.log.code
            if code == "unauthorized":
                if refreshed:
                    raise ShopReauthRequiredError(
                        f"Shopify rejected a freshly refreshed token for shop {shop_id}"
                    )
                # The token may have been revoked early: refresh once, and retry at once.
                refreshed = force_refresh = True
                last_problem = "401 unauthorized"
                continue
            wait = self._retry_wait(result, attempt)
            if wait is None:
                raise self._permanent_error(result)
            last_problem = code
            if code == "graphql_errors" and self.budget.knows(shop_id):
                continue  # THROTTLED with its cost report: the budget paces the retry
            log.info("shop %s: %s, retrying in %.1fs", shop_id, code, wait)
            await self._sleep(wait)
        raise ShopifyUnavailableError(
            f"Shopify Admin API still failing after {MAX_ATTEMPTS} attempts ({last_problem})"
        )

    async def _leave_room(self, shop_id: int) -> None:
        """A background call waits while the bucket holds no more than the urgent calls' room
        (loyalty.shopify.cost); after MAX_WAIT_SECONDS it queues like any call."""
        waited = 0.0
        while waited < MAX_WAIT_SECONDS and (wait := self.budget.room_wait(shop_id)) > 0:
            wait = min(wait, MAX_WAIT_SECONDS - waited)
            await self._sleep(wait)
            waited += wait

    def _retry_wait(self, result: GQLResult, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when retrying cannot help."""
        code = result.log.code
        if code == "graphql_errors":
            body = _json(result.response.body)
            if _is_throttled(body):
                return throttle_wait(body)
            return None
        if code.startswith("rate_limited"):
            retry_after = _retry_after(result)
            try:
                return min(MAX_WAIT_SECONDS, max(0.0, float(retry_after or 1.0)))
            except ValueError:
                return 1.0
        if code == "network_error" or code.startswith("http_error_5"):
            ceiling = min(MAX_WAIT_SECONDS, 0.5 * 2**attempt)
            return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto
        return None

    @staticmethod
    def _permanent_error(result: GQLResult) -> ShopifyApiError:
        body = _json(result.response.body)
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors:
            messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
            return ShopifyApiError(f"Shopify GraphQL errors: {messages}", errors=errors)
        return ShopifyApiError(
            f"Shopify Admin API request failed ({result.log.code}, HTTP {result.response.status})"
        )


def _extensions(result: GQLResult | None) -> dict[str, Any] | None:
    """The cost report: on the result when it succeeded, in the raw body when it did not
    (a THROTTLED answer carries one too)."""
    if result is None:
        return None
    if result.extensions:
        return result.extensions
    body = _json(result.response.body)
    extensions = body.get("extensions") if isinstance(body, dict) else None
    return extensions if isinstance(extensions, dict) else None


def _retry_after(result: GQLResult) -> str | None:
    # shopify_app's final 429 result drops Shopify's headers; its HTTP log keeps them.
    for entry in reversed(result.http_logs or []):
        headers = {k.lower(): v for k, v in (entry.res.headers or {}).items()}
        if "retry-after" in headers:
            return str(headers["retry-after"])
    return None


def _json(body: str | None) -> Any:
    try:
        return json.loads(body or "")
    except ValueError:
        return {}


def _is_throttled(body: Any) -> bool:
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED"
        for e in errors
    )


def throttle_wait(body: dict[str, Any]) -> float:
    """How long until the bucket holds what the query asked for:
    (requestedQueryCost − currentlyAvailable) / restoreRate, at least a beat, at most 30 s."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        requested = float(cost.get("requestedQueryCost") or 0)
        available = float(status.get("currentlyAvailable") or 0)
        restore = float(status.get("restoreRate") or 0)
    except (TypeError, ValueError):
        return 1.0
    if restore <= 0:
        return 1.0
    return min(MAX_WAIT_SECONDS, max(0.1, (requested - available) / restore))
