"""`/proxy/rewards…`: the storefront widget's rewards, behind the app-proxy signature check.

- GET  /proxy/rewards: the shop's active rewards; for a signed-in shopper, each says whether
  they can redeem it now and how many points they still need (loyalty.rewards.eligibility);
- POST /proxy/rewards/{reward_id}/redeem: spends the signed-in shopper's points
  (loyalty.rewards.redeem), 201 with the code as soon as the transaction commits;
- GET  /proxy/my-rewards: the shopper's active codes ("my rewards").

Acts only for the signed `logged_in_customer_id`: a body naming a customer (or any other field
than `points` and `idempotency_key`) is refused with 400. Every refusal is the core's stable
code (insufficient_points 422, redemption_limit_reached 409, tier_not_allowed and
customer_excluded 403, reward_not_found 404, shopify_unavailable 503) and writes nothing. The
shopper's idempotency key (one per click in the widget, so a retried request redeems once) is
namespaced by shopper, so it never meets the API's keys or another shopper's.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.customers import storefront
from loyalty.earning.award import Actor
from loyalty.errors import CustomerNotFoundError
from loyalty.models import ActorType, RedemptionStatus, VipTier
from loyalty.paging import Window
from loyalty.rewards.catalogue import MAX_POINTS, list_rewards
from loyalty.rewards.eligibility import offers_for
from loyalty.rewards.history import list_redemptions
from loyalty.rewards.redeem import redeem
from web.http.body import read_json_object
from web.http.jsonapi import document_response
from web.http.params import screen_routes
from web.http.validation import parse_body
from web.proxy import rewards_documents as render
from web.proxy.widget import customer_id_of, shop_of, signed_in, throttle
from web.ratelimit import Limit
from web.state import services

# A shopper redeems a few rewards a visit; a script must not drain a balance in a loop.
CUSTOMER_REDEEM_LIMIT = Limit.per_minute(10, burst=5)
SHOP_REDEEM_LIMIT = Limit.per_minute(3000, burst=300)
MY_REWARDS_SHOWN = 50


class RedeemBody(BaseModel):
    """What the widget sends: the points for a variable reward, and its key for this click."""

    model_config = ConfigDict(extra="forbid")

    points: Annotated[StrictInt, Field(ge=1, le=MAX_POINTS)] | None = None
    idempotency_key: (
        Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_-]{8,64}$")] | None
    ) = None


async def list_shop_rewards(request: Request) -> Response:
    """GET /proxy/rewards: what there is to spend points on, cheapest first."""
    shop = shop_of(request)
    shopify_id = customer_id_of(request)
    balance: int | None = None
    if shopify_id is None:
        pairs = [(r, None) for r in await list_rewards(shop_id=shop.id, is_active=True)]
    else:
        customer = await storefront.ensure_customer(shop=shop, shopify_customer_id=shopify_id)
        balance = customer.points_balance
        offers = await offers_for(shop_id=shop.id, identifier=str(shopify_id))
        pairs = [(o.reward, o) for o in offers]
    tier_ids = {r.minimum_tier_id for r, _ in pairs if r.minimum_tier_id is not None}
    tier_names: dict[int, str] = (
        dict(await VipTier.filter(shop=shop, id__in=tier_ids).values_list("id", "name"))
        if tier_ids
        else {}
    )
    return document_response(
        [render.reward(r, offer, tier_names) for r, offer in pairs],
        meta={"signed_in": shopify_id is not None, "points_balance": balance},
    )


async def redeem_reward(request: Request) -> Response:
    """POST /proxy/rewards/{reward_id}/redeem: body `{"points"?, "idempotency_key"?}`."""
    shop = shop_of(request)
    shopify_id = signed_in(request, "Sign in to your account to redeem rewards")
    body = parse_body(RedeemBody, await read_json_object(request))
    await throttle(
        request,
        (f"proxy:redeem:{shop.id}:{shopify_id}", CUSTOMER_REDEEM_LIMIT),
        (f"proxy:redeem:{shop.id}", SHOP_REDEEM_LIMIT),
    )
    key = body.idempotency_key
    done = await redeem(
        shop_id=shop.id,
        identifier=str(shopify_id),
        reward_id=request.path_params["reward_id"],
        points=body.points,
        idempotency_key=f"storefront:{shopify_id}:{key}" if key else None,
        actor=Actor(ActorType.STOREFRONT, str(shopify_id)),
        batcher=services(request).redeem_batcher,
    )
    if done.jobs:
        services(request).dispatcher.notify(shop.id, done.jobs)
    return document_response(
        render.redemption(done.redemption),
        status=200 if done.replayed else 201,
        meta={"replayed": done.replayed, "points_balance": done.balance_after},
    )


async def my_rewards(request: Request) -> Response:
    """GET /proxy/my-rewards: the signed-in shopper's active codes, newest first."""
    shop = shop_of(request)
    shopify_id = signed_in(request, "Sign in to your account to see your rewards")
    try:
        paged = await list_redemptions(
            shop_id=shop.id,
            identifier=str(shopify_id),
            status=RedemptionStatus.ACTIVE,
            window=Window(limit=MY_REWARDS_SHOWN),
        )
    except CustomerNotFoundError:  # not enrolled yet: nothing redeemed
        return document_response([], meta={"total": 0})
    return document_response(
        [render.redemption(v) for v in paged.items], meta={"total": paged.total}
    )


routes = [
    Route("/rewards", list_shop_rewards, methods=["GET"], name="proxy.rewards"),
    Route(
        "/rewards/{reward_id}/redeem", redeem_reward, methods=["POST"], name="proxy.rewards.redeem"
    ),
    Route("/my-rewards", my_rewards, methods=["GET"], name="proxy.my_rewards"),
]
screen_routes(routes)
