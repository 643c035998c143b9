"""The ASGI entry point for uvicorn: `uvicorn web.asgi:create --factory`."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette

from loyalty.log_config import configure_logging
from loyalty.settings import Settings
from loyalty.shops.demo_mode import demo_settings
from web.app import create_app


def create() -> Starlette:
    settings = Settings.from_env()
    if settings.demo:  # refuses real Shopify credentials (loyalty.shops.demo_mode)
        settings = demo_settings(settings)
    # Each process uvicorn starts (`--workers N`) gets the app's logging, not bare lines.
    configure_logging(settings.log_level)
    app = create_app(settings)
    startup = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[Any]:
        async with startup(app) as state:
            # What exists once the app has started lives as long as the process. Freezing it
            # keeps it out of the cyclic GC's full collections, which otherwise walk it all and
            # stall every in-flight request for 25-50 ms (the p99 of bench/webhooks).
            gc.collect()
            gc.freeze()
            yield state

    app.router.lifespan_context = lifespan
    return app
