"""`/app/api`, continued: what the admin's pages need beyond configuration. The dashboard's
numbers, the setup checklist, the customer import and bulk re-sync with their progress, manual
points adjustments, the VIP-tier preview, and the compliance data requests to download.

Same mount, same ID-token auth and conventions as web/routes/admin_api.py (whose route list
these routes join): every handler acts for the token's shop, another shop's ids answer 404,
bodies are validated into the models below (422 with a pointer).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic import StrictBool as Bool
from pydantic import StrictInt as Int
from pydantic import StrictStr as Str
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.clock import isoformat_z
from loyalty.customers import compliance, resync
from loyalty.customers.identifiers import ascii_number, parse_shopify_id
from loyalty.earning import adjustments
from loyalty.models import ActorType, DataRequest, Shop
from loyalty.reports import dashboard
from loyalty.shops.api_keys import ShopContext
from loyalty.tiers import configuration as tiers
from loyalty.tiers import preview as tier_preview
from web.admin_bodies import Body
from web.errors import RequestError
from web.jsonapi import document_response, resource
from web.routes.admin_context import body_of, notify, shop, staff_user_id

MAX_NOTE_LENGTH = 500


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("must not be 0: add points with a positive number, remove with a negative")
    return value


def _blank_is_none(value: str | None) -> str | None:
    return (value or "").strip() or None


class AdjustPoints(Body):
    adjustment: Annotated[
        Int,
        Field(ge=-adjustments.MAX_ADJUSTMENT, le=adjustments.MAX_ADJUSTMENT),
        AfterValidator(_not_zero),
    ]
    note: Annotated[
        Str | None, Field(max_length=MAX_NOTE_LENGTH), AfterValidator(_blank_is_none)
    ] = None
    update_lifetime_points: Bool = True


class ThemeEmbed(Body):
    confirmed: Bool


# Dashboard and setup ---------------------------------------------------------------------------


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
    body = await body_of(request, ThemeEmbed)
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


# Long work: the customer import and the bulk re-sync -----------------------------------------


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


# Customers: manual adjustments -----------------------------------------------------------------


async def adjust_customer_points(request: Request) -> Response:
    body = await body_of(request, AdjustPoints)
    current = shop(request)
    customer_id = request.path_params["customer_id"]
    if parse_shopify_id(customer_id) is None:  # ids only: never an email here
        raise RequestError(
            404, "customer_not_found", "Customer not found", _no_customer(customer_id)
        )
    done = await adjustments.adjust_points(
        shop=ShopContext(
            id=current.id, domain=current.domain, points_expiry_days=current.points_expiry_days
        ),
        identifier=customer_id,
        adjustment=body.adjustment,
        note=body.note,
        update_lifetime_points=body.update_lifetime_points,
        api_key_id=staff_user_id(request) or "",  # the actor's id: here the staff user
        actor_type=ActorType.STAFF,
    )
    notify(request, done.jobs)
    return document_response(
        resource(
            "points_adjustment",
            str(done.shopify_customer_id),
            {
                "shopify_customer_id": str(done.shopify_customer_id),
                "adjustment": done.adjustment,
                "applied": done.applied,
                "points_before": done.points_before,
                "points_after": done.points_after,
                "current_points": done.points_after,
                "lifetime_points": done.lifetime_points,
                "note": done.note,
                "entry_id": done.entry_id,
                "created_at": isoformat_z(done.created_at),
            },
        )
    )


def _no_customer(customer_id: str) -> str:
    return f"No customer {customer_id!r} exists for this shop"


# VIP tiers: preview ----------------------------------------------------------------------------


async def preview_vip_tiers(request: Request) -> Response:
    query = request.query_params
    raw = query.get("points_required")
    points_required = None
    if raw not in (None, ""):
        points_required = ascii_number(raw, maximum=tiers.MAX_POINTS_REQUIRED)
        if points_required is None:
            raise RequestError(
                400,
                "invalid_parameter",
                "Invalid query parameter",
                f"points_required must be a whole number from 0 to {tiers.MAX_POINTS_REQUIRED:,}",
                parameter="points_required",
            )
    preview = await tier_preview.preview_tiers(
        shop=shop(request),
        tier_id=query.get("tier_id") or None,
        points_required=points_required,
        name=(query.get("name") or "").strip()[: tiers.MAX_NAME_LENGTH] or None,
    )
    return document_response(
        [
            resource(
                "vip_tier_preview",
                row.tier_id or "new",
                {
                    "name": row.name,
                    "points_required": row.points_required,
                    "customers": row.customers,
                    "edited": row.edited,
                },
            )
            for row in preview.tiers
        ],
        meta={
            "without_tier": preview.without_tier,
            "duplicate_threshold": preview.duplicate_threshold,
        },
    )


# Compliance data requests ----------------------------------------------------------------------


async def list_data_requests(request: Request) -> Response:
    found = await compliance.list_data_requests(shop=shop(request))
    return document_response([_data_request(row) for row in found])


async def get_data_request(request: Request) -> Response:
    row = await compliance.get_data_request(
        shop=shop(request), request_id=request.path_params["request_id"]
    )
    document = _data_request(row)
    document["attributes"]["record"] = row.record
    return document_response(document)


async def download_data_request(request: Request) -> Response:
    """The export as a file: what the merchant hands to the customer who asked."""
    row = await compliance.get_data_request(
        shop=shop(request), request_id=request.path_params["request_id"]
    )
    return Response(
        json.dumps(row.record, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="data-request-{row.id}.json"',
            "Cache-Control": "no-store",  # personal data: never kept by a cache
        },
    )


def _data_request(row: DataRequest) -> dict[str, Any]:
    return resource(
        "data_request",
        str(row.id),
        {
            "shopify_request_id": _text(row.shopify_request_id),
            "shopify_customer_id": _text(row.shopify_customer_id),
            "email": row.email,
            "found_customer": bool((row.record or {}).get("customer")),
            "requested_at": isoformat_z(row.requested_at),
            "completed_at": isoformat_z(row.completed_at),
        },
    )


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


routes = [
    Route("/dashboard", get_dashboard, methods=["GET"], name="admin_api.dashboard"),
    Route("/setup", get_setup, methods=["GET"], name="admin_api.setup"),
    Route(
        "/setup/theme-embed",
        confirm_theme_embed,
        methods=["PUT"],
        name="admin_api.setup.theme_embed",
    ),
    Route("/backfill", get_backfill, methods=["GET"], name="admin_api.backfill"),
    Route("/resync", get_resync, methods=["GET"], name="admin_api.resync"),
    Route("/resync", start_resync, methods=["POST"], name="admin_api.resync.start"),
    Route(
        "/customers/{customer_id}/points",
        adjust_customer_points,
        methods=["POST"],
        name="admin_api.customers.points",
    ),
    Route(
        "/vip-tiers/preview",
        preview_vip_tiers,
        methods=["GET"],
        name="admin_api.vip_tiers.preview",
    ),
    Route(
        "/data-requests", list_data_requests, methods=["GET"], name="admin_api.data_requests.list"
    ),
    Route(
        "/data-requests/{request_id}",
        get_data_request,
        methods=["GET"],
        name="admin_api.data_requests.get",
    ),
    Route(
        "/data-requests/{request_id}/download",
        download_data_request,
        methods=["GET"],
        name="admin_api.data_requests.download",
    ),
]
