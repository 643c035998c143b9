"""The embedded admin: everything a merchant reaches inside Shopify's admin.

- `documents`: App Home (`/`, `/auth/patch-id-token`) and the verification every document gets
  (ID token, install through loyalty.shopify.install, the bounce, the CSP header);
- `pages`: the `/app/…` pages, server-rendered (`templating`, `text`, `charts` help them;
  `reward_pages` holds the Rewards pages and the customer page's redemptions, `referral_pages`
  the Referrals page);
- `api`: the `/app/api` JSON API the pages' scripts write through, one module per feature.

`routes` here are the documents, the pages and their static files; `api.routes` is mounted
separately with ID-token auth (web/app.py). Nothing in the admin is reachable without a token
Shopify signed for the shop it acts on.
"""

from __future__ import annotations

import os
from pathlib import PurePath

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from web.admin import documents, pages
from web.admin.templating import DEMO_STATIC, STATIC_DIR


class AdminStaticFiles(StaticFiles):
    """static/, less static/demo/: only the local demo serves its stand-ins (web.demo)."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        parts = PurePath(path).parts
        if parts and parts[0].lower() == DEMO_STATIC:
            return "", None
        return super().lookup_path(path)


routes: list[BaseRoute] = [
    *documents.routes,
    *pages.routes,
    # The admin pages' own scripts (App Bridge and Polaris come from Shopify's CDN).
    Mount("/static", app=AdminStaticFiles(directory=STATIC_DIR), name="static"),
]
