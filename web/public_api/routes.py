"""`/api/v1`: the public API's route table (API-key auth is on the mount, web.app).

Each entry is an `Operation` (web.public_api.spec), declared beside its handler: the route that
serves it and the OpenAPI operation that documents it, with the request and response models the
handler uses. The document is generated from this table (web.public_api.openapi) and served by
two of its entries; only this module sees both, so nothing imports in a circle.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from web.http.params import screen_routes
from web.public_api import (
    actions,
    catalogue,
    customers,
    openapi,
    points,
    referrals,
    rewards,
    rewards_history,
)
from web.public_api.docs import render_page
from web.public_api.spec import Operation, Reply


async def openapi_document(request: Request) -> Response:
    return Response(document_json(), media_type="application/json")


async def api_docs(request: Request) -> Response:
    return HTMLResponse(docs_html())


CONTRACT = (
    Operation(
        method="GET",
        path="/openapi.json",
        name="api.openapi",
        endpoint=openapi_document,
        operation_id="getOpenApiDocument",
        tag="Contract",
        summary="This document (no key needed)",
        replies=(Reply(200, "OpenAPI 3.1", schema={"type": "object"}),),
        errors=(),
        public=True,
    ),
    Operation(
        method="GET",
        path="/docs",
        name="api.docs",
        endpoint=api_docs,
        operation_id="getApiDocs",
        tag="Contract",
        summary="This document as a web page (no key needed)",
        replies=(Reply(200, "HTML", schema={"type": "string"}, media_type="text/html"),),
        errors=(),
        public=True,
    ),
)
OPERATIONS: tuple[Operation, ...] = (
    *customers.OPERATIONS,
    *points.OPERATIONS,
    *catalogue.RULE_OPERATIONS,
    points.AWARD,
    *actions.OPERATIONS,
    *catalogue.TIER_OPERATIONS,
    *rewards.OPERATIONS,
    *rewards_history.OPERATIONS,
    *referrals.OPERATIONS,
    *CONTRACT,
)

routes = [operation.route() for operation in OPERATIONS]
screen_routes(routes)  # a NUL or lone surrogate in a parameter: 400, once the API key is verified


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document of this table."""
    return openapi.build(OPERATIONS)


@cache
def document_json() -> bytes:
    return json.dumps(document(), separators=(",", ":")).encode()


@cache
def docs_html() -> str:
    return render_page(document())
