"""The settings `loyalty serve --demo` runs with, for the tests of the local demo (web.demo)."""

from __future__ import annotations

from pathlib import Path

from loyalty.settings import Settings
from loyalty.shops.demo_mode import demo_admin_base_url, demo_settings


def local_demo_settings(settings: Settings, data_dir: Path) -> Settings:
    """`settings` (tests/conftest.py) as the demo runs: no real Shopify credentials, the demo
    app's own (its secret generated into `data_dir`), the local Shopify as the Admin API. The
    metafield push waits an hour: a test of the demo's other parts never reaches it."""
    return demo_settings(
        settings.with_overrides(
            shopify_api_key="",
            shopify_api_secret="",
            data_dir=data_dir,
            shopify_admin_base_url=demo_admin_base_url(9),  # nothing listens on the discard port
            metafield_sync_delay=3600,
            metafield_sync_max_wait=3600,
        )
    )


# Seeded demo customers (loyalty.shops.demo.CUSTOMERS), for tests that act as one.
ANN = 7000000001  # 120 points, Bronze (×1.00), has not claimed the Instagram rule
SAM = 7000000002  # 800 points, Silver
