"""`/app/api/referrals…`: the referral programme's settings (read, partly updated), the shop's
referrals as the admin Referrals page lists them (newest first, by status), and approving a
blocked one. Every rule is loyalty.referrals' (programme, history, approve); another shop's ids
answer 404.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from pydantic import Field
from pydantic import StrictBool as Bool
from pydantic import StrictInt as Int
from pydantic import StrictStr as Str
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.clock import isoformat_z, utcnow
from loyalty.models import ReferralStatus
from loyalty.referrals import approve, history, programme
from loyalty.referrals.programme import ProgrammeChanges, ProgrammeView
from loyalty.referrals.views import ReferralView
from web.admin.api.bodies import Body
from web.admin.api.context import body_of, notify, shop, staff_user_id
from web.errors import RequestError
from web.http.jsonapi import document_response, resource
from web.http.paging import page_of
from web.http.validation import explicit_fields

RewardId = Annotated[Str, Field(min_length=1, max_length=64)]


class UpdateReferralProgramme(Body):
    enabled: Bool | None = None
    friend_reward_id: RewardId | None = None
    advocate_reward_id: RewardId | None = None
    disabled_checks: list[Str] | None = None
    max_per_ip: Int | None = None
    max_per_device: Int | None = None
    window_hours: Int | None = None
    pending_days: Int | None = None


NULLABLE = frozenset({"friend_reward_id", "advocate_reward_id"})


def programme_resource(view: ProgrammeView) -> dict[str, Any]:
    return resource(
        "referral_programme",
        "referral_programme",
        {
            "enabled": view.enabled,
            "friend_reward_id": view.friend_reward_id,
            "friend_reward_name": view.friend_reward_name,
            "advocate_reward_id": view.advocate_reward_id,
            "advocate_reward_name": view.advocate_reward_name,
            "checks": view.checks,
            "max_per_ip": view.max_per_ip,
            "max_per_device": view.max_per_device,
            "window_hours": view.window_hours,
            "pending_days": view.pending_days,
        },
    )


def referral_resource(view: ReferralView) -> dict[str, Any]:
    """A referral as the admin reads it (the API's `referral` fields, plus the advocate's
    email and whether the page offers Approve)."""
    order = view.order_id
    friend = view.friend_shopify_customer_id
    return resource(
        "referral",
        view.id,
        {
            "status": view.status,
            "block_reason": view.block_reason,
            "approvable": view.status == ReferralStatus.BLOCKED,
            "advocate_shopify_customer_id": str(view.advocate_shopify_customer_id),
            "advocate_email": view.advocate_email,
            "friend_email": view.friend_email,
            "friend_shopify_customer_id": None if friend is None else str(friend),
            "friend_reward_id": view.friend_reward_id,
            "friend_discount_code": view.friend_code,
            "friend_code_status": view.friend_code_status,
            "order_id": None if order is None else str(order),
            "order_number": view.order_number,
            "earning_history_entry_id": view.advocate_entry_id,
            "reward_history_entry_id": view.advocate_redemption_id,
            "approved_by": view.approved_by,
            "approved_at": isoformat_z(view.approved_at),
            "expires_at": isoformat_z(view.expires_at),
            "converted_at": isoformat_z(view.converted_at),
            "completed_at": isoformat_z(view.completed_at),
            "reversed_at": isoformat_z(view.reversed_at),
            "created_at": isoformat_z(view.created_at),
            "updated_at": isoformat_z(view.updated_at),
        },
    )


async def get_programme(request: Request) -> Response:
    return document_response(
        programme_resource(await programme.get_programme(shop_id=shop(request).id))
    )


async def update_programme(request: Request) -> Response:
    body = await body_of(request, UpdateReferralProgramme)
    changes = cast(ProgrammeChanges, explicit_fields(body, nullable=NULLABLE))
    # The shop metafield's rewrite is an intent the sweep dispatches (programme edits are rare).
    updated = await programme.update_programme(shop_id=shop(request).id, changes=changes)
    return document_response(programme_resource(updated))


def _status_filter(raw: str | None) -> ReferralStatus | None:
    if not raw:
        return None
    try:
        return ReferralStatus(raw)
    except ValueError:
        raise RequestError(
            400,
            "invalid_parameter",
            "Invalid query parameter",
            f"filter[status] must be one of {', '.join(ReferralStatus)}",
            parameter="filter[status]",
        ) from None


async def list_referrals(request: Request) -> Response:
    status = _status_filter(request.query_params.get("filter[status]"))
    page = page_of(request.query_params, clamp_size=True)
    found = await history.list_referrals(
        shop_id=shop(request).id, status=status, window=page.window
    )
    return document_response(
        [referral_resource(view) for view in found.items], meta=page.meta(found.total)
    )


async def approve_referral(request: Request) -> Response:
    done = await approve.approve_referral(
        shop_id=shop(request).id,
        referral_id=request.path_params["referral_id"],
        staff=staff_user_id(request),
        now=utcnow(),
    )
    notify(request, done.jobs)
    return document_response(referral_resource(done.referral))


routes = [
    Route(
        "/referrals/programme",
        get_programme,
        methods=["GET"],
        name="admin_api.referrals.programme",
    ),
    Route(
        "/referrals/programme",
        update_programme,
        methods=["PATCH"],
        name="admin_api.referrals.programme.update",
    ),
    Route("/referrals", list_referrals, methods=["GET"], name="admin_api.referrals.list"),
    Route(
        "/referrals/{referral_id}/approve",
        approve_referral,
        methods=["POST"],
        name="admin_api.referrals.approve",
    ),
]
