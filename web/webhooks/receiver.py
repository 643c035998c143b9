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

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.jobs import JobName
from loyalty.shops.domains import shop_domain
from loyalty.webhooks.inbox import MAX_DOMAIN_LENGTH, MAX_HEADER_LENGTH, Delivery
from loyalty.webhooks.topics import TOPICS_BY_GROUP
from web.auth.body_hmac import SignedRoute, verified_body
from web.errors import RequestError
from web.state import services

log = logging.getLogger(__name__)

# Orders with hundreds of lines stay far below this; anything larger is not a Shopify delivery.
MAX_WEBHOOK_BYTES = 2 * 1024 * 1024

_ACCEPTED = b'{"status":"accepted"}'
_DUPLICATE = b'{"status":"duplicate"}'
_IGNORED = b'{"status":"ignored"}'
# Webhook and event ids are UUIDs, the API version `2026-10`: printable ASCII, nothing else.
_HEADER_TOKEN = re.compile(rf"[\x21-\x7e]{{1,{MAX_HEADER_LENGTH}}}")
_SIGNED = SignedRoute(
    noun="webhook",
    max_bytes=MAX_WEBHOOK_BYTES,
    # The names shopify_app reads, first present wins (it accepts the unprefixed form too).
    hmac_headers=("x-shopify-hmac-sha256", "shopify-hmac-sha256"),
    shop_headers=("x-shopify-shop-domain", "shopify-shop-domain"),
    post_method_detail="Webhooks are delivered with POST",
    verifier=lambda shopify: shopify.verify_webhook_req,
    log=log,
)


def _receiver(group: str) -> Callable[[Request], Awaitable[Response]]:
    topics = TOPICS_BY_GROUP[group]

    async def receive_webhook(request: Request) -> Response:
        """POST /webhooks/<group>: verify, store once, acknowledge; a job does the work."""
        body, shop = await verified_body(request, _SIGNED)
        stored = await services(request).webhook_inbox.store(_delivery(request, body, shop, topics))
        if stored.shop_id is None:
            log.info("webhook for unknown shop %s dropped", shop)
            return Response(_IGNORED, media_type="application/json")
        if stored.is_new:
            services(request).dispatcher.notify(stored.shop_id, [JobName.PROCESS_WEBHOOKS])
        return Response(_ACCEPTED if stored.is_new else _DUPLICATE, media_type="application/json")

    receive_webhook.__name__ = f"receive_{group}_webhook"
    return receive_webhook


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
