"""`/flow/actions/…`: the runtime URLs of the app's Flow actions (extensions/loyalty-award-*).

Each request, in this order (nothing in it is read before it is verified):
1. the raw body under a size cap (413);
2. `X-Shopify-Hmac-Sha256` over the raw bytes with the current and the previous client secret
   (web.auth.body_hmac): 400 when missing, 401 when it does not match; then
   `shopify_app.verify_flow_action_req` on the verified body (same secrets, same answer);
3. the body as strict JSON, and Flow's envelope: `shopify_domain`, which the signature covers,
   must name the shop of `X-Shopify-Shop-Domain` (the shop the verifier returns; the header
   is not signed, so a signed body replayed under another shop's header is refused, 401),
   `handle` must be this route's action, and the shop must have the app installed (404);
4. the action's `properties`, then one use case (loyalty.earning.flow_actions), idempotent on
   Flow's `action_run_id`; 200 with the result, also for a repeat (`replayed`).

What Flow does with the answer: 200 is success; a 4xx fails the workflow step for good and
shows our error; a 5xx, a timeout or a 429 is retried with the same `action_run_id`. So every
refusal a retry cannot change is a 4xx with a stable `code`, and a failure that may pass
(the database away) is a 5xx, which the idempotency makes safe to retry.
https://shopify.dev/docs/apps/build/flow/actions/endpoints
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loyalty.customers.storefront import shop_context
from loyalty.earning import custom_actions, flow_actions
from loyalty.earning.flow_actions import FlowActionResult, FlowRun
from loyalty.models import Shop
from loyalty.shops.domains import shop_domain
from web.auth.body_hmac import SignedRoute, verified_body
from web.errors import RequestError
from web.http.body import json_object
from web.http.validation import parse_body
from web.public_api.requests import ShopifyCustomerId
from web.state import services

log = logging.getLogger(__name__)

MAX_FLOW_BYTES = 256 * 1024  # Flow's payloads are the action's few fields
_SIGNED = SignedRoute(
    noun="Flow action",
    max_bytes=MAX_FLOW_BYTES,
    hmac_headers=("x-shopify-hmac-sha256",),  # the one name verify_flow_action_req reads
    shop_headers=("x-shopify-shop-domain",),
    post_method_detail="Flow actions are sent with POST",
    verifier=lambda shopify: shopify.verify_flow_action_req,
    log=log,
)


class Envelope(BaseModel):
    """What Flow sends around every action's properties."""

    model_config = ConfigDict(extra="ignore")  # Flow may add fields; none of them is trusted

    shopify_domain: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    action_run_id: Annotated[StrictStr, Field(pattern=r"^[\x21-\x7e]{1,200}$")]
    handle: StrictStr
    properties: dict[str, Any]


class AwardPointsProperties(BaseModel):
    """extensions/loyalty-award-points: the customer reference, points and a reason."""

    customer_id: ShopifyCustomerId
    points: Annotated[StrictInt, Field(ge=1, le=flow_actions.MAX_POINTS)]
    reason: Annotated[StrictStr, Field(min_length=1, max_length=255)]


class CustomActionProperties(BaseModel):
    """extensions/loyalty-award-custom-action: the customer reference and an action key."""

    customer_id: ShopifyCustomerId
    action_key: Annotated[StrictStr, Field(pattern=custom_actions.ACTION_KEY_PATTERN)]


async def award_points(request: Request) -> Response:
    """POST /flow/actions/award-points ("Award loyalty points")."""
    run, properties = await _verified_run(request, "loyalty-award-points")
    body = parse_body(AwardPointsProperties, properties)
    result = await flow_actions.award_points(
        run=run,
        shopify_customer_id=body.customer_id,
        points=body.points,
        reason=" ".join(body.reason.split()),
    )
    return _answer(request, run, result)


async def award_custom_action(request: Request) -> Response:
    """POST /flow/actions/award-custom-action ("Award a loyalty custom action")."""
    run, properties = await _verified_run(request, "loyalty-award-custom-action")
    body = parse_body(CustomActionProperties, properties)
    result = await flow_actions.award_custom_action(
        run=run, shopify_customer_id=body.customer_id, action_key=body.action_key
    )
    return _answer(request, run, result)


def _answer(request: Request, run: FlowRun, result: FlowActionResult) -> Response:
    if result.jobs:
        services(request).dispatcher.notify(run.shop.id, result.jobs)
    return JSONResponse(result.document)


async def _verified_run(request: Request, handle: str) -> tuple[FlowRun, dict[str, Any]]:
    """The run and its properties, once the request is verified (steps 1-3 above)."""
    body, shop_name = await verified_body(request, _SIGNED)
    data = json_object(body.encode("utf-8"))
    envelope = parse_body(Envelope, data)
    domain = shop_domain(shop_name)
    if domain is None or envelope.shopify_domain.lower() != domain:
        log.info(
            "Flow action refused: signed for %r, sent as %r", envelope.shopify_domain, shop_name
        )
        raise RequestError(
            401,
            "shop_mismatch",
            "Unauthorized",
            "X-Shopify-Shop-Domain does not name the shop the signed body is for",
        )
    if envelope.handle != handle:
        raise RequestError(
            400,
            "wrong_action",
            "Bad Request",
            f"This URL runs the {handle} action, not {envelope.handle!r}",
        )
    shop = await Shop.get_or_none(domain=domain)
    if shop is None or shop.uninstalled_at is not None:
        raise RequestError(
            404, "shop_not_found", "Not found", f"{domain} has not installed the app"
        )
    return FlowRun(envelope.action_run_id, shop_context(shop)), envelope.properties


routes = [
    Route(path, endpoint, methods=["POST"], name=name)
    for path, endpoint, name in (
        ("/flow/actions/award-points", award_points, "flow.actions.award_points"),
        (
            "/flow/actions/award-custom-action",
            award_custom_action,
            "flow.actions.award_custom_action",
        ),
    )
]
