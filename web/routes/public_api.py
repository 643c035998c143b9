"""`/api/v1`: the public API for merchant integrations (API-key auth is on the mount)."""

from __future__ import annotations

from typing import Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from loyalty.customers import enrolment, members, profile
from loyalty.customers.identifiers import MAX_IDENTIFIER_LENGTH
from loyalty.earning import adjustments, catalogue, custom_actions, history
from loyalty.earning.award import Actor, award_rule
from loyalty.models import ActorType, EarningStatus, RuleCategory
from loyalty.paging import NEWEST_FIRST
from loyalty.shops.api_keys import ApiKeyPrincipal
from web import api_bodies as bodies
from web import api_params as params
from web import openapi
from web import serializers as render
from web.body import read_json_object
from web.errors import RequestError
from web.jsonapi import document_response
from web.parsing import explicit_fields, parse_body, screen_routes
from web.serializers import earning_history_entry
from web.state import services


def principal(request: Request) -> ApiKeyPrincipal:
    return request.state.principal  # type: ignore[no-any-return]


def notify(request: Request, jobs: list[str]) -> None:
    """Hand committed intents to the queue (after the service's transaction, never inside)."""
    if jobs:
        services(request).dispatcher.notify(principal(request).shop.id, jobs)


def identifier(request: Request) -> str:
    return request.path_params["identifier"]  # type: ignore[no-any-return]


class AwardBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer_identifier: Annotated[
        str,
        StringConstraints(
            strict=True, strip_whitespace=True, min_length=1, max_length=MAX_IDENTIFIER_LENGTH
        ),
    ]


async def award_earning_rule(request: Request) -> Response:
    """POST /api/v1/earning-rules/{rule_id}/award"""
    body: AwardBody = parse_body(AwardBody, await read_json_object(request))
    key = principal(request)
    entry = await award_rule(
        shop=key.shop,
        rule_id=request.path_params["rule_id"],
        customer_identifier=body.customer_identifier,
        actor=Actor(ActorType.API_KEY, key.key_public_id),
        api_key_id=key.key_id,  # re-verified in the award's own statement
        outbox=services(request).dispatcher,
        batcher=services(request).award_batcher,
    )
    return document_response(earning_history_entry(entry), status=201)


# Customers --------------------------------------------------------------------------------------


async def list_customers(request: Request) -> Response:
    query = request.query_params
    page = params.page_of(query)
    sort = params.sort_of(query, members.CUSTOMER_SORTS, NEWEST_FIRST)
    filters = params.filters_of(query, {"email", "loyalty_status"})
    email = filters.get("email")
    if email is not None and len(email) > members.MAX_FILTER_LENGTH:
        raise params.invalid("filter[email]", "filter[email] must be at most 255 characters")
    status = params.choice(filters, "loyalty_status", ("member", "excluded"))
    found = await members.list_members(
        shop_id=principal(request).shop.id,
        email=email,
        loyalty_status=cast(members.LoyaltyStatus | None, status),
        sort=sort,
        window=page.window,
    )
    return document_response(
        [render.customer(member) for member in found.items], meta=page.meta(found.total)
    )


async def enroll_customer(request: Request) -> Response:
    body = parse_body(bodies.EnrollCustomer, await read_json_object(request))
    enrolled = await enrolment.enroll_customer(
        shop_id=principal(request).shop.id,
        shopify_customer_id=body.shopify_customer_id,
        email=body.email,
        first_name=body.first_name,
        last_name=body.last_name,
    )
    notify(request, enrolled.jobs)
    status = 201 if enrolled.created else 200
    return document_response(render.customer(enrolled.member), status=status)


async def get_customer(request: Request) -> Response:
    exclude_vip = params.boolean(request.query_params, "exclude_vip") or False
    member = await members.get_member(
        shop_id=principal(request).shop.id, identifier=identifier(request)
    )
    return document_response(render.customer(member, exclude_vip=exclude_vip))


async def update_customer(request: Request) -> Response:
    data: dict[str, Any] = await read_json_object(request)
    wrapped = data.get("data")
    if isinstance(wrapped, dict) and isinstance(wrapped.get("attributes"), dict):
        data = wrapped["attributes"]  # the JSON:API form
    body = parse_body(bodies.UpdateCustomer, data)
    changes = explicit_fields(body, nullable=bodies.UPDATE_CUSTOMER_NULLABLE)
    key = principal(request)
    updated = await profile.update_profile(
        shop_id=key.shop.id,
        identifier=identifier(request),
        changes=cast(profile.ProfileChanges, changes),
        api_key_id=key.key_public_id,
    )
    notify(request, updated.jobs)
    return document_response(render.customer(updated.member))


async def get_customer_birthday(request: Request) -> Response:
    customer = await members.find_member(
        shop_id=principal(request).shop.id, identifier=identifier(request), with_tier=False
    )
    return document_response(render.customer_date(customer, "birthday"))


async def get_customer_anniversary(request: Request) -> Response:
    customer = await members.find_member(
        shop_id=principal(request).shop.id, identifier=identifier(request), with_tier=False
    )
    return document_response(render.customer_date(customer, "anniversary"))


async def adjust_customer_points(request: Request) -> Response:
    body = parse_body(bodies.PointsAdjustment, await read_json_object(request))
    if body.adjustment == 0:
        raise RequestError(
            400, "invalid_field", "Invalid field", "adjustment must not be 0", pointer="/adjustment"
        )
    key = principal(request)
    adjusted = await adjustments.adjust_points(
        shop=key.shop,
        identifier=identifier(request),
        adjustment=body.adjustment,
        note=body.note or None,
        update_lifetime_points=body.update_lifetime_points,
        api_key_id=key.key_public_id,
    )
    notify(request, adjusted.jobs)
    return document_response(render.points_adjustment(adjusted))


