"""`/webhooks/...`: Shopify webhook deliveries, one route per topic group.

Each delivery is verified before anything in it is read, stored once per
`X-Shopify-Webhook-Id`, and acknowledged at once; the `process_webhooks` job does the work.
Shopify allows 5 s and retries for 4 hours.
https://shopify.dev/docs/apps/build/webhooks/delivery-structure

The order, and why:
1. the size cap (413), counted as the body streams in;
2. `X-Shopify-Hmac-Sha256` checked here, in constant time, over the raw bytes, with the current
   and the previous client secret (`SHOPIFY_API_SECRET`, `SHOPIFY_OLD_API_SECRET`): 400 when
   missing, 401 when it does not match. `shopify_app.verify_webhook_req` parses the body (to
   redact its debug log) *before* it checks the HMAC, so a forged body with a 4,300-digit
   integer or deep nesting made it raise (500) without any secret: it must never see a body
   we have not verified;
3. `shopify_app.verify_webhook_req` on the verified body, as the library the app uses for
   every Shopify credential (same secrets, same answer). Its log parse can still fail on an
   authentic but pathological body; the HMAC is already proven then, so the delivery goes on
   (and is stored as an invalid payload, see `loyalty.webhooks.inbox`);
4. the headers we store (topic of this route, webhook id, event id, API version: printable
   ASCII, 400 otherwise) and the shop domain;
5. stored, unless the shop is unknown: a webhook never creates a shop. Shopify only sends
   webhooks to shops that installed the app, and an install creates the shop (the admin's token
   exchange), so a delivery for an unknown shop is acknowledged (200 `ignored`) and dropped,
   recording nothing: answering 4xx would only make Shopify retry it for hours.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import NoReturn

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.jobs import JobName
from loyalty.shops.domains import shop_domain
from loyalty.webhooks.inbox import MAX_DOMAIN_LENGTH, MAX_HEADER_LENGTH, Delivery
from loyalty.webhooks.topics import TOPICS_BY_GROUP
from web.auth.body_hmac import first_header, read_capped, shopify_app_verified, signature_matches
from web.errors import RequestError
from web.state import services

log = logging.getLogger(__name__)

# Orders with hundreds of lines stay far below this; anything larger is not a Shopify delivery.
MAX_WEBHOOK_BYTES = 2 * 1024 * 1024

_ACCEPTED = b'{"status":"accepted"}'
_DUPLICATE = b'{"status":"duplicate"}'
_IGNORED = b'{"status":"ignored"}'
# The names shopify_app reads, first present wins (it accepts the unprefixed form too).
_HMAC_HEADERS = ("x-shopify-hmac-sha256", "shopify-hmac-sha256")
_SHOP_HEADERS = ("x-shopify-shop-domain", "shopify-shop-domain")
# Webhook and event ids are UUIDs, the API version `2026-10`: printable ASCII, nothing else.
_HEADER_TOKEN = re.compile(rf"[\x21-\x7e]{{1,{MAX_HEADER_LENGTH}}}")
_TITLES = {400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed"}
_DETAILS = {
    "missing_hmac_header": "X-Shopify-Hmac-Sha256 is missing",
    "invalid_hmac": "X-Shopify-Hmac-Sha256 does not match the body",
    "post_method_expected": "Webhooks are delivered with POST",
}


def _receiver(group: str) -> Callable[[Request], Awaitable[Response]]:
    topics = TOPICS_BY_GROUP[group]

    async def receive_webhook(request: Request) -> Response:
        """POST /webhooks/<group>: verify, store once, acknowledge; a job does the work."""
        body, shop = await _verified(request)
        stored = await services(request).webhook_inbox.store(_delivery(request, body, shop, topics))
        if stored.shop_id is None:
            log.info("webhook for unknown shop %s dropped", shop)
            return Response(_IGNORED, media_type="application/json")
        if stored.is_new:
            services(request).dispatcher.notify(stored.shop_id, [JobName.PROCESS_WEBHOOKS])
        return Response(_ACCEPTED if stored.is_new else _DUPLICATE, media_type="application/json")

    receive_webhook.__name__ = f"receive_{group}_webhook"
    return receive_webhook


async def _verified(request: Request) -> tuple[str, str]:
    """The raw body and the shop (subdomain), once the HMAC is verified (steps 1-3 above)."""
    app_services = services(request)
    shopify = app_services.shopify
    if shopify is None:
        raise RequestError(
            503,
            "shopify_not_configured",
            "Service Unavailable",
            "Webhooks need SHOPIFY_API_KEY and SHOPIFY_API_SECRET to be set",
        )
    raw = await _read_raw(request)
    settings = app_services.settings
    _check_hmac(request, raw, [settings.shopify_api_secret, settings.shopify_old_api_secret])
    return shopify_app_verified(
        request,
        raw,
        verify=shopify.verify_webhook_req,
        shop_headers=_SHOP_HEADERS,
        refuse=lambda status, code: _refuse(request, status, code),
    )


def _check_hmac(request: Request, raw: bytes, secrets: list[str | None]) -> None:
    received = first_header(request, _HMAC_HEADERS)
    if not received:
        _refuse(request, 400, "missing_hmac_header")
    if not signature_matches(received, raw, secrets):
        _refuse(request, 401, "invalid_hmac")


def _refuse(request: Request, status: int, code: str) -> NoReturn:
    log.info("webhook refused on %s: %s", request.url.path, code)
    raise RequestError(
        status,
        code,
        _TITLES.get(status, "Webhook refused"),
        _DETAILS.get(code, "The webhook could not be verified"),
    )


async def _read_raw(request: Request) -> bytes:
    raw = await read_capped(request, MAX_WEBHOOK_BYTES)
    if raw is None:
        raise _too_large()
    return raw


def _too_large() -> RequestError:
    return RequestError(
        413,
        "payload_too_large",
        "Payload Too Large",
        f"A webhook body must be at most {MAX_WEBHOOK_BYTES // (1024 * 1024)} MB",
    )


def _delivery(request: Request, body: str, shop: str, topics: frozenset[str]) -> Delivery:
    """The verified delivery's headers. A topic this route does not handle, or a missing
    webhook id or shop, is refused: storing it would only park work nobody can do."""
    headers = request.headers
    topic = headers.get("x-shopify-topic", "").strip()
    if topic not in topics:
        raise RequestError(
            400,
            "wrong_topic",
            "Bad Request",
            f"Topic {topic or '(none)'!r} is not delivered to {request.url.path}; expected one "
            f"of {', '.join(sorted(topics))}",
        )
    webhook_id = headers.get("x-shopify-webhook-id", "").strip()
    if not _HEADER_TOKEN.fullmatch(webhook_id):
        raise RequestError(
            400, "missing_webhook_id", "Bad Request", "X-Shopify-Webhook-Id is missing or invalid"
        )
    domain = shop_domain(shop)
    if domain is None or len(domain) > MAX_DOMAIN_LENGTH:
        raise RequestError(
            400, "invalid_shop", "Bad Request", "X-Shopify-Shop-Domain is not a myshopify.com shop"
        )
    return Delivery(
        webhook_id=webhook_id,
        topic=topic,
        shop_domain=domain,
        body=body,
        event_id=_optional_token(headers, "X-Shopify-Event-Id"),
        api_version=_optional_token(headers, "X-Shopify-API-Version") or "",
        triggered_at=_timestamp(headers.get("x-shopify-triggered-at")),
    )


def _optional_token(headers: Headers, name: str) -> str | None:
    """A header we store: absent is None, printable ASCII is kept, anything else is a 400."""
    value = headers.get(name, "").strip()
    if not value:
        return None
    if not _HEADER_TOKEN.fullmatch(value):
        raise RequestError(400, "invalid_header", "Bad Request", f"{name} is invalid")
    return value


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


routes = [
    Route(f"/webhooks/{group}", _receiver(group), methods=["POST"], name=f"webhooks.{group}")
    for group in TOPICS_BY_GROUP
]
