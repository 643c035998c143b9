"""`/app/api/dashboard` and `/app/api/setup`: the programme's numbers for the home page and
the setup checklist (rules configured, theme embed confirmed, integrations connected).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.models import Shop
from loyalty.reports import dashboard
from web.admin.api import bodies
from web.admin.api.context import body_of, shop, staff_user_id
from web.http.jsonapi import document_response, resource


async def get_dashboard(request: Request) -> Response:
    current = shop(request)
    stats = await dashboard.programme_stats(shop=current)
    return document_response(
        resource(
            "dashboard",
            current.domain,
            {
                "members": stats.members,
                "excluded": stats.excluded,
                "points_issued": stats.points_issued,
                "points_pending": stats.points_pending,
                "points_redeemed": stats.points_redeemed,
                "points_expired": stats.points_expired,
                "redemptions": stats.redemptions,
                "points_redeemed_in_window": stats.points_redeemed_in_window,
                "window_days": dashboard.WINDOW_DAYS,
                "timezone": stats.timezone,
                "daily_points_issued": [
                    {"date": day.day.isoformat(), "points": day.points}
                    for day in stats.daily_issued
                ],
            },
        )
    )


async def get_setup(request: Request) -> Response:
    checklist = await dashboard.setup_checklist(shop=shop(request))
    return document_response(_setup(shop(request), checklist))


async def confirm_theme_embed(request: Request) -> Response:
    body = await body_of(request, bodies.ThemeEmbed)
    checklist = await dashboard.confirm_theme_embed(
        shop=shop(request), confirmed=body.confirmed, staff_user_id=staff_user_id(request)
    )
    return document_response(_setup(shop(request), checklist))


def _setup(current: Shop, checklist: dashboard.SetupChecklist) -> dict[str, Any]:
    return resource(
        "setup_checklist",
        current.domain,
        {
            "rules_configured": checklist.active_rules > 0,
            "active_rules": checklist.active_rules,
            "theme_embed_confirmed": checklist.theme_embed_confirmed,
            "integrations_connected": checklist.integrations_connected,
            "steps_done": checklist.steps_done,
            "complete": checklist.complete,
        },
    )


routes = [
    Route("/dashboard", get_dashboard, methods=["GET"], name="admin_api.dashboard"),
    Route("/setup", get_setup, methods=["GET"], name="admin_api.setup"),
    Route(
        "/setup/theme-embed",
        confirm_theme_embed,
        methods=["PUT"],
        name="admin_api.setup.theme_embed",
    ),
]
