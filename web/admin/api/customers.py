"""`/app/api/customers`: the customer directory (search, paging, detail), excluding and
including a customer, and manual points adjustments by staff (ids only: never an email).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.clock import isoformat_z
from loyalty.customers import directory, exclusion
from loyalty.customers.identifiers import parse_shopify_id
from loyalty.earning import adjustments
from loyalty.models import ActorType
from loyalty.shops.api_keys import ShopContext
from web.admin.api import bodies
from web.admin.api import serializers as render
from web.admin.api.context import body_of, notify, shop, staff_user_id
from web.errors import RequestError
from web.http.jsonapi import document_response, resource
from web.http.paging import page_of


async def list_customers(request: Request) -> Response:
    page = page_of(request.query_params, clamp_size=True)
    search = request.query_params.get("search")
    if search is not None and len(search) > directory.MAX_SEARCH_LENGTH:
        raise RequestError(
            400,
            "invalid_parameter",
            "Invalid query parameter",
            f"search must be at most {directory.MAX_SEARCH_LENGTH} characters",
        )
    found = await directory.list_customers(
        shop=shop(request), search=search, offset=page.offset, limit=page.size
    )
    # `total_is_lower_bound`: a search counts its matches up to a limit (directory.list_customers)
    meta = {**page.meta(found.total), "total_is_lower_bound": found.more}
    return document_response([render.customer(c) for c in found.customers], meta=meta)


async def get_customer(request: Request) -> Response:
    detail = await directory.get_customer(
        shop=shop(request), shopify_customer_id=request.path_params["customer_id"]
    )
    return document_response(render.customer_detail(detail))


async def exclude_customer(request: Request) -> Response:
    return await _set_excluded(request, excluded=True)


async def include_customer(request: Request) -> Response:
    return await _set_excluded(request, excluded=False)


async def _set_excluded(request: Request, *, excluded: bool) -> Response:
    change = await exclusion.set_excluded(
        shop=shop(request),
        shopify_customer_id=request.path_params["customer_id"],
        excluded=excluded,
        staff_user_id=staff_user_id(request),
    )
    notify(request, change.jobs)
    return document_response(render.customer(change.customer), meta={"changed": change.changed})


async def adjust_customer_points(request: Request) -> Response:
    body = await body_of(request, bodies.AdjustPoints)
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


routes = [
    Route("/customers", list_customers, methods=["GET"], name="admin_api.customers.list"),
    Route(
        "/customers/{customer_id}", get_customer, methods=["GET"], name="admin_api.customers.get"
    ),
    Route(
        "/customers/{customer_id}/exclude",
        exclude_customer,
        methods=["POST"],
        name="admin_api.customers.exclude",
    ),
    Route(
        "/customers/{customer_id}/include",
        include_customer,
        methods=["POST"],
        name="admin_api.customers.include",
    ),
    Route(
        "/customers/{customer_id}/points",
        adjust_customer_points,
        methods=["POST"],
        name="admin_api.customers.points",
    ),
]
