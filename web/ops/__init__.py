"""The operator's audience: what load balancers, orchestrators and scrapers call, never a
merchant or a shopper. A package of its own (rather than left in a loose `web/routes/`) so
the web layer is split by audience throughout: admin, proxy, webhooks, public API, ops.

- `health`: `/healthz` (liveness) and `/readyz` (the database answers);
- `metrics`: `/metrics` for Prometheus, only when METRICS_TOKEN is set.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from loyalty.settings import Settings
from web.ops import health, metrics


def routes(settings: Settings) -> list[BaseRoute]:
    """The probes, and the metrics route if this deployment has a token for it."""
    return [*health.routes, *metrics.routes(settings)]
