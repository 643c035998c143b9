"""Klaviyo: profile upsert (`POST /api/profile-import`, by email), events (`POST /api/events`
with `unique_id`, so a retried event is recorded once) and a connection test.

The `revision` header is pinned here and only here; bump it deliberately (revisions are stable
for a year, then deprecated, then retired). Limits are Klaviyo's per account, per endpoint:
profile endpoints 75/s burst and 750/min steady, events 350/s and 3500/min.
https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling
"""

from __future__ import annotations

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

PLATFORM = "klaviyo"
REVISION = "2026-10-15"
JSON_API = "application/vnd.api+json"
PROFILES = Endpoint("profiles", PartnerLimit(per_second=75, per_minute=750))
EVENTS = Endpoint("events", PartnerLimit(per_second=350, per_minute=3500))


def headers(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Klaviyo-API-Key {api_key}",
        "revision": REVISION,
        "accept": JSON_API,
        "content-type": JSON_API,
    }


def retry_after(response: httpx.Response) -> float | None:
    """Klaviyo sends `Retry-After` (integer seconds) on every 429."""
    return header_retry_after(response)


def error_detail(response: httpx.Response) -> str:
    """Klaviyo's error envelope: `{"errors": [{"code", "title", "detail", …}]}`."""
    body = body_json(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return str(first.get("detail") or first.get("title") or first.get("code"))
    return raw_detail(response)


def _duplicate_profile_id(response: httpx.Response) -> str | None:
    body = body_json(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict) and error.get("code") == "duplicate_profile":
            meta = error.get("meta") or {}
            found = meta.get("duplicate_profile_id") if isinstance(meta, dict) else None
            return str(found) if found else None
    return None


def event_time(value: datetime) -> str:
    """Klaviyo keeps event times to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KlaviyoClient:
    def __init__(self, transport: PartnerTransport) -> None:
        self._transport = transport

    @property
    def requests_sent(self) -> int:
        return self._transport.requests_sent

    async def upsert_profile(self, *, email: str, properties: dict[str, Any]) -> None:
        """Create or update the profile with this email (201 created, 200 updated). `None`
        values clear a property. On 409 `duplicate_profile` (the identifiers belong to another
        profile) update that profile by id instead, once, as Klaviyo's docs advise."""
        body = {
            "data": {"type": "profile", "attributes": {"email": email, "properties": properties}}
        }
        response = await self._transport.request(
            "POST", "/api/profile-import", endpoint=PROFILES, json=body
        )
        if response.status_code == 409 and (duplicate := _duplicate_profile_id(response)):
            retry = {
                "data": {
                    "type": "profile",
                    "id": duplicate,
                    "attributes": {"properties": properties},
                }
            }
            response = await self._transport.request(
                "POST", "/api/profile-import", endpoint=PROFILES, json=retry
            )
        check(PLATFORM, response, error_detail)

    async def create_event(
        self,
        *,
        email: str,
        metric: str,
        properties: dict[str, Any],
        time: datetime,
        unique_id: str,
    ) -> None:
        """Record an event (202, empty body). Points go in `properties`, never in `value`
        (Klaviyo shows `value` as revenue). Klaviyo's API spec documents `unique_id` as the
        dedupe key ("If the unique_id is repeated for the same profile and metric, only the
        first processed event will be recorded"), so a request whose answer was lost is sent
        again, same id."""
        body = {
            "data": {
                "type": "event",
                "attributes": {
                    "properties": properties,
                    "time": event_time(time),
                    "unique_id": unique_id,
                    "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                    "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
                },
            }
        }
        response = await self._transport.request(
            "POST", "/api/events", endpoint=EVENTS, json=body, resend_unanswered=True
        )
        check(PLATFORM, response, error_detail)

    async def check_connection(self) -> None:
        """Read one profile: proves the key and its profiles scope without writing anything."""
        response = await self._transport.request(
            "GET", "/api/profiles", endpoint=PROFILES, params={"page[size]": 1}
        )
        check(PLATFORM, response, error_detail)
