"""The local demo as `loyalty serve --demo` builds it: settings from demo_settings(), the app
factory, and an ASGI client whose client address and Host header a test chooses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from loyalty.crypto import SecretBox
from loyalty.settings import Settings
from loyalty.shops.demo import DemoShop, seed_demo
from loyalty.shops.demo_mode import demo_admin_base_url, demo_settings
from web.app import create_app

LOOPBACK = ("127.0.0.1", 50000)
DemoClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def base_settings(db: str, data_dir: Path, *, port: int = 8000, **overrides: object) -> Settings:
    """What `loyalty serve --demo --port PORT` reads, before demo_settings() applies the demo."""
    fields: dict[str, object] = {
        "database_url": db,
        "data_dir": data_dir,
        "redis_url": None,
        "secret_key": "test-secret-key-0123456789abcdef",
        "shopify_admin_base_url": demo_admin_base_url(port),
        "outbox_dispatch_delay": 0,
        "outbox_sweep_interval": 3600,
        "metafield_sync_delay": 0,
        "metafield_sync_max_wait": 0,
        "shutdown_grace": 2.0,
        **overrides,
    }
    return Settings(**fields)  # type: ignore[arg-type]


@pytest.fixture
def demo(db: str, tmp_path: Path) -> Settings:
    return demo_settings(base_settings(db, tmp_path))


@pytest.fixture
async def seeded(demo: Settings) -> DemoShop:
    return await seed_demo(box=SecretBox(demo.secret_key))


@asynccontextmanager
async def running(
    settings: Settings, *, client: tuple[str, int] = LOOPBACK, host: str = "127.0.0.1:8000"
) -> AsyncIterator[httpx.AsyncClient]:
    """The app built from `settings`, reached from `client` with `Host: host`."""
    app = create_app(settings, manage_db=False, job_defer=0)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as http:
            yield http
