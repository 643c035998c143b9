"""`/app/api/data-requests`: the compliance data requests Shopify sent (customers/data_request)
and their exports, listed, read and downloaded as a file for the merchant to hand over.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.clock import isoformat_z
from loyalty.customers import compliance
from loyalty.models import DataRequest
from web.admin.api.context import shop
from web.http.jsonapi import document_response, resource


async def list_data_requests(request: Request) -> Response:
    found = await compliance.list_data_requests(shop=shop(request))
    return document_response([_data_request(row) for row in found])


async def get_data_request(request: Request) -> Response:
    row = await compliance.get_data_request(
        shop=shop(request), request_id=request.path_params["request_id"]
    )
    document = _data_request(row)
    document["attributes"]["record"] = row.record
    return document_response(document)


async def download_data_request(request: Request) -> Response:
    """The export as a file: what the merchant hands to the customer who asked."""
    row = await compliance.get_data_request(
        shop=shop(request), request_id=request.path_params["request_id"]
    )
    return Response(
        json.dumps(row.record, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="data-request-{row.id}.json"',
            "Cache-Control": "no-store",  # personal data: never kept by a cache
        },
    )


def _data_request(row: DataRequest) -> dict[str, Any]:
    return resource(
        "data_request",
        str(row.id),
        {
            "shopify_request_id": _text(row.shopify_request_id),
            "shopify_customer_id": _text(row.shopify_customer_id),
            "email": row.email,
            "found_customer": bool((row.record or {}).get("customer")),
            "requested_at": isoformat_z(row.requested_at),
            "completed_at": isoformat_z(row.completed_at),
        },
    )


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


routes = [
    Route(
        "/data-requests", list_data_requests, methods=["GET"], name="admin_api.data_requests.list"
    ),
    Route(
        "/data-requests/{request_id}",
        get_data_request,
        methods=["GET"],
        name="admin_api.data_requests.get",
    ),
    Route(
        "/data-requests/{request_id}/download",
        download_data_request,
        methods=["GET"],
        name="admin_api.data_requests.download",
    ),
]