async def list_earning_history(request: Request) -> Response:
    query = request.query_params
    page = params.page_of(query)
    sort = params.sort_of(query, history.HISTORY_SORTS, NEWEST_FIRST)
    filters = params.filters_of(query, {"status"})
    status = params.choice(filters, "status", [str(s) for s in EarningStatus])
    found = await history.list_history(
        shop_id=principal(request).shop.id,
        identifier=identifier(request),
        status=EarningStatus(status) if status else None,
        sort=sort,
        window=page.window,
    )
    return document_response(
        [render.history_entry(entry) for entry in found.items], meta=page.meta(found.total)
    )


# Earning rules, custom actions and VIP tiers -----------------------------------------------------


async def list_earning_rules(request: Request) -> Response:
    query = request.query_params
    page = params.page_of(query)
    sort = params.sort_of(query, catalogue.RULE_SORTS, NEWEST_FIRST)
    filters = params.filters_of(query, {"is_active", "category"})
    category = params.choice(filters, "category", [str(c) for c in RuleCategory])
    found = await catalogue.list_rules(
        shop_id=principal(request).shop.id,
        is_active=params.flag(filters, "is_active"),
        category=RuleCategory(category) if category else None,
        sort=sort,
        window=page.window,
    )
    return document_response(
        [render.earning_rule(rule) for rule in found.items], meta=page.meta(found.total)
    )


async def get_earning_rule(request: Request) -> Response:
    rule = await catalogue.get_rule(
        shop_id=principal(request).shop.id, rule_id=request.path_params["rule_id"]
    )
    return document_response(render.earning_rule(rule))


async def award_custom_action(request: Request) -> Response:
    body = parse_body(bodies.CustomAction, await read_json_object(request))
    header = request.headers.get("idempotency-key")
    key = body.idempotency_key
    if header is not None:
        header = header.strip()
        if not bodies.valid_idempotency_key(header):
            raise RequestError(
                400,
                "invalid_header",
                "Invalid header",
                "Idempotency-Key must be 1 to 255 printable ASCII characters",
            )
        if key is not None and key != header:
            raise RequestError(
                400,
                "idempotency_key_mismatch",
                "Invalid idempotency key",
                "The Idempotency-Key header and the idempotency_key field differ",
                pointer="/idempotency_key",
            )
        key = header
    if body.customer_id is None and body.customer_email is None:
        raise RequestError(
            400,
            "missing_field",
            "Missing field",
            "customer_id or customer_email is required",
            pointer="/customer_id",
        )
    api_key = principal(request)
    result = await custom_actions.award_custom_action(
        shop=api_key.shop,
        request=custom_actions.ActionRequest(
            action_key=body.action_key,
            shopify_customer_id=body.customer_id,
            customer_email=None if body.customer_id is not None else body.customer_email,
            metadata=body.metadata,
            idempotency_key=key,
        ),
        api_key_id=api_key.key_public_id,
        render=render.custom_action_award,
    )
    notify(request, result.jobs)
    response = document_response(result.body["data"], status=result.status)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


async def list_vip_tiers(request: Request) -> Response:
    tiers = await catalogue.list_tiers(shop_id=principal(request).shop.id)
    return document_response([render.vip_tier(t) for t in tiers], meta={"total": len(tiers)})


async def get_vip_tier(request: Request) -> Response:
    tier = await catalogue.get_tier(
        shop_id=principal(request).shop.id, tier_id=request.path_params["tier_id"]
    )
    return document_response(render.vip_tier(tier))


# The contract --------------------------------------------------------------------------------


async def openapi_document(request: Request) -> Response:
    return Response(openapi.document_json(), media_type="application/json")


async def api_docs(request: Request) -> Response:
    return HTMLResponse(openapi.docs_html())


routes = [
    Route("/customers", list_customers, methods=["GET"], name="api.customers.list"),
    Route("/customers", enroll_customer, methods=["POST"], name="api.customers.enroll"),
    Route("/customers/{identifier}", get_customer, methods=["GET"], name="api.customers.get"),
    Route("/customers/{identifier}", update_customer, methods=["PUT"], name="api.customers.update"),
    Route(
        "/customers/{identifier}/birthday",
        get_customer_birthday,
        methods=["GET"],
        name="api.customers.birthday",
    ),
    Route(
        "/customers/{identifier}/anniversary",
        get_customer_anniversary,
        methods=["GET"],
        name="api.customers.anniversary",
    ),
    Route(
        "/customers/{identifier}/points",
        adjust_customer_points,
        methods=["POST"],
        name="api.customers.points",
    ),
    Route(
        "/customers/{identifier}/earning-history",
        list_earning_history,
        methods=["GET"],
        name="api.customers.earning_history",
    ),
    Route("/earning-rules", list_earning_rules, methods=["GET"], name="api.earning_rules.list"),
    Route(
        "/earning-rules/{rule_id}",
        get_earning_rule,
        methods=["GET"],
        name="api.earning_rules.get",
    ),
    Route(
        "/earning-rules/{rule_id}/award",
        award_earning_rule,
        methods=["POST"],
        name="api.earning_rules.award",
    ),
    Route("/actions", award_custom_action, methods=["POST"], name="api.actions.award"),
    Route("/vip-tiers", list_vip_tiers, methods=["GET"], name="api.vip_tiers.list"),
    Route("/vip-tiers/{tier_id}", get_vip_tier, methods=["GET"], name="api.vip_tiers.get"),
    Route("/openapi.json", openapi_document, methods=["GET"], name="api.openapi"),
    Route("/docs", api_docs, methods=["GET"], name="api.docs"),
]
screen_routes(routes)  # a NUL or lone surrogate in a parameter: 400, once the API key is verified
