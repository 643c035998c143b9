"""`/proxy`: the storefront widget's API, reached as `/apps/loyalty/…` through Shopify's app
proxy (signature checked on the mount). JSON only: nothing from the request is ever rendered
into Liquid. The routes and their limits live here, the documents in web.proxy.serializers."""

from __future__ import annotations

from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.customers import storefront
from loyalty.earning.award import Actor, award_rule
from loyalty.errors import CustomerNotFoundError
from loyalty.models import ActorType, Customer, Shop
from web.errors import RequestError
from web.http.jsonapi import document_response
from web.http.params import screen_routes
from web.proxy import serializers as render
from web.public_api.points import earning_history_entry
from web.ratelimit import Limit
from web.state import services

# A shopper claims a handful of actions; a shop's storefront may see a crowd. Generous enough
# for real use, tight enough that a script cannot hammer the award path.
CUSTOMER_AWARD_LIMIT = Limit.per_minute(20, burst=10)
SHOP_AWARD_LIMIT = Limit.per_minute(3000, burst=300)


def shop_of(request: Request) -> Shop:
    return request.state.shop  # type: ignore[no-any-return]


def customer_id_of(request: Request) -> int | None:
    """The signed `logged_in_customer_id`: the only customer a proxy route ever acts for."""
    return request.state.customer_shopify_id  # type: ignore[no-any-return]


def signed_in(request: Request, detail: str) -> int:
    """The logged-in customer's Shopify id, or 401 `not_logged_in` saying `detail`."""
    shopify_id = customer_id_of(request)
    if shopify_id is None:
        raise RequestError(401, "not_logged_in", "Unauthorized", detail)
    return shopify_id


async def throttle(request: Request, *keyed: tuple[str, Limit]) -> None:
    """429 `rate_limited` (with Retry-After) once any of the keyed limits is spent."""
    limiter = services(request).limiter
    for key, limit in keyed:
        decision = await limiter.hit(key, limit)
        if not decision.allowed:
            raise RequestError(
                429,
                "rate_limited",
                "Too Many Requests",
                f"Too many attempts; try again in {decision.retry_after} s",
                headers=decision.headers(),
            )


async def get_customer(request: Request) -> Response:
    """GET /proxy/customer: the customer's loyalty state, or the programme for visitors."""
    shop = shop_of(request)
    shopify_id = customer_id_of(request)
    if shopify_id is None:
        rules = await storefront.ways_to_earn(shop=shop, customer=None)
        tiers = await storefront.tiers_of(shop)
        return document_response(render.programme(shop, rules, tiers))
    # Page views arriving together share one statement (loyalty.customers.storefront_summaries).
    summary = await services(request).storefront_summaries.submit((shop.id, shopify_id))
    if summary is None:  # a shopper the app has not seen yet: enrolled on their first visit
        customer = await storefront.ensure_customer(shop=shop, shopify_customer_id=shopify_id)
        summary = await storefront.customer_summary(shop=shop, customer=customer)
    return document_response(render.customer(summary))


async def list_earning_rules(request: Request) -> Response:
    """GET /proxy/earning-rules: ways to earn, with this customer's points and completion."""
    shop = shop_of(request)
    shopify_id = customer_id_of(request)
    customer = (
        await Customer.get_or_none(shop=shop, shopify_customer_id=shopify_id)
        if shopify_id
        else None
    )
    rules = await storefront.ways_to_earn(shop=shop, customer=customer)
    return document_response([render.earning_rule(r) for r in rules])


async def award_earning_rule(request: Request) -> Response:
    """POST /proxy/earning-rules/{rule_id}/award: claim a social/engagement rule for the
    logged-in customer. Same checks and statuses as the public API; the body is ignored."""
    shop = shop_of(request)
    shopify_id = signed_in(request, "Sign in to your account to earn points")
    await throttle(
        request,
        (f"proxy:customer:{shop.id}:{shopify_id}", CUSTOMER_AWARD_LIMIT),
        (f"proxy:shop:{shop.id}", SHOP_AWARD_LIMIT),
    )
    award = partial(
        award_rule,
        shop=storefront.shop_context(shop),
        rule_id=request.path_params["rule_id"],
        customer_identifier=str(shopify_id),
        actor=Actor(ActorType.STOREFRONT, str(shopify_id)),
        outbox=services(request).dispatcher,
        batcher=services(request).award_batcher,
    )
    try:
        entry = await award()
    except CustomerNotFoundError:
        # A shopper the app has not seen yet: enrol them, then claim. Enrolling only now keeps
        # a refused claim (unknown or inactive rule, …) from writing anything.
        await storefront.ensure_customer(shop=shop, shopify_customer_id=shopify_id)
        entry = await award()
    return document_response(earning_history_entry(entry), status=201)


routes = [
    Route("/customer", get_customer, methods=["GET"], name="proxy.customer"),
    Route("/earning-rules", list_earning_rules, methods=["GET"], name="proxy.earning_rules"),
    Route(
        "/earning-rules/{rule_id}/award",
        award_earning_rule,
        methods=["POST"],
        name="proxy.earning_rules.award",
    ),
]
screen_routes(routes)  # a NUL or lone surrogate in a parameter: 400, once the signature is verified
