"""`/app/api/backfill` and `/app/api/resync`: the long work on the shop's customers, with its
progress. The customer import (backfill) runs on install; a bulk re-sync is the merchant's
request to sync every customer again to Shopify's metafields and the enabled marketing
platforms (202: the intents are written, the jobs deliver them, the page polls the status).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.clock import isoformat_z
from loyalty.customers import resync
from loyalty.models import Shop
from loyalty.reports import dashboard
from web.admin.api.context import notify, shop, staff_user_id
from web.http.jsonapi import document_response, resource


async def get_backfill(request: Request) -> Response:
    status = dashboard.backfill_status(shop(request))
    return document_response(
        resource(
            "customer_import",
            shop(request).domain,
            {
                "state": status.state,
                "in_progress": status.in_progress,
                "customers_imported": status.customers_imported,
                "requested_at": isoformat_z(status.requested_at),
                "completed_at": isoformat_z(status.completed_at),
            },
        )
    )


async def get_resync(request: Request) -> Response:
    return document_response(_resync(shop(request), await resync.resync_status(shop=shop(request))))


async def start_resync(request: Request) -> Response:
    started = await resync.request_resync(shop=shop(request), staff_user_id=staff_user_id(request))
    notify(request, started.jobs)
    return document_response(_resync(shop(request), started.status), status=202)


def _resync(current: Shop, status: resync.ResyncStatus) -> dict[str, Any]:
    state = "none" if status.requested_at is None else "running" if status.in_progress else "done"
    return resource(
        "customer_resync",
        current.domain,
        {
            "state": state,
            "requested_at": isoformat_z(status.requested_at),
            "customers": status.customers,
            "total": status.total,
            "done": status.done,
            "remaining": status.remaining,
            "retrying": status.retrying,
            "last_error": status.last_error,
        },
    )


routes = [
    Route("/backfill", get_backfill, methods=["GET"], name="admin_api.backfill"),
    Route("/resync", get_resync, methods=["GET"], name="admin_api.resync"),
    Route("/resync", start_resync, methods=["POST"], name="admin_api.resync.start"),
]
