"""`/webhooks/...`: Shopify webhook deliveries, one route per topic group.

Each delivery is verified (`X-Shopify-Hmac-Sha256` over the raw body, by `shopify_app`) before
anything in it is read, stored once per `X-Shopify-Webhook-Id`, and acknowledged at once; the
`process_webhooks` job does the work. Shopify allows 5 s and retries for 4 hours.
https://shopify.dev/docs/apps/build/webhooks/delivery-structure
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from shopify_app.types import RequestInput
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.jobs import JobName
from loyalty.shops import shop_domain
from loyalty.webhooks.inbox import MAX_DOMAIN_LENGTH, MAX_HEADER_LENGTH, Delivery
from loyalty.webhooks.topics import TOPICS_BY_GROUP
from web.errors import RequestError
from web.state import services

log = logging.getLogger(__name__)

# Orders with hundreds of lines stay far below this; anything larger is not a Shopify delivery.
MAX_WEBHOOK_BYTES = 2 * 1024 * 1024

_ACCEPTED = b'{"status":"accepted"}'
_DUPLICATE = b'{"status":"duplicate"}'
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
        if stored.is_new:
            services(request).dispatcher.notify(stored.shop_id, [JobName.PROCESS_WEBHOOKS])
        return Response(_ACCEPTED if stored.is_new else _DUPLICATE, media_type="application/json")

    receive_webhook.__name__ = f"receive_{group}_webhook"
    return receive_webhook


async def _verified(request: Request) -> tuple[str, str]:
    """The raw body and the shop (subdomain), once `shopify_app` has verified the HMAC."""
    shopify = services(request).shopify
    if shopify is None:
        raise RequestError(
            503,
            "shopify_not_configured",
            "Service Unavailable",
            "Webhooks need SHOPIFY_API_KEY and SHOPIFY_API_SECRET to be set",
        )
    body = await _read_raw(request)
    request_input: RequestInput = {
        "method": request.method,
        "headers": dict(request.headers),
        "url": str(request.url),
        "body": body,
    }
    try:
        verified = shopify.verify_webhook_req(request_input)
    except RecursionError:  # the library parses the body (to redact its log) before the HMAC
        raise RequestError(
            400, "invalid_body", "Bad Request", "The body nests too deeply"
        ) from None
    if not verified.ok:
        status, code = verified.response.status, verified.log.code
        log.info("webhook refused on %s: %s", request.url.path, code)
        raise RequestError(
            status,
            code,
            _TITLES.get(status, "Webhook refused"),
            _DETAILS.get(code, "The webhook could not be verified"),
        )
    return body, verified.shop or ""


async def _read_raw(request: Request) -> str:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            raise _too_large()
        chunks.append(chunk)
    try:
        # shopify_app signs `body.encode("utf-8")`; Shopify sends UTF-8 JSON, so a body that
        # does not decode cannot carry a valid signature.
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(
            400, "invalid_body", "Bad Request", "The body is not UTF-8 text"
        ) from None


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
    if not webhook_id or len(webhook_id) > MAX_HEADER_LENGTH:
        raise RequestError(
            400, "missing_webhook_id", "Bad Request", "X-Shopify-Webhook-Id is missing or invalid"
        )
    domain = shop_domain(shop)
    if domain is None or len(domain) > MAX_DOMAIN_LENGTH:
        raise RequestError(
            400, "invalid_shop", "Bad Request", "X-Shopify-Shop-Domain is not a myshopify.com shop"
        )
    event_id = headers.get("x-shopify-event-id", "").strip()[:MAX_HEADER_LENGTH] or None
    return Delivery(
        webhook_id=webhook_id,
        topic=topic,
        shop_domain=domain,
        body=body,
        event_id=event_id,
        api_version=headers.get("x-shopify-api-version", "").strip(),
        triggered_at=_timestamp(headers.get("x-shopify-triggered-at")),
    )


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
