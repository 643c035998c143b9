"""`/app/api/customers/{id}/redemptions` and `/app/api/redemptions/{id}/cancel`: a customer's
redemptions as the customer page lists them, and the merchant cancelling an active, unused one
(loyalty.rewards.cancel: the discount deactivated or the store credit debited by a job, the
points returned). Customers by Shopify id only, never an email; another shop's ids are 404.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.clock import isoformat_z
from loyalty.customers.identifiers import parse_shopify_id
from loyalty.earning.award import Actor
from loyalty.models import ActorType, RedemptionStatus
from loyalty.rewards.cancel import cancel_redemption
from loyalty.rewards.history import list_redemptions
from loyalty.rewards.views import RedemptionView
from web.admin.api import bodies
from web.admin.api.context import body_of, notify, shop, staff_user_id
from web.errors import RequestError
from web.http.jsonapi import document_response, resource
from web.http.paging import page_of


def redemption_resource(view: RedemptionView) -> dict[str, Any]:
    """A redemption as the admin reads it (the fields of the API's `reward_history_entry`,
    plus whether its code exists in Shopify yet and whether the points came back)."""
    return resource(
        "redemption",
        view.id,
        {
            "reward_id": view.reward_id,
            "reward_name": view.reward_name,
            "kind": str(view.kind),
            "shopify_customer_id": str(view.shopify_customer_id),
            "points_spent": view.points_spent,
            "value": f"{view.value:f}",
            "discount_code": view.discount_code,
            "status": str(view.status),
            "shopify_status": str(view.shopify_status),
            "is_refunded": view.is_refunded,
            "cancellable": is_cancellable(view),
            "redeemed_at": isoformat_z(view.redeemed_at),
            "expires_at": isoformat_z(view.expires_at),
            "used_at": isoformat_z(view.used_at),
            "used_order_id": None if view.used_order_id is None else str(view.used_order_id),
            "cancel_reason": view.cancel_reason,
            "created_at": isoformat_z(view.created_at),
            "updated_at": isoformat_z(view.updated_at),
        },
    )


def is_cancellable(view: RedemptionView) -> bool:
    """What the page offers a Cancel for (the core decides again, under its lock)."""
    return view.status is RedemptionStatus.ACTIVE and view.used_at is None


def _status_filter(raw: str | None) -> RedemptionStatus | None:
    if not raw:
        return None
    try:
        return RedemptionStatus(raw)
    except ValueError:
        raise RequestError(
            400,
            "invalid_parameter",
            "Invalid query parameter",
            f"filter[status] must be one of {', '.join(RedemptionStatus)}",
            parameter="filter[status]",
        ) from None


async def list_customer_redemptions(request: Request) -> Response:
    customer_id = request.path_params["customer_id"]
    status = _status_filter(request.query_params.get("filter[status]"))
    page = page_of(request.query_params, clamp_size=True)
    if parse_shopify_id(customer_id) is None:  # ids only: never an email here
        raise RequestError(
            404,
            "customer_not_found",
            "Customer not found",
            f"No customer {customer_id!r} exists for this shop",
        )
    found = await list_redemptions(
        shop_id=shop(request).id, identifier=customer_id, status=status, window=page.window
    )
    return document_response(
        [redemption_resource(view) for view in found.items], meta=page.meta(found.total)
    )


async def cancel(request: Request) -> Response:
    body = await body_of(request, bodies.CancelRedemption)
    done = await cancel_redemption(
        shop_id=shop(request).id,
        redemption_id=request.path_params["redemption_id"],
        reason=body.reason,
        actor=Actor(ActorType.STAFF, staff_user_id(request)),
    )
    notify(request, done.jobs)
    return document_response(
        redemption_resource(done.redemption), meta={"points_returned": done.points_returned}
    )


routes = [
    Route(
        "/customers/{customer_id}/redemptions",
        list_customer_redemptions,
        methods=["GET"],
        name="admin_api.customers.redemptions",
    ),
    Route(
        "/redemptions/{redemption_id}/cancel",
        cancel,
        methods=["POST"],
        name="admin_api.redemptions.cancel",
    ),
]
