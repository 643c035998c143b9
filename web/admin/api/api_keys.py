"""`/app/api/api-keys`: the shop's keys for the public API, listed, issued (the secret is shown
once, in the creation response) and revoked.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.shops import api_keys
from web.admin.api import bodies
from web.admin.api import serializers as render
from web.admin.api.context import body_of, shop
from web.http.jsonapi import document_response


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


routes = [
    Route("/api-keys", list_api_keys, methods=["GET"], name="admin_api.api_keys.list"),
    Route("/api-keys", create_api_key, methods=["POST"], name="admin_api.api_keys.create"),
    Route(
        "/api-keys/{key_id}/revoke",
        revoke_api_key,
        methods=["POST"],
        name="admin_api.api_keys.revoke",
    ),
]
