"""What jobs need from their process: settings, one shared HTTP client (never a global), the
Shopify Admin API client when Shopify credentials are configured, and the partner pacer (Redis
for the arq workers, this process's memory for the embedded default)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from shopify_app import ShopifyApp

from loyalty.crypto import SecretBox
from loyalty.partners.pacing import MemoryPacer, Pacer
from loyalty.partners.transport import Sleep
from loyalty.settings import Settings
from loyalty.shopify.admin_api import AdminApi
from loyalty.shopify.tokens import TokenProvider
from loyalty.shops.demo_mode import is_demo_app


class Stopping:
    """Set once when the process begins to stop (a worker's SIGTERM, the web process's
    shutdown). Sync runs then stop taking work at their next safe point, between customers,
    and leave the rest pending: a stop never cuts a platform request in half, where the
    platform may have accepted an event whose acceptance was not yet recorded (a second copy
    after restart, on a platform that does not dedupe)."""

    def __init__(self) -> None:
        self.requested = False

    def request(self) -> None:
        self.requested = True


@dataclass(frozen=True)
class JobDeps:
    settings: Settings
    http: httpx.AsyncClient
    admin: AdminApi | None = None  # None without SHOPIFY_API_KEY/SECRET (the demo has its own)
    pacer: Pacer = field(default_factory=MemoryPacer)
    sleep: Sleep = asyncio.sleep  # injectable: tests never really wait
    stopping: Stopping = field(default_factory=Stopping)

    @property
    def box(self) -> SecretBox:
        return SecretBox(self.settings.secret_key)


def shopify_app(settings: Settings) -> ShopifyApp | None:
    if not (settings.shopify_api_key and settings.shopify_api_secret):
        return None
    return ShopifyApp(
        client_id=settings.shopify_api_key,
        client_secret=settings.shopify_api_secret,
        old_client_secret=settings.shopify_old_api_secret,
    )


def build_job_deps(
    settings: Settings, http: httpx.AsyncClient, *, pacer: Pacer | None = None
) -> JobDeps:
    """One per process (the token provider holds the per-shop refresh locks)."""
    shopify = shopify_app(settings)
    admin = None
    if shopify is not None:
        box = SecretBox(settings.secret_key)
        tokens = TokenProvider(shopify=shopify, http=http, box=box, demo=is_demo_app(settings))
        admin = AdminApi(shopify=shopify, http=http, tokens=tokens)
    return JobDeps(settings=settings, http=http, admin=admin, pacer=pacer or MemoryPacer())


class ShopifyRedirect(httpx.AsyncBaseTransport):
    """Sends requests for `https://<shop>.myshopify.com/…` to a stand-in server instead (the
    path kept, the shop in `X-Shopify-Shop-Domain`). `shopify_app` builds Admin API URLs from
    the shop's domain, so this is how bench/sync points the real client at its Shopify stub."""

    def __init__(self, base_url: str, inner: httpx.AsyncBaseTransport) -> None:
        parts = urlsplit(base_url)
        self._scheme = parts.scheme
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host.endswith(".myshopify.com"):
            request.url = request.url.copy_with(
                scheme=self._scheme,
                host=self._host,
                port=self._port,
                path=self._prefix + request.url.path,
            )
            request.headers["Host"] = request.url.netloc.decode()
            request.headers["X-Shopify-Shop-Domain"] = host
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def new_http_client(settings: Settings) -> httpx.AsyncClient:
    """The process's shared HTTP client: Shopify and the partners, with bounded timeouts."""
    timeout = httpx.Timeout(10.0, connect=5.0)
    # An idle pooled connection is dropped by us after 2 s, before any server's own keep-alive
    # timeout (uvicorn 5 s, nginx 75 s, load balancers 60 s) can close it under a request we
    # are sending: that race answers nothing, so an event sent on it would be recorded
    # unconfirmed and never re-sent (bench/faults saw it once in 1,500 Postscript events).
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=2.0)
    if settings.shopify_admin_base_url:
        transport = ShopifyRedirect(
            settings.shopify_admin_base_url, httpx.AsyncHTTPTransport(limits=limits)
        )
        return httpx.AsyncClient(timeout=timeout, transport=transport)
    return httpx.AsyncClient(timeout=timeout, limits=limits)
