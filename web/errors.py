"""Errors as responses: the one table of HTTP statuses per domain error code, and the handlers
that render every expected failure as a JSON:API error document (never a 500)."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from loyalty import errors
from loyalty.shopify.tokens import ShopifyUnavailableError
from loyalty.shops import api_keys

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.ValidationError: 422,
    errors.NotFoundError: 404,
    errors.CategoryNotAwardableError: 422,
    errors.CustomerExcludedError: 403,
    errors.TierNotAllowedError: 403,
    errors.AlreadyAwardedError: 409,
    errors.ConflictError: 409,
    ShopifyUnavailableError: 503,  # nothing was done: try again once the shop reconnects
    api_keys.ApiKeyMissingError: 401,
    api_keys.ApiKeyInvalidError: 401,
    api_keys.ApiKeyRevokedError: 401,
    api_keys.ShopUninstalledError: 401,
    api_keys.ReadOnlyApiKeyError: 403,
}


class RequestError(errors.DomainError):
    """A malformed request, caught before any service runs (status set per instance)."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        *,
        pointer: str | None = None,
        headers: dict[str, str] | None = None,
        parameter: str | None = None,
    ) -> None:
        super().__init__(detail, pointer=pointer)
        self.status = status
        self.code = code
        self.title = title
        self.headers = headers or {}
        self.parameter = parameter  # the offending query parameter, e.g. "page[size]"


def status_for(exc: errors.DomainError) -> int:
    if isinstance(exc, RequestError):
        return exc.status
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 400


def error_document(
    status: int,
    code: str,
    title: str,
    detail: str,
    pointer: str | None = None,
    *,
    parameter: str | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"status": str(status), "code": code, "title": title, "detail": detail}
    if pointer:
        error["source"] = {"pointer": pointer}
    elif parameter:
        error["source"] = {"parameter": parameter}
    if meta:
        error["meta"] = meta
    return {"errors": [error]}


def error_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    pointer: str | None = None,
    headers: dict[str, str] | None = None,
    parameter: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Response:
    document = error_document(status, code, title, detail, pointer, parameter=parameter, meta=meta)
    body = json.dumps(document, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    headers = exc.headers if isinstance(exc, RequestError) else None
    parameter = exc.parameter if isinstance(exc, RequestError) else None
    return error_response(
        status_for(exc),
        exc.code,
        exc.title,
        exc.detail,
        pointer=exc.pointer,
        headers=headers,
        parameter=parameter,
        meta=exc.meta,
    )


_HTTP_CODES = {
    400: ("bad_request", "Bad Request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not Found"),
    405: ("method_not_allowed", "Method Not Allowed"),
    413: ("payload_too_large", "Payload Too Large"),
    415: ("unsupported_media_type", "Unsupported Media Type"),
    429: ("rate_limited", "Too Many Requests"),
}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "Error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route for {request.method} {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return error_response(exc.status_code, code, title, detail, headers=exc.headers)


async def client_disconnected_handler(request: Request, exc: Exception) -> Response:
    # The client hung up mid-request (a load generator stopping, a closed tab): nothing went
    # wrong here and nobody will read the answer. Nothing was written: the body never arrived.
    log.debug("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500, "internal_error", "Internal Server Error", "An unexpected error occurred"
    )


EXCEPTION_HANDLERS = {
    ClientDisconnect: client_disconnected_handler,
    errors.DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
