"""Settings for tests of the local demo (web.demo): what `loyalty serve --demo` runs with (the
demo app's own credentials, `demo_settings`), or a variation of its inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loyalty.settings import Settings
from loyalty.shops.demo_mode import demo_settings

# What the admin preview's frame page says above the app (templates/demo/admin.html).
BANNER = (
    "Local preview — not connected to Shopify. "
    "Inside Shopify admin, the real Polaris components draw these pages."
)


def base_settings(db: str, data_dir: Path, **changes: Any) -> Settings:
    """The inputs `loyalty serve --demo` starts from, with no Shopify credentials."""
    return Settings(
        database_url=db,
        redis_url=None,
        secret_key="test-secret-key-0123456789abcdef",  # as tests/conftest.py: BOX opens tokens
        shopify_admin_base_url="http://127.0.0.1:8000/demo/shopify",
        data_dir=data_dir,
        outbox_dispatch_delay=0,
        outbox_sweep_interval=3600,
        **changes,
    )


def demo_app_settings(db: str, data_dir: Path) -> Settings:
    return demo_settings(base_settings(db, data_dir))
