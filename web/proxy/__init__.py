"""The storefront's audience: the theme widget's JSON API, reached as `/apps/loyalty/…` through
Shopify's app proxy and mounted at `/proxy` behind the app-proxy signature check (web/app.py).

- `widget`: the routes (the customer's loyalty state, ways to earn, claiming one);
- `serializers`: the documents they answer with, shaped for the widget;
- `rewards`: the rewards routes (what the shopper can redeem, redeeming, "my rewards"), and
  `rewards_documents` their documents;
- `referrals`: the member's referral link and the programme's offer (JSON), and the friend's
  landing page (HTML, `/apps/loyalty/r/CODE`).
"""

from __future__ import annotations

from web.proxy import referrals, rewards, widget

routes = [*widget.routes, *rewards.routes, *referrals.routes]

__all__ = ["routes"]
