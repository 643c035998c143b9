"""The app factory: `create_app(settings)` mounts each audience's routes with its auth, and the
lifespan owns the process's shared clients (database, HTTP, Redis) and the outbox dispatcher.

The route table (`route_table`) is assembled from each audience's package: web.ops (probes,
metrics), web.admin (documents, pages; `web.admin.api` under `/app/api`), web.webhooks,
web.flow (Shopify Flow actions), the public API under `/api/v1`, and web.proxy under
`/proxy`. Each mount carries its own auth.
`running_services` builds, starts and stops what handlers reach through `request.state`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from loyalty.db import close_db, init_db
from loyalty.jobs.follow_ups import job_defers
from loyalty.jobs.in_process import in_process_periodic, in_process_queue
from loyalty.jobs.periodic import PeriodicRunner
from loyalty.jobs.sweep import OutboxDispatcher
from loyalty.outbox.queue import ArqJobQueue, InProcessJobQueue, JobQueue
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps, build_job_deps, new_http_client, shopify_app
from web import admin, demo, flow, ops, proxy, webhooks
from web.admin import api as admin_api
from web.auth.api_key import ApiKeyAuthMiddleware
from web.auth.app_proxy import AppProxyAuthMiddleware
from web.auth.id_token import IdTokenAuthMiddleware
from web.errors import EXCEPTION_HANDLERS
from web.public_api import routes as public_api
from web.public_api.ratelimit import ApiRateLimitMiddleware
from web.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from web.state import Services

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, manage_db: bool = True, job_defer: float = 1.0) -> Starlette:
    """`manage_db=False` when the caller (a test) has initialised Tortoise itself."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if manage_db:
            await init_db(settings.database_url)
        try:
            async with running_services(settings, job_defer=job_defer) as services:
                # For tests and introspection; handlers use request.state.
                app.state.services = services
                yield {"services": services}
        finally:
            if manage_db:
                await close_db()

    return Starlette(
        routes=route_table(settings),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        # /api/v1 rate limits, outside routing: every response under the prefix carries the
        # RateLimit headers (404s of paths no route matches too), and a flood is refused
        # before it costs a key lookup.
        middleware=[Middleware(ApiRateLimitMiddleware, prefix="/api/v1")],
        lifespan=lifespan,
    )


def route_table(settings: Settings) -> list[BaseRoute]:
    """Every audience's routes, each mount with its own auth."""
    return [
        # First: the storefront widget's GET runs on every storefront page view, and Starlette
        # tries the routes in order (thirty before it, when it was last: 8% of its CPU in
        # matching, bench/storefront-proxy). No other route starts with /proxy.
        Mount(
            "/proxy",
            routes=proxy.routes,
            middleware=[Middleware(AppProxyAuthMiddleware)],
            name="proxy",
        ),
        # Second, for the same reason: the award API's hot path (matching the routes listed
        # before it was 7% of an award's web CPU, bench/award's profile). No other route starts
        # with /api/v1.
        Mount(
            "/api/v1",
            routes=public_api.routes,
            middleware=[Middleware(ApiKeyAuthMiddleware)],
            name="api",
        ),
        *ops.routes(settings),
        *admin.routes,  # App Home, the pages and their static files
        *webhooks.routes,
        *flow.routes,  # Shopify Flow actions, each verified by its body HMAC
        Mount(
            "/app/api",
            routes=admin_api.routes,
            middleware=[Middleware(IdTokenAuthMiddleware)],
            name="admin_api",
        ),
        *demo.routes(settings),  # only in `loyalty serve --demo`, behind web.demo.guard
    ]


@contextlib.asynccontextmanager
async def running_services(settings: Settings, *, job_defer: float) -> AsyncIterator[Services]:
    """The process's shared clients and the outbox dispatcher: built, started, and on exit
    drained and closed in order (periodic work, dispatcher, background tasks, queue, clients)."""
    shopify = shopify_app(settings)
    if shopify is None:
        log.info("SHOPIFY_API_KEY/SHOPIFY_API_SECRET not set: admin, proxy, webhooks disabled")
    http = new_http_client(settings)
    redis: ArqRedis | None = None
    periodic: PeriodicRunner | None = None  # the embedded default's lifecycle schedulers
    deps: JobDeps | None = None  # the embedded default's jobs run here, with these
    queue: JobQueue
    limiter: RateLimiter
    if settings.redis_url:
        # Connects lazily: with Redis down the app still starts and awards still commit;
        # the dispatcher logs and the sweep delivers once Redis is back.
        redis = ArqRedis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
        queue = ArqJobQueue(redis)
        limiter = RedisRateLimiter(redis)  # shared by every web process
    else:
        limiter = MemoryRateLimiter()
        deps = build_job_deps(settings, http)
        queue = in_process_queue(deps)
        periodic = in_process_periodic(deps, queue)
    dispatcher = OutboxDispatcher(
        queue,
        delay=settings.outbox_dispatch_delay,
        job_defer=job_defer,
        sweep_interval=settings.outbox_sweep_interval,
        job_defers=job_defers(settings),
    )
    services = Services(
        settings=settings,
        dispatcher=dispatcher,
        queue=queue,
        http=http,
        shopify=shopify,
        limiter=limiter,
    )
    dispatcher.start()
    if periodic is not None:
        periodic.start()
    try:
        yield services
    finally:
        if periodic is not None:
            await periodic.stop(grace=settings.shutdown_grace)
        await dispatcher.stop()
        await dispatcher.flush()
        if services.background:
            await asyncio.gather(*services.background, return_exceptions=True)
        if deps is not None:
            deps.stopping.request()  # runs end between customers, never mid-request
        if isinstance(queue, InProcessJobQueue):
            await queue.drain(grace=settings.shutdown_grace)
        if redis is not None:
            await redis.aclose()
        await http.aclose()
