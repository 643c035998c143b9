"""`GET /metrics`: the outbox's and webhooks' numbers (loyalty.metrics) in the Prometheus text
format, for a scraper holding METRICS_TOKEN as a bearer token.

Without METRICS_TOKEN the route does not exist (404): the numbers span every shop, so they are
never public. A wrong or missing token is a 401, the token compared in constant time.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from loyalty.reports.metrics import OutboxMetrics, outbox_metrics
from loyalty.settings import Settings
from web.errors import RequestError
from web.state import services

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _authorised(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters (header values
    # arrive as latin-1 text), and a refusal must be a 401, not a 500.
    expected = f"Bearer {token}".encode()
    presented = f"{scheme.title()} {given.strip()}".encode("latin-1", "replace")
    return hmac.compare_digest(presented, expected)


def _gauge(name: str, help_text: str, samples: list[tuple[str, int]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f"{name}{labels} {value}" for labels, value in samples]
    return lines


def render(metrics: OutboxMetrics) -> str:
    """The exposition text: one gauge family per number, jobs as a `job` label (platforms as
    a `platform` label)."""

    def by_job(counts: dict[str, int]) -> list[tuple[str, int]]:
        return [(f'{{job="{job}"}}', n) for job, n in sorted(counts.items())]

    lines = [
        *_gauge(
            "loyalty_outbox_pending",
            "Side-effect intents not yet delivered, by job.",
            by_job(metrics.pending),
        ),
        *_gauge(
            "loyalty_outbox_dead_letters",
            "Side-effect intents given up after their retry window and not retried, by job.",
            by_job(metrics.dead_letters),
        ),
        *_gauge(
            "loyalty_events_unconfirmed",
            "Events sent whose answer was lost, not sent again until the merchant asks, "
            "by platform.",
            [(f'{{platform="{p}"}}', n) for p, n in sorted(metrics.unconfirmed.items())],
        ),
        *_gauge(
            "loyalty_webhooks_failed",
            "Webhook deliveries recorded as failed for good (given up or refused), never handled.",
            [("", metrics.webhooks_failed)],
        ),
        *_gauge(
            "loyalty_webhooks_pending",
            "Webhook deliveries stored and not yet handled (including those being retried).",
            [("", metrics.webhooks_pending)],
        ),
    ]
    return "\n".join(lines) + "\n"


async def metrics(request: Request) -> Response:
    token = services(request).settings.metrics_token
    if not token or not _authorised(request, token):
        raise RequestError(
            401,
            "invalid_metrics_token",
            "Unauthorized",
            "Send the METRICS_TOKEN as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response(render(await outbox_metrics()), media_type=CONTENT_TYPE)


def routes(settings: Settings) -> list[BaseRoute]:
    """The route, only when a token is configured (otherwise GET /metrics is a 404)."""
    if not settings.metrics_token:
        return []
    return [Route("/metrics", metrics, methods=["GET"], name="metrics")]
