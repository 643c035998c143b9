"""The app factory: `create_app(settings)` mounts each audience's routes with its auth, and the
lifespan owns the process's shared clients (database, HTTP, Redis) and the outbox dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from loyalty.db import close_db, init_db
from loyalty.jobs.follow_ups import job_defers
from loyalty.jobs.in_process import in_process_periodic, in_process_queue
from loyalty.jobs.periodic import PeriodicRunner
from loyalty.jobs.sweep import OutboxDispatcher
from loyalty.outbox.queue import ArqJobQueue, InProcessJobQueue, JobQueue
from loyalty.settings import Settings
from loyalty.sync.deps import build_job_deps, new_http_client, shopify_app
from web.api_ratelimit import ApiRateLimitMiddleware
from web.auth.api_key import ApiKeyAuthMiddleware
from web.auth.app_proxy import AppProxyAuthMiddleware
from web.auth.id_token import IdTokenAuthMiddleware
from web.errors import EXCEPTION_HANDLERS
from web.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from web.routes import (
    admin,
    admin_api,
    admin_pages,
    health,
    metrics,
    proxy,
    public_api,
    webhooks,
)
from web.state import Services
from web.templating import STATIC_DIR

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, manage_db: bool = True, job_defer: float = 1.0) -> Starlette:
    """`manage_db=False` when the caller (a test) has initialised Tortoise itself."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if manage_db:
            await init_db(settings.database_url)
        shopify = shopify_app(settings)
        if shopify is None:
            log.info("SHOPIFY_API_KEY/SHOPIFY_API_SECRET not set: admin, proxy, webhooks disabled")
        http = new_http_client(settings)
        redis: ArqRedis | None = None
        periodic: PeriodicRunner | None = None  # the embedded default's lifecycle schedulers
        queue: JobQueue
        limiter: RateLimiter
        if settings.redis_url:
            # Connects lazily: with Redis down the app still starts and awards still commit;
            # the dispatcher logs and the sweep delivers once Redis is back.
            redis = ArqRedis.from_url(
                settings.redis_url, socket_connect_timeout=1, socket_timeout=2
            )
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
        app.state.services = services  # for tests and introspection; handlers use request.state
        dispatcher.start()
        if periodic is not None:
            periodic.start()
        try:
            yield {"services": services}
        finally:
            if periodic is not None:
                await periodic.stop(grace=settings.shutdown_grace)
            await dispatcher.stop()
            await dispatcher.flush()
            if services.background:
                await asyncio.gather(*services.background, return_exceptions=True)
            if isinstance(queue, InProcessJobQueue):
                await queue.drain(grace=settings.shutdown_grace)
            if redis is not None:
                await redis.aclose()
            await http.aclose()
            if manage_db:
                await close_db()

    return Starlette(
        routes=[
            *health.routes,
            *metrics.routes(settings),
            *admin.routes,
            *admin_pages.routes,
            # The admin pages' own scripts (App Bridge and Polaris come from Shopify's CDN).
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
            *webhooks.routes,
            Mount(
                "/api/v1",
                routes=public_api.routes,
                middleware=[Middleware(ApiKeyAuthMiddleware)],
                name="api",
            ),
            Mount(
                "/app/api",
                routes=admin_api.routes,
                middleware=[Middleware(IdTokenAuthMiddleware)],
                name="admin_api",
            ),
            Mount(
                "/proxy",
                routes=proxy.routes,
                middleware=[Middleware(AppProxyAuthMiddleware)],
                name="proxy",
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        # /api/v1 rate limits, outside routing: every response under the prefix carries the
        # RateLimit headers (404s of paths no route matches too), and a flood is refused
        # before it costs a key lookup.
        middleware=[Middleware(ApiRateLimitMiddleware, prefix="/api/v1")],
        lifespan=lifespan,
    )
