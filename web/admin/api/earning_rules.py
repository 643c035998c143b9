"""`/app/api/earning-rules`: the shop's ways to earn, listed by category, created, edited,
switched on and off. Changes are validated into `bodies.CreateEarningRule`/`UpdateEarningRule`.
"""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.earning import rules
from loyalty.earning.rules import RuleChanges
from loyalty.models import RuleCategory
from web.admin.api import bodies
from web.admin.api import serializers as render
from web.admin.api.context import body_of, shop
from web.errors import RequestError
from web.http.jsonapi import document_response
from web.http.validation import explicit_fields


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
]
