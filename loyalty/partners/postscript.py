"""Postscript (API v2): find an existing subscriber (by Shopify customer id, then email), patch
its custom `properties`, send custom events (`POST /api/v2/events` with `external_id`), and a
connection test (`GET /api/v2/me`).

Never creates subscribers: creating one starts an SMS opt-in (TCPA double opt-in) the shopper did
not ask for. Limit: 15 requests/second per token; a 429 says nothing about when to come back,
so retries back off with jitter.
https://developers.postscript.io/docs/api-authentication
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from loyalty.partners.pacing import PartnerLimit
from loyalty.partners.transport import Endpoint, PartnerTransport, check, raw_detail

PLATFORM = "postscript"
API = Endpoint("api", PartnerLimit(per_second=15))


def headers(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }


def retry_after(response: httpx.Response) -> float | None:
    """Postscript documents no Retry-After: the transport backs off with jitter."""
    return None


def error_detail(response: httpx.Response) -> str:
    return raw_detail(response)  # undocumented error bodies: keep Postscript's own words


def occurred_at(value: datetime) -> str:
    """Postscript's format: `%Y-%m-%d %H:%M:%S.%f`, UTC."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _first_id(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    subscribers = body.get("subscribers") if isinstance(body, dict) else None
    if isinstance(subscribers, list) and subscribers and isinstance(subscribers[0], dict):
        found = subscribers[0].get("id")
        return str(found) if found else None
    return None


class PostscriptClient:
    def __init__(self, transport: PartnerTransport) -> None:
        self._transport = transport

    @property
    def requests_sent(self) -> int:
        return self._transport.requests_sent

    async def find_subscriber(self, *, shopify_customer_id: int, email: str | None) -> str | None:
        """The subscriber's id, looked up by Shopify customer id, then by email; None when the
        customer is not a subscriber (then nothing is sent: we never create one)."""
        lookups: list[dict[str, Any]] = [{"shopify_customer_id__eq": shopify_customer_id}]
        if email:
            lookups.append({"email__eq": email})
        for params in lookups:
            response = await self._transport.request(
                "GET", "/api/v2/subscribers", endpoint=API, params=params
            )
            check(PLATFORM, response, error_detail)
            if found := _first_id(response):
                return found
        return None

    async def update_properties(self, *, subscriber_id: str, properties: dict[str, Any]) -> None:
        response = await self._transport.request(
            "PATCH",
            f"/api/v2/subscribers/{subscriber_id}",
            endpoint=API,
            json={"properties": properties},
        )
        check(PLATFORM, response, error_detail)

    async def send_event(
        self,
        *,
        type: str,
        subscriber_id: str,
        email: str | None,
        time: datetime,
        properties: dict[str, Any],
        external_id: str,
    ) -> None:
        """Send a custom event (202). `external_id` is our stable key, but Postscript does not
        document it as a dedupe key: a request whose answer was lost is never sent again
        (PartnerUnconfirmedError); only 429s, 5xx and failed connections are retried.
        Properties without a value are left out: Postscript accepts "strings, booleans,
        integers, floats, and datetime strings", and a null is none of them
        (https://developers.postscript.io/reference/create-custom-event)."""
        body: dict[str, Any] = {
            "type": type,
            "subscriber_id": subscriber_id,
            "occurred_at": occurred_at(time),
            "properties": {key: value for key, value in properties.items() if value is not None},
            "external_id": external_id,
        }
        if email:
            body["email"] = email
        response = await self._transport.request(
            "POST", "/api/v2/events", endpoint=API, json=body, resend_unanswered=False
        )
        check(PLATFORM, response, error_detail)

    async def check_connection(self) -> None:
        response = await self._transport.request("GET", "/api/v2/me", endpoint=API)
        check(PLATFORM, response, error_detail)
