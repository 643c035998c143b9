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
from collections.abc import Iterable

from starlette.requests import Request

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
