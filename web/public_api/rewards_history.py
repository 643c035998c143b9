"""`/api/v1` redemptions: purchase a reward for a customer (`POST /rewards/{id}/purchase`,
safely retried with an idempotency key) and read a customer's reward history; the
`reward_history_entry` resource they answer with.

Every rule is loyalty.rewards': redeem (the checks, their stable codes, one transaction or
nothing written, the idempotency key) and history (filter, sort, paging). This module parses the
request, calls them and renders the view.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from loyalty.clock import isoformat_z
from loyalty.earning.award import Actor
from loyalty.models import ActorType, CodeStatus, RedemptionStatus, RewardKind
from loyalty.rewards import history, redeem
from loyalty.rewards.views import RedemptionView
from web.http.body import read_json_object
from web.http.validation import parse_body
from web.public_api import requests
from web.public_api.context import identifier, notify, principal
from web.public_api.documents import (
    Document,
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
from web.public_api.spec import WRITE_ERRORS, Operation, Reply
from web.state import services

HISTORY = Listing(
    history.REWARD_HISTORY_SORTS,
    {"status": Filter("Entries with this status", choices=tuple(map(str, RedemptionStatus)))},
)


class RewardHistoryEntryAttributes(Model):
    reward_id: str
    reward_name: str
    reward_discount_type: RewardKind
    shopify_customer_id: str
    points_spent: int
    discount_amount: float = Field(
        description="Granted: money off or store credit, or the percent off (0: free shipping, "
        "a free product)"
    )
    discount_code: str | None = Field(description="null for store credit")
    status: RedemptionStatus
    code_status: CodeStatus = Field(
        description="Whether the code (or store credit) exists in Shopify yet: `pending` until "
        "the background job makes it, moments after the purchase"
    )
    is_refunded: bool = Field(description="The points came back (cancelled or refused)")
    cancel_reason: str | None
    discount_code_redeemed_at: NullableTime = Field(description="When the code was used")
    order_id: str | None = Field(description="The Shopify order the code was used on")
    redeemed_at: Time
    expires_at: NullableTime
    created_at: Time
    updated_at: Time


class RewardHistoryEntry(Model):
    type: Literal["reward_history_entry"] = "reward_history_entry"
    id: str = resource_id("cr_…")
    attributes: RewardHistoryEntryAttributes


def reward_history_entry(entry: RedemptionView) -> RewardHistoryEntry:
    order = entry.used_order_id
    return RewardHistoryEntry(
        id=entry.id,
        attributes=RewardHistoryEntryAttributes(
            reward_id=entry.reward_id,
            reward_name=entry.reward_name,
            reward_discount_type=entry.kind,
            shopify_customer_id=str(entry.shopify_customer_id),
            points_spent=entry.points_spent,
            discount_amount=float(entry.value),
            discount_code=entry.discount_code,
            status=entry.status,
            code_status=entry.shopify_status,
            is_refunded=entry.is_refunded,
            cancel_reason=entry.cancel_reason,
            discount_code_redeemed_at=isoformat_z(entry.used_at),
            order_id=str(order) if order is not None else None,
            redeemed_at=stamp(entry.redeemed_at),
            expires_at=isoformat_z(entry.expires_at),
            created_at=stamp(entry.created_at),
            updated_at=stamp(entry.updated_at),
        ),
    )


class RewardHistoryEntryDocument(Document[RewardHistoryEntry]):
    """`{"data": RewardHistoryEntry}`"""


class RewardHistoryEntryList(ListDocument[RewardHistoryEntry, PageMeta]):
    """`{"data": [RewardHistoryEntry, …], "meta": PageMeta}`"""


async def purchase_reward(request: Request) -> Response:
    body = parse_body(requests.PurchaseRequest, await read_json_object(request))
    key = principal(request)
    done = await redeem.redeem(
        shop_id=key.shop.id,
        identifier=body.customer_identifier,
        reward_id=request.path_params["reward_id"],
        points=body.points,
        idempotency_key=requests.idempotency_key(
            request.headers.get("idempotency-key"), body.idempotency_key
        ),
        actor=Actor(ActorType.API_KEY, key.key_public_id),
        batcher=services(request).redeem_batcher,
        api_key_id=key.key_id,  # re-verified in the read that locks the customer
    )
    notify(request, done.jobs)
    document = RewardHistoryEntryDocument(data=reward_history_entry(done.redemption))
    if done.replayed:
        response = respond(document, status=200)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    return respond(document, status=201)


async def list_reward_history(request: Request) -> Response:
    query = HISTORY.parse(request.query_params)
    status = query.filters["status"]
    found = await history.list_redemptions(
        shop_id=principal(request).shop.id,
        identifier=identifier(request),
        status=RedemptionStatus(status) if isinstance(status, str) else None,
        sort=query.sort,
        window=query.page.window,
    )
    return respond(
        RewardHistoryEntryList(
            data=[reward_history_entry(entry) for entry in found.items],
            meta=PageMeta(**query.page.meta(found.total)),
        )
    )


_DOCUMENT = RewardHistoryEntryDocument
PURCHASE = Operation(
    method="POST",
    path="/rewards/{reward_id}/purchase",
    name="api.rewards.purchase",
    endpoint=purchase_reward,
    operation_id="purchaseReward",
    tag="Rewards",
    summary="Redeem a reward for a customer",
    replies=(
        Reply(201, "Redeemed: the points are spent and the code is the customer's", _DOCUMENT),
        Reply(200, "A replay of an earlier purchase", _DOCUMENT, replayed=True),
    ),
    errors=(*WRITE_ERRORS, 404, 409, 422, 503),
    description=(
        "Spends the customer's points, oldest first, and answers with the discount code as "
        "soon as that is committed; the code is created in Shopify moments later "
        "(`code_status`). A variable reward takes `points` (between its `min_points` and "
        "`max_points`, 422 `invalid_points` otherwise). Refusals write nothing: 403 "
        "`customer_excluded` or `tier_not_allowed`, 404 `customer_not_found` or "
        "`reward_not_found` (also an inactive reward), 409 `redemption_limit_reached` "
        "(`max_redemptions`), 422 `insufficient_points` (with `meta.points_required` and "
        "`meta.points_balance`), 503 `shopify_unavailable` when the shop's Shopify "
        "connection needs the merchant to open the app again. Send an `Idempotency-Key` "
        "to retry safely: a repeat returns the same redemption with status 200 and "
        "`Idempotent-Replayed: true`, and never spends twice; the same key with another "
        "customer, reward or points is a 409 `idempotency_key_reused`."
    ),
    request=(requests.PurchaseRequest,),
    params=(requests.IDEMPOTENCY_KEY_HEADER,),
)
HISTORY_OPERATION = Operation(
    method="GET",
    path="/customers/{identifier}/reward-history",
    name="api.customers.reward_history",
    endpoint=list_reward_history,
    operation_id="listRewardHistory",
    tag="Rewards",
    summary="A customer's redeemed rewards and their codes",
    replies=(Reply(200, "A page of entries", RewardHistoryEntryList),),
    errors=(400, 401, 404),
    params=HISTORY.parameters(),
)
OPERATIONS = (PURCHASE, HISTORY_OPERATION)
