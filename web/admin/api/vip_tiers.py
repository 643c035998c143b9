"""`/app/api/vip-tiers`: the shop's VIP tiers, and the preview of how many customers a tier
(new or edited) would hold. A change that moves customers names the jobs it owes (`notify`).

A create, or an edit of a threshold, answers at once: the customers are re-placed by a job
(loyalty.tiers.placement), and the answer's `meta.placing_customers` says it is running (the
list's says so until it is done). A delete moves the tier's members before it answers
(`meta`-less 204).
"""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.customers.identifiers import ascii_number
from loyalty.tiers import configuration as tiers
from loyalty.tiers import placement
from loyalty.tiers import preview as tier_preview
from loyalty.tiers.configuration import TierChanges
from web.admin.api import bodies
from web.admin.api import serializers as render
from web.admin.api.context import body_of, notify, shop, staff_user_id
from web.errors import RequestError
from web.http.jsonapi import document_response, resource
from web.http.validation import explicit_fields


async def list_vip_tiers(request: Request) -> Response:
    current = shop(request)
    return document_response(
        [render.vip_tier(t) for t in await tiers.list_tiers(shop=current)],
        meta={"placing_customers": await placement.placement_pending(shop_id=current.id)},
    )


async def create_vip_tier(request: Request) -> Response:
    body = await body_of(request, bodies.CreateVipTier)
    change = await tiers.create_tier(
        shop=shop(request), staff_user_id=staff_user_id(request), **body.model_dump()
    )
    notify(request, change.jobs)
    assert change.tier is not None
    return document_response(
        render.vip_tier(change.tier), status=201, meta={"placing_customers": change.placing}
    )


async def update_vip_tier(request: Request) -> Response:
    body = await body_of(request, bodies.UpdateVipTier)
    change = await tiers.update_tier(
        shop=shop(request),
        tier_id=request.path_params["tier_id"],
        changes=cast(TierChanges, explicit_fields(body)),
        staff_user_id=staff_user_id(request),
    )
    notify(request, change.jobs)
    assert change.tier is not None
    return document_response(
        render.vip_tier(change.tier), meta={"placing_customers": change.placing}
    )


async def delete_vip_tier(request: Request) -> Response:
    change = await tiers.delete_tier(
        shop=shop(request),
        tier_id=request.path_params["tier_id"],
        staff_user_id=staff_user_id(request),
    )
    notify(request, change.jobs)
    return Response(status_code=204)


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
            "estimated": preview.estimated,
        },
    )


routes = [
    Route("/vip-tiers", list_vip_tiers, methods=["GET"], name="admin_api.vip_tiers.list"),
    Route("/vip-tiers", create_vip_tier, methods=["POST"], name="admin_api.vip_tiers.create"),
    Route(
        "/vip-tiers/{tier_id}",
        update_vip_tier,
        methods=["PATCH"],
        name="admin_api.vip_tiers.update",
    ),
    Route(
        "/vip-tiers/{tier_id}",
        delete_vip_tier,
        methods=["DELETE"],
        name="admin_api.vip_tiers.delete",
    ),
    Route(
        "/vip-tiers/preview",
        preview_vip_tiers,
        methods=["GET"],
        name="admin_api.vip_tiers.preview",
    ),
]
