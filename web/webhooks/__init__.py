"""Shopify's audience: the webhook receiver (`/webhooks/…`), one route per topic group.

`receiver` verifies each delivery before anything in it is read, stores it once, and answers at
once; loyalty.webhooks and the `process_webhooks` job do the work.
"""

from __future__ import annotations

from web.webhooks.receiver import routes

__all__ = ["routes"]
