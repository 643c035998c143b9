"""Omnisend, dated API: contact upsert by email (`POST /contacts` with `customProperties` and
`sendWelcomeMessage: false`, consent left alone), custom events (`POST /events` with `eventID`)
and a connection test.

The version header is pinned here and only here (retired versions answer 410). One limit,
400 requests/min per brand over a sliding window, shared by contacts and events and by every
integration of the brand; a 429 carries `retryAfter` (seconds) in its problem+json body.
https://api-docs.omnisend.com/v2026-03-15/reference/rate-limit-timeouts-errors
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from loyalty.partners.pacing import PartnerLimit
from loyalty.partners.transport import (
    Endpoint,
    PartnerTransport,
    body_json,
    check,
    header_retry_after,
    raw_detail,
)

PLATFORM = "omnisend"
VERSION = "2026-03-15"
# "api" is Omnisend's origin for custom integrations; a partner app would ask Omnisend for its own.
ORIGIN = "api"
BRAND = Endpoint("brand", PartnerLimit(per_minute=400))
# Event ids must be UUIDs (v4–v7); ours are v5 of the event's stable key, so a retry repeats it.
_EVENT_NAMESPACE = uuid.UUID("6f1b1c8e-4c1e-5d59-9a55-2d7f0c6c1a01")


def headers(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Omnisend-API-Key {api_key}",
        "Omnisend-Version": VERSION,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def retry_after(response: httpx.Response) -> float | None:
    """`retryAfter` in the problem+json body; a `Retry-After` header if one ever appears."""
    if (from_header := header_retry_after(response)) is not None:
        return from_header
    body = body_json(response)
    value = body.get("retryAfter") if isinstance(body, dict) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return max(0.0, float(value))
    return None


def error_detail(response: httpx.Response) -> str:
    """Problem (`title`, `detail`) or ValidationProblem (`errors: [{field, message}]`)."""
    body = body_json(response)
    if not isinstance(body, dict):
        return raw_detail(response)
    words = str(body.get("detail") or body.get("title") or "")
    errors = body.get("errors")
    if isinstance(errors, list):
        fields = [f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict)]
        words = "; ".join(filter(None, [words, *fields]))
    return words or raw_detail(response)


def event_id(key: str) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, key))


def event_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OmnisendClient:
    def __init__(self, transport: PartnerTransport) -> None:
        self._transport = transport

    @property
    def requests_sent(self) -> int:
        return self._transport.requests_sent

    async def upsert_contact(self, *, email: str, properties: dict[str, Any]) -> None:
        """Create (201) or update (200) the contact with this email. `sendWelcomeMessage` is
        false (the API defaults it to true) and no `channels` are sent, so a loyalty sync never
        subscribes anyone or starts a welcome series."""
        body = {
            "identifiers": [{"type": "email", "id": email, "sendWelcomeMessage": False}],
            "customProperties": properties,
        }
        response = await self._transport.request("POST", "/contacts", endpoint=BRAND, json=body)
        check(PLATFORM, response, error_detail)

    async def send_event(
        self,
        *,
        email: str,
        name: str,
        key: str,
        time: datetime,
        properties: dict[str, Any],
    ) -> None:
        """Send a custom event (202). `eventID` is derived from `key`, stable across retries,
        but Omnisend dedupes on (eventID, eventTime) for historical events only, not live
        ones (https://api-docs.omnisend.com/reference-link/events, "Event Deduplication"), so
        a request whose answer was lost is not sent again (PartnerUnconfirmedError)."""
        body = {
            "eventName": name,
            "origin": ORIGIN,
            "eventID": event_id(key),
            "eventTime": event_time(time),
            "contact": {"email": email},
            "properties": properties,
        }
        response = await self._transport.request(
            "POST", "/events", endpoint=BRAND, json=body, resend_unanswered=False
        )
        check(PLATFORM, response, error_detail)

    async def check_connection(self) -> None:
        response = await self._transport.request(
            "GET", "/contacts", endpoint=BRAND, params={"limit": 1}
        )
        check(PLATFORM, response, error_detail)
