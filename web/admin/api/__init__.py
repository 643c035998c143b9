"""`/app/api`: the embedded admin's JSON API, one module per feature (ID-token auth is on the
mount, web/app.py). This package assembles their routes into the one table the mount serves.

Conventions every module here keeps: each handler acts for `request.state.shop`, the shop the
verified token names, and ids of another shop answer 404; bodies are validated into
`web.admin.api.bodies` models (422 with a pointer) and rendered by `web.admin.api.serializers`
or the module's own small renderer; committed intents go to the dispatcher after the service's
transaction (`context.notify`).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from web.admin.api import (
    api_keys,
    customer_redemptions,
    customer_sync,
    customers,
    dashboard,
    data_requests,
    earning_rules,
    integrations,
    programme_settings,
    referrals,
    rewards,
    vip_tiers,
)
from web.http.params import screen_routes

routes: list[BaseRoute] = [
    *earning_rules.routes,
    *vip_tiers.routes,  # the tiers and the preview of a tier change
    *customers.routes,  # the directory, exclusion and manual points adjustments
    *rewards.routes,  # the rewards catalogue
    *customer_redemptions.routes,  # a customer's redemptions, and cancelling one
    *api_keys.routes,
    *programme_settings.routes,
    *dashboard.routes,  # the home page's numbers and the setup checklist
    *customer_sync.routes,  # the customer import and the bulk re-sync, with progress
    *data_requests.routes,  # compliance exports to download
    *integrations.routes,  # Klaviyo, Omnisend, Postscript: keys, status, test, dead letters
    *referrals.routes,  # the referral programme's settings, the referrals, approving one
]
screen_routes(routes)  # a NUL or lone surrogate in a parameter: 400, once the ID token is verified
