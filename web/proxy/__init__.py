"""The storefront's audience: the theme widget's JSON API, reached as `/apps/loyalty/…` through
Shopify's app proxy and mounted at `/proxy` behind the app-proxy signature check (web/app.py).

- `widget`: the routes (the customer's loyalty state, ways to earn, claiming one);
- `serializers`: the documents they answer with, shaped for the widget.
"""

from __future__ import annotations

from web.proxy.widget import routes

__all__ = ["routes"]
