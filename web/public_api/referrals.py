"""`/api/v1/customers/{identifier}/referrals`: the referrals a customer made as the advocate,
read-only; the `referral` resource it answers with. Every rule is loyalty.referrals.history's
(filter, sort, paging); this module parses the request and renders the views."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from loyalty.clock import isoformat_z
from loyalty.models import BlockReason, CodeStatus, ReferralStatus
from loyalty.referrals import history
from loyalty.referrals.views import ReferralView
from web.public_api.context import identifier, principal
from web.public_api.documents import (
    ListDocument,
    Model,
    NullableTime,
    PageMeta,
    Time,
    resource_id,
    respond,
    stamp,
)
from web.public_api.params import Filter, Listing
from web.public_api.spec import Operation, Reply

LISTING = Listing(
    history.REFERRAL_SORTS,
    {"status": Filter("Referrals with this status", choices=tuple(map(str, ReferralStatus)))},
)


class ReferralAttributes(Model):
    shopify_customer_id: str = Field(description="The advocate's Shopify customer ID")
    friend_email: str
    friend_shopify_customer_id: str | None = Field(
        description="The friend's Shopify customer ID, once their first order is seen"
    )
    status: ReferralStatus = Field(
        description="`pending` (the friend gave their email) → `friend_converted` (their first "
        "paid order) → `completed` (the advocate was paid); or `blocked` (a fraud rule, see "
        "`block_reason`), `expired` (no first order in time), `reversed` (the converting order "
        "was cancelled or fully refunded)"
    )
    block_reason: BlockReason | None
    friend_reward_id: str | None = Field(description="The reward the friend was given")
    friend_discount_code: str | None
    friend_code_status: CodeStatus | None = Field(
        description="Whether the friend's code exists in Shopify yet"
    )
    order_id: str | None = Field(description="The friend's first paid order")
    order_number: str | None
    earning_history_entry_id: str | None = Field(description="The advocate's points, if any")
    reward_history_entry_id: str | None = Field(description="The advocate's reward, if any")
    approved_at: NullableTime = Field(description="When a merchant approved it (was blocked)")
    expires_at: NullableTime = Field(description="When it expires while pending")
    converted_at: NullableTime
    completed_at: NullableTime
    reversed_at: NullableTime
    created_at: Time
    updated_at: Time


class Referral(Model):
    type: Literal["referral"] = "referral"
    id: str = resource_id("ref_…")
    attributes: ReferralAttributes


def referral(view: ReferralView) -> Referral:
    friend = view.friend_shopify_customer_id
    return Referral(
        id=view.id,
        attributes=ReferralAttributes(
            shopify_customer_id=str(view.advocate_shopify_customer_id),
            friend_email=view.friend_email,
            friend_shopify_customer_id=str(friend) if friend is not None else None,
            status=ReferralStatus(view.status),
            block_reason=BlockReason(view.block_reason) if view.block_reason else None,
            friend_reward_id=view.friend_reward_id,
            friend_discount_code=view.friend_code,
            friend_code_status=CodeStatus(view.friend_code_status)
            if view.friend_code_status
            else None,
            order_id=str(view.order_id) if view.order_id is not None else None,
            order_number=view.order_number,
            earning_history_entry_id=view.advocate_entry_id,
            reward_history_entry_id=view.advocate_redemption_id,
            approved_at=isoformat_z(view.approved_at),
            expires_at=isoformat_z(view.expires_at),
            converted_at=isoformat_z(view.converted_at),
            completed_at=isoformat_z(view.completed_at),
            reversed_at=isoformat_z(view.reversed_at),
            created_at=stamp(view.created_at),
            updated_at=stamp(view.updated_at),
        ),
    )


class ReferralList(ListDocument[Referral, PageMeta]):
    """`{"data": [Referral, …], "meta": PageMeta}`"""


async def list_referrals(request: Request) -> Response:
    query = LISTING.parse(request.query_params)
    status = query.filters["status"]
    found = await history.list_referrals(
        shop_id=principal(request).shop.id,
        identifier=identifier(request),
        status=ReferralStatus(status) if isinstance(status, str) else None,
        sort=query.sort,
        window=query.page.window,
    )
    return respond(
        ReferralList(
            data=[referral(view) for view in found.items],
            meta=PageMeta(**query.page.meta(found.total)),
        )
    )


OPERATIONS = (
    Operation(
        method="GET",
        path="/customers/{identifier}/referrals",
        name="api.customers.referrals",
        endpoint=list_referrals,
        operation_id="listReferrals",
        tag="Referrals",
        summary="The referrals a customer made",
        description=(
            "Read-only: each friend who arrived through the customer's referral link and gave "
            "their email, newest first. The advocate is paid when the friend's first paid "
            "order arrives; a fraud rule blocks a referral with its `block_reason`."
        ),
        replies=(Reply(200, "A page of referrals", ReferralList),),
        errors=(400, 401, 404),
        params=LISTING.parameters(),
    ),
)
