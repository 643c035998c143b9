"""`/app/api`: the configuration API of the embedded admin (ID-token auth is on the mount).

Every handler acts for `request.state.shop`, the shop the verified token names; ids of another
shop answer 404. Bodies are validated into `web.admin_bodies` models (422 with a pointer).
"""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.customers import directory, exclusion
from loyalty.earning import rules
from loyalty.earning.rules import RuleChanges
from loyalty.models import RuleCategory
from loyalty.shops import api_keys, programme
from loyalty.shops.programme import ProgrammeChanges
from loyalty.tiers import configuration as tiers
from loyalty.tiers.configuration import TierChanges
from web import admin_bodies as bodies
from web import admin_serializers as render
from web.errors import RequestError
from web.jsonapi import document_response
from web.parsing import explicit_fields, parse_page, screen_routes
from web.routes import admin_extras, admin_integrations
from web.routes.admin_context import body_of, notify, shop, staff_user_id

# Earning rules ---------------------------------------------------------------------------------


async def list_earning_rules(request: Request) -> Response:
    raw = request.query_params.get("filter[category]")
    try:
        category = RuleCategory(raw) if raw else None
    except ValueError:
        raise RequestError(
            400,
            "invalid_parameter",
            "Invalid query parameter",
            f"filter[category] must be one of {', '.join(RuleCategory)}",
        ) from None
    views = await rules.list_rules(shop=shop(request), category=category)
    return document_response([render.earning_rule(view) for view in views])


async def create_earning_rule(request: Request) -> Response:
    body = await body_of(request, bodies.CreateEarningRule)
    view = await rules.create_rule(shop=shop(request), **body.model_dump())
    return document_response(render.earning_rule(view), status=201)


async def update_earning_rule(request: Request) -> Response:
    body = await body_of(request, bodies.UpdateEarningRule)
    changes = cast(RuleChanges, explicit_fields(body, nullable=bodies.RULE_NULLABLE))
    view = await rules.update_rule(
        shop=shop(request), rule_id=request.path_params["rule_id"], changes=changes
    )
    return document_response(render.earning_rule(view))


async def activate_earning_rule(request: Request) -> Response:
    view = await rules.set_rule_active(
        shop=shop(request), rule_id=request.path_params["rule_id"], active=True
    )
    return document_response(render.earning_rule(view))


async def deactivate_earning_rule(request: Request) -> Response:
    view = await rules.set_rule_active(
        shop=shop(request), rule_id=request.path_params["rule_id"], active=False
    )
    return document_response(render.earning_rule(view))


# VIP tiers -------------------------------------------------------------------------------------


async def list_vip_tiers(request: Request) -> Response:
    return document_response(
        [render.vip_tier(t) for t in await tiers.list_tiers(shop=shop(request))]
    )


async def create_vip_tier(request: Request) -> Response:
    body = await body_of(request, bodies.CreateVipTier)
    change = await tiers.create_tier(
        shop=shop(request), staff_user_id=staff_user_id(request), **body.model_dump()
    )
    notify(request, change.jobs)
    assert change.tier is not None
    return document_response(
        render.vip_tier(change.tier), status=201, meta={"customers_moved": change.customers_moved}
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
        render.vip_tier(change.tier), meta={"customers_moved": change.customers_moved}
    )


async def delete_vip_tier(request: Request) -> Response:
    change = await tiers.delete_tier(
        shop=shop(request),
        tier_id=request.path_params["tier_id"],
        staff_user_id=staff_user_id(request),
    )
    notify(request, change.jobs)
    return Response(status_code=204)


# Customers -------------------------------------------------------------------------------------


async def list_customers(request: Request) -> Response:
    page = parse_page(request.query_params)
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
    return document_response(
        [render.customer(c) for c in found.customers], meta=page.meta(found.total)
    )


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


# API keys --------------------------------------------------------------------------------------


async def list_api_keys(request: Request) -> Response:
    keys = await api_keys.list_api_keys(shop=shop(request))
    return document_response([render.api_key(key) for key in keys])


async def create_api_key(request: Request) -> Response:
    body = await body_of(request, bodies.CreateApiKey)
    issued = await api_keys.issue_api_key(shop=shop(request), name=body.name, scope=body.scope)
    return document_response(render.api_key(issued.key, secret=issued.secret), status=201)


async def revoke_api_key(request: Request) -> Response:
    key = await api_keys.revoke_api_key(shop=shop(request), public_id=request.path_params["key_id"])
    return document_response(render.api_key(key))


# Programme settings ----------------------------------------------------------------------------


async def get_settings(request: Request) -> Response:
    return document_response(render.programme_settings(shop(request)))


async def update_settings(request: Request) -> Response:
    body = await body_of(request, bodies.UpdateProgramme)
    changes = cast(ProgrammeChanges, explicit_fields(body, nullable=bodies.PROGRAMME_NULLABLE))
    updated = await programme.update_programme(shop=shop(request), changes=changes)
    return document_response(render.programme_settings(updated))


routes = [
    Route(
        "/earning-rules", list_earning_rules, methods=["GET"], name="admin_api.earning_rules.list"
    ),
    Route(
        "/earning-rules",
        create_earning_rule,
        methods=["POST"],
        name="admin_api.earning_rules.create",
    ),
    Route(
        "/earning-rules/{rule_id}",
        update_earning_rule,
        methods=["PATCH"],
        name="admin_api.earning_rules.update",
    ),
    Route(
        "/earning-rules/{rule_id}/activate",
        activate_earning_rule,
        methods=["POST"],
        name="admin_api.earning_rules.activate",
    ),
    Route(
        "/earning-rules/{rule_id}/deactivate",
        deactivate_earning_rule,
        methods=["POST"],
        name="admin_api.earning_rules.deactivate",
    ),
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
    Route("/api-keys", list_api_keys, methods=["GET"], name="admin_api.api_keys.list"),
    Route("/api-keys", create_api_key, methods=["POST"], name="admin_api.api_keys.create"),
    Route(
        "/api-keys/{key_id}/revoke",
        revoke_api_key,
        methods=["POST"],
        name="admin_api.api_keys.revoke",
    ),
    Route("/settings", get_settings, methods=["GET"], name="admin_api.settings.get"),
    Route("/settings", update_settings, methods=["PATCH"], name="admin_api.settings.update"),
    *admin_extras.routes,  # the dashboard, long work, adjustments, previews, data requests
    *admin_integrations.routes,  # Klaviyo, Omnisend, Postscript: keys, status, test
]
screen_routes(routes)  # a NUL or lone surrogate in a parameter: 400, once the ID token is verified
