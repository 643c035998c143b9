"""API-key authentication for `/api/v1`, as ASGI middleware on that mount: the key is verified
(and a read-only key refused for writes) before routing, parsing or any body is read."""

from __future__ import annotations

import logging
import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from loyalty.errors import DomainError
from loyalty.shops.api_keys import (
    ApiKeyInvalidError,
    ApiKeyMissingError,
    ApiKeyRevokedError,
    authenticate,
    touch_api_key,
)
from web.auth import throttle
from web.errors import error_response, status_for

log = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes whose statement re-verifies the key atomically (see loyalty.api_keys.VerifiedKeyCache):
# only these may authenticate from the per-process cache of recently verified keys.
REVERIFIED_ROUTES = re.compile(r"^/(earning-rules/[^/]+/award|rewards/[^/]+/purchase)$")
# Public documents under the mount that need no key.
PUBLIC_PATHS = frozenset({"/openapi.json", "/docs"})
# What counts against the caller's address (web.auth.throttle): a credential that is not one.
# A genuine key of an uninstalled shop, or a read-only key used to write, is not a guess.
FAILURES = (ApiKeyMissingError, ApiKeyInvalidError, ApiKeyRevokedError)


def key_from_header(value: str | None) -> str | None:
    """`Authorization: <key>` (as the seed product documents) or `Authorization: Bearer <key>`."""
    if not value:
        return None
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() == "bearer":
        value = rest.strip()
    return value or None


class ApiKeyAuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "").removeprefix(scope.get("root_path", ""))
        if scope["type"] != "http" or path in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        state = scope.setdefault("state", {})
        cache = state["services"].verified_keys if REVERIFIED_ROUTES.match(path) else None
        refused = await throttle.refusal(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        try:
            principal = await authenticate(
                key_from_header(headers.get("authorization")), cache=cache
            )
        except DomainError as exc:
            if isinstance(exc, FAILURES):
                await throttle.failed(scope)
            response = error_response(status_for(exc), exc.code, exc.title, exc.detail)
            await response(scope, receive, send)
            return
        try:
            if scope["method"] not in READ_METHODS:
                principal.require_write()
        except DomainError as exc:
            response = error_response(status_for(exc), exc.code, exc.title, exc.detail)
            await response(scope, receive, send)
            return
        state["principal"] = principal
        if principal.needs_touch:
            state["services"].spawn(touch_api_key(principal.key_id))
        await self.app(scope, receive, send)
