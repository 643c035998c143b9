"""Who may reach the local demo (every route under /demo): nobody, unless all of these hold.

- the process runs the demo (`loyalty serve --demo`), which is never the case with real Shopify
  credentials configured (loyalty.shops.demo_mode);
- the client is on this machine (loopback), after uvicorn applied trusted proxy headers, so a
  request forwarded by a local reverse proxy from elsewhere is refused too;
- the Host header names loopback, so a web page elsewhere cannot reach the demo through a DNS
  name that resolves to 127.0.0.1 (DNS rebinding).

Anything else answers 404, as if the demo did not exist. Routes acting for a shop check it with
`loyalty.shops.demo_mode.demo_shop` (only shops `loyalty demo` seeded).
"""

from __future__ import annotations

import ipaddress

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from loyalty.settings import Settings
from loyalty.shops.demo_mode import is_demo_app

LOOPBACK_NAMES = frozenset({"localhost"})


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):  # [::1]:8000
        return host_header[1 : host_header.find("]")]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def demo_request_allowed(settings: Settings, scope: Scope) -> bool:
    client = scope.get("client")
    host = Headers(scope=scope).get("host", "")
    return (
        is_demo_app(settings)
        and _is_loopback(client[0] if client else None)
        and _is_loopback(_host_name(host))
    )


class DemoOnlyMiddleware:
    """404 for every request the demo must not answer (see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not demo_request_allowed(self.settings, scope):
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)
