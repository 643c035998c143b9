"""Shopify's body signatures (webhooks, Flow actions): the raw body read under a size cap and
its `X-Shopify-Hmac-Sha256` checked over the raw bytes, before anything parses it.

`shopify_app`'s verifiers (verify_webhook_req, verify_flow_action_req) parse the body to
redact their debug log *before* they check the HMAC, so a forged body with a 4,300-digit
integer or deep nesting makes them raise (500) without any secret: they are only ever handed
a body this module has verified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn

from shopify_app import ShopifyApp
from shopify_app.types import RequestInput, ResultForReq
from starlette.requests import Request

from web.errors import RequestError
from web.http.body import exceeds
from web.state import services

_TITLES = {400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed"}


def first_header(request: Request, names: Iterable[str]) -> str:
    """The first of these headers present (shopify_app's rule), or ''."""
    return next((request.headers[name] for name in names if name in request.headers), "")


def signature_matches(received: str, raw: bytes, secrets: Iterable[str | None]) -> bool:
    """Base64 HMAC-SHA256 of the raw body, keyed with any of `secrets`, compared in constant
    time; every secret is tried so the time taken does not say which one matched."""
    # Header values arrive as latin-1 text: compare their bytes (compare_digest refuses
    # non-ASCII str, which would be a 500).
    given = received.encode("latin-1")
    matched = False
    for secret in secrets:
        if secret:
            digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
            matched |= hmac.compare_digest(given, base64.b64encode(digest))
    return matched


async def read_capped(request: Request, max_bytes: int) -> bytes | None:
    """The raw body, or None once it is (or declares itself) larger than `max_bytes`."""
    if exceeds(request.headers.get("content-length"), max_bytes):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def shopify_app_verified(
    request: Request,
    raw: bytes,
    *,
    verify: Callable[[RequestInput], ResultForReq],
    shop_headers: Iterable[str],
    refuse: Callable[[int, str], NoReturn],
) -> tuple[str, str]:
    """A body whose signature `signature_matches` already proved, as text, and its shop
    (subdomain) as `verify` (a shopify_app verifier) reads them; `refuse(status, code)` on a
    verdict against it. A body that is not UTF-8 is a 400 `invalid_body` (shopify_app signs
    `body.encode("utf-8")`, and Shopify sends UTF-8 JSON)."""
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(
            400, "invalid_body", "Bad Request", "The body is not UTF-8 text"
        ) from None
    request_input: RequestInput = {
        "method": request.method,
        "headers": dict(request.headers),
        "url": str(request.url),
        "body": body,
    }
    try:
        verified = verify(request_input)
    except (ValueError, RecursionError):
        # Its log redaction could not parse an authentic body (an integer past Python's
        # 4,300-digit limit, deep nesting): the HMAC already proved it, and the strict parse
        # that follows refuses what is not JSON.
        return body, first_header(request, shop_headers).removesuffix(".myshopify.com")
    if not verified.ok:
        refuse(verified.response.status, verified.log.code)
    return body, verified.shop or ""


@dataclass(frozen=True)
class SignedRoute:
    """What differs between the routes that take a Shopify-signed body (webhooks, Flow
    actions): what they are called in refusals, their size cap, the header names their
    `shopify_app` verifier reads, and that verifier."""

    noun: str  # "webhook", "Flow action": refusals' titles and details, log lines
    max_bytes: int
    hmac_headers: tuple[str, ...]
    shop_headers: tuple[str, ...]
    post_method_detail: str  # what a GET (shopify_app's `post_method_expected`) is told
    verifier: Callable[[ShopifyApp], Callable[[RequestInput], ResultForReq]]
    log: logging.Logger

    def refuse(self, request: Request, status: int, code: str) -> NoReturn:
        self.log.info("%s refused on %s: %s", self.noun, request.url.path, code)
        details = {
            "missing_hmac_header": "X-Shopify-Hmac-Sha256 is missing",
            "invalid_hmac": "X-Shopify-Hmac-Sha256 does not match the body",
            "post_method_expected": self.post_method_detail,
        }
        raise RequestError(
            status,
            code,
            _TITLES.get(status, f"{self.noun[0].upper()}{self.noun[1:]} refused"),
            details.get(code, f"The {self.noun} could not be verified"),
        )


async def verified_body(request: Request, route: SignedRoute) -> tuple[str, str]:
    """The raw body as text and its shop (subdomain), once the app is configured (503), the
    body is within the route's cap (413), and its HMAC matches the app's secret or the one
    being rotated out (400/401), as `shopify_app` confirms; nothing in the request is read
    before that."""
    app_services = services(request)
    shopify = app_services.shopify
    if shopify is None:
        raise RequestError(
            503,
            "shopify_not_configured",
            "Service Unavailable",
            f"{route.noun[0].upper()}{route.noun[1:]}s need SHOPIFY_API_KEY and "
            "SHOPIFY_API_SECRET to be set",
        )
    raw = await read_capped(request, route.max_bytes)
    if raw is None:
        raise RequestError(
            413,
            "payload_too_large",
            "Payload Too Large",
            f"A {route.noun} body is at most {_size(route.max_bytes)}",
        )
    received = first_header(request, route.hmac_headers)
    if not received:
        route.refuse(request, 400, "missing_hmac_header")
    settings = app_services.settings
    secrets = [settings.shopify_api_secret, settings.shopify_old_api_secret]
    if not signature_matches(received, raw, secrets):
        route.refuse(request, 401, "invalid_hmac")
    return shopify_app_verified(
        request,
        raw,
        verify=route.verifier(shopify),
        shop_headers=route.shop_headers,
        refuse=lambda status, code: route.refuse(request, status, code),
    )


def _size(max_bytes: int) -> str:
    mib = 1024 * 1024
    return f"{max_bytes // mib} MB" if max_bytes % mib == 0 else f"{max_bytes // 1024} KB"
