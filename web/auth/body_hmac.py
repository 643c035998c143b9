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
from collections.abc import Callable, Iterable
from typing import NoReturn

from shopify_app.types import RequestInput, ResultForReq
from starlette.requests import Request

from web.errors import RequestError
from web.http.body import exceeds


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
