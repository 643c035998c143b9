"""Shopify's app proxy, played locally: the one home for turning a storefront request to
`/apps/loyalty/<tail>` into the signed request Shopify sends to the app's `/proxy/<tail>`. Used by
the demo storefront (web.demo.storefront) and the storefront browser tests.

As Shopify does (https://shopify.dev/docs/apps/build/online-store/app-proxies/authenticate-app-proxies):
the path tail and query are kept, except the parameters Shopify itself sets, which a browser can
never supply (`shop`, `logged_in_customer_id`, `path_prefix`, `timestamp`, `signature` are
dropped from its query and set here); the query is signed with the app's secret; the body is
passed along; cookies are not; the answer goes back with its status, content type and
Retry-After. The caller decides who the shop and the customer are; nothing here reads them from
the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

import httpx
from starlette.requests import Request
from starlette.responses import Response

PROXY_PREFIX = "/apps/loyalty"  # the extension's default proxy_path (shopify.app.toml)
SHOPIFY_PARAMS = frozenset(
    {"shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"}
)
FORWARDED_REQUEST_HEADERS = frozenset({"accept", "content-type", "user-agent"})
RETURNED_HEADERS = frozenset({"content-type", "retry-after"})


def proxy_signature(params: Iterable[tuple[str, str]], secret: str) -> str:
    """Shopify's app proxy signature: repeated keys joined with ',', pairs sorted by key and
    written `key=value` with no separator, HMAC-SHA256 with the app's secret, hex."""
    joined: dict[str, list[str]] = {}
    for key, value in params:
        joined.setdefault(key, []).append(value)
    message = "".join(f"{key}={','.join(values)}" for key, values in sorted(joined.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_params(
    browser_params: Iterable[tuple[str, str]],
    *,
    shop: str,
    customer_id: int | None,
    secret: str,
    now: float | None = None,
) -> list[tuple[str, str]]:
    """The browser's query (Shopify's own parameters dropped) with Shopify's added and signed;
    `customer_id` None is a visitor (Shopify sends an empty `logged_in_customer_id`)."""
    params = [(k, v) for k, v in browser_params if k not in SHOPIFY_PARAMS]
    params += [
        ("shop", shop),
        ("logged_in_customer_id", "" if customer_id is None else str(customer_id)),
        ("path_prefix", PROXY_PREFIX),
        ("timestamp", str(int(time.time() if now is None else now))),
    ]
    params.append(("signature", proxy_signature(params, secret)))
    return params


async def forward(
    transport: httpx.AsyncBaseTransport,
    request: Request,
    *,
    url: str,
    shop: str,
    customer_id: int | None,
    secret: str,
) -> Response:
    """Send the storefront's `request` to the app's proxy `url` as Shopify would, for `shop` and
    `customer_id`, and return the answer as Shopify returns it to the browser.

    Straight through `transport`, not an httpx client: a client logs each request's URL, and
    this one carries a signature that is valid for 90 seconds."""
    params = signed_params(
        request.query_params.multi_items(), shop=shop, customer_id=customer_id, secret=secret
    )
    signed = httpx.Request(
        request.method,
        url,
        params=tuple(params),  # repeated keys kept, in order
        content=await request.body(),
        headers={k: v for k, v in request.headers.items() if k in FORWARDED_REQUEST_HEADERS},
    )
    answer = await transport.handle_async_request(signed)
    try:
        content = await answer.aread()
    finally:
        await answer.aclose()
    headers = {k: v for k, v in answer.headers.items() if k in RETURNED_HEADERS}
    return Response(content, status_code=answer.status_code, headers=headers)
