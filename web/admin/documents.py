"""`/app`: the embedded admin's documents (App Home), plus the install-time plumbing around them.

Every document request is verified with `verify_app_home_req` (ID token in `?id_token=`) and
the claims it leaves unchecked (web.auth.id_token.token_shop), after the failed-auth throttle
(web.auth.throttle); one without a valid token bounces through `/auth/patch-id-token`, where
App Bridge fetches a fresh token and reloads the page. The first verified load for a shop
without a usable offline token installs it (loyalty.shopify.install: token exchange); this
module only authenticates and maps the outcome to a response.

Every page (web/admin/pages.py) is built on `open_document` and `render_document`, so
each gets the same verification, install path, bounce and CSP header.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from shopify_app.types import RequestInput, Res
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from loyalty.crypto import SecretBox
from loyalty.models import Shop
from loyalty.shopify.install import ensure_installed
from loyalty.shopify.tokens import TokenExchangeError, has_usable_token
from web.admin.shopify_scripts import ShopifyScripts, shopify_scripts
from web.admin.templating import render, static_url
from web.auth import throttle
from web.auth.id_token import token_shop, verify
from web.errors import error_response
from web.state import services

log = logging.getLogger(__name__)

PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"  # noqa: S105 - a path, not a secret
_MYSHOPIFY = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")
_KEPT_QUERY = frozenset({"shop", "host", "embedded", "locale"})


def _as_response(res: Res) -> Response:
    return Response(res.body, status_code=res.status, headers=dict(res.headers))


async def _request_input(request: Request) -> RequestInput:
    return {
        "method": request.method,
        "headers": dict(request.headers),
        "url": str(request.url),
        "body": "",
    }


async def app_home_entry(request: Request) -> Response:
    """GET /: where Shopify's App Home (application_url) lands; forward to /app, query intact."""
    query = request.url.query
    return RedirectResponse("/app" + (f"?{query}" if query else ""), status_code=302)


async def patch_id_token(request: Request) -> Response:
    """GET /auth/patch-id-token: the bounce page that lets App Bridge attach a fresh ID token."""
    shopify = services(request).shopify
    if shopify is None:
        return error_response(
            503, "shopify_not_configured", "Service Unavailable", "Shopify is not configured"
        )
    # shopify_app copies `shop` into the CSP header as given: only accept a real shop domain.
    if not _MYSHOPIFY.match(request.query_params.get("shop", "")):
        return error_response(
            400, "invalid_shop", "Bad Request", "shop must be a myshopify.com domain"
        )
    bounce = shopify.app_home_patch_id_token(await _request_input(request)).response
    return _as_response(shopify_scripts(services(request).settings).bounce(bounce))


@dataclass(frozen=True, slots=True)
class AdminDocument:
    """A verified App Home document request: what every `/app/…` page renders for."""

    shop: Shop
    staff_user_id: str | None
    headers: dict[str, str]  # CSP frame-ancestors and the preload hints, for the response
    # shop, host, embedded and locale as Shopify sent them, for the page's own links (the
    # bounce page needs `shop`); never id_token, which expires within a minute anyway.
    query: dict[str, str]


async def open_document(request: Request) -> AdminDocument | Response:
    """Verify an App Home document (`?id_token=`); install the shop if it has no usable token
    (token exchange). Returns the response to send instead when that fails: the bounce through
    /auth/patch-id-token for a missing, forged or expired token, or the install error page."""
    app_services = services(request)
    shopify = app_services.shopify
    if shopify is None:
        return HTMLResponse(render("app/not_configured.html"), status_code=503)
    refused = await throttle.refusal(request.scope)
    if refused is not None:
        return refused
    result = verify(shopify, await _request_input(request))
    if result is not None and not result.ok:
        await throttle.failed(request.scope)
        return _as_response(result.response)  # the bounce through /auth/patch-id-token
    # Signed, but not as Shopify issues them (or unreadable to the library): no bounce, a 401.
    token = result.id_token if result is not None else None
    domain, code = token_shop(token.claims) if token is not None else (None, "invalid_shop")
    if result is None or token is None or domain is None:
        await throttle.failed(request.scope)
        return error_response(401, code, "Unauthorized", "The ID token is not valid")
    try:
        installed = await ensure_installed(
            domain=domain,
            shopify=shopify,
            http=app_services.http,
            box=SecretBox(app_services.settings.secret_key),
            id_token=token,
            invalid_token_response=result.invalid_token_response,
        )
    except TokenExchangeError as exc:
        if exc.response is not None and exc.response.status in {302, 401}:
            return _as_response(exc.response)  # a stale token: App Bridge retries
        return HTMLResponse(render("app/install_failed.html", reason=exc.detail), status_code=502)
    if installed.jobs:
        app_services.dispatcher.notify(installed.shop.id, installed.jobs)
    return AdminDocument(
        shop=installed.shop,
        staff_user_id=str(result.user_id) if result.user_id is not None else None,
        # CSP frame-ancestors (required for every App Home document) and the preload hints.
        headers=_document_headers(result.response.headers, shopify_scripts(app_services.settings)),
        query={k: v for k, v in request.query_params.items() if k in _KEPT_QUERY},
    )


def render_document(
    request: Request, document: AdminDocument, template: str, **context: Any
) -> HTMLResponse:
    """The page, with the headers every App Home document must send."""
    response = HTMLResponse(render(template, **_document_context(request, document), **context))
    response.headers.update(document.headers)
    return response


def _document_headers(headers: dict[str, str], scripts: ShopifyScripts) -> dict[str, str]:
    kept = {k: scripts.csp(v) for k, v in headers.items() if k.lower() == "content-security-policy"}
    # shopify_app preloads the unversioned polaris.js; we load the stable 1.x channel.
    kept["Link"] = scripts.preload
    return kept


def _document_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    def link(path: str, **params: Any) -> str:
        """An in-app URL that keeps Shopify's shop and host (the bounce page needs them)."""
        query = {**document.query, **{k: str(v) for k, v in params.items() if v is not None}}
        return path + ("?" + urlencode(query) if query else "")

    settings = services(request).settings
    return {
        "api_key": settings.shopify_api_key,
        "shopify_scripts": shopify_scripts(settings),
        "shop": document.shop,
        "connected": has_usable_token(document.shop),
        "current_path": request.url.path,
        "query": document.query,
        "link": link,
        "static": static_url,
    }


routes = [
    Route("/", app_home_entry, methods=["GET"], name="admin.entry"),
    Route(PATCH_ID_TOKEN_PATH, patch_id_token, methods=["GET"], name="admin.patch_id_token"),
]
