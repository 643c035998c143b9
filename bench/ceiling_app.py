"""The ceiling for bench/award: what HTTP and JSON alone cost, with no database at all.

`POST /award` parses the same body the award endpoint gets, checks `customer_identifier` as
the award does (a non-empty string; 400 otherwise) and answers 201 with the award contract's
document (/work/shared/spec/award-points.txt: `earning_history_entry`, eleven attributes, a new
`cer_…` id, timestamps of now in the app's format). `GET /proxy/customer` answers a document
the size and shape of the storefront widget's `/proxy/customer` for a logged-in customer, so
bench/storefront-proxy has a ceiling of its own kind (a GET with a query, a bigger answer).

Starlette on the same uvicorn options and process count as the award server: any figure
divided by this one says how much of the machine's HTTP + JSON capacity the app reaches.

    uvicorn ceiling_app:create --factory   (PYTHONPATH=bench)
"""

from __future__ import annotations

import itertools
import json
import os
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_ids = itertools.count(1)
_PID = os.getpid()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(document: Any, status: int = 200) -> Response:
    body = json.dumps(document, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


async def award(request: Request) -> Response:
    try:
        body = json.loads(await request.body())
        identifier = body["customer_identifier"]
        if not isinstance(identifier, str) or not identifier:
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return _json({"errors": [{"status": "400", "code": "invalid_body"}]}, 400)
    now = _now()
    return _json(
        {
            "data": {
                "type": "earning_history_entry",
                "id": f"cer_{_PID:x}{next(_ids):012x}",
                "attributes": {
                    "earning_rule_id": "rule_bench_social",
                    "action": "follow_on_instagram",
                    "points": 150,
                    "base_points": 100,
                    "points_multiplier": 1.5,
                    "status": "approved",
                    "points_given_at": now,
                    "points_due_at": None,
                    "points_expiry_at": None,
                    "created_at": now,
                    "updated_at": now,
                },
            }
        },
        201,
    )


_TIERS = [
    {"id": f"tier_{name.lower()}", "name": name, "points_required": need, "points_multiplier": m}
    for name, need, m in (("Bronze", 0, 1.0), ("Silver", 500, 1.25), ("Gold", 2000, 1.5))
]


async def proxy_customer(request: Request) -> Response:
    customer = request.query_params.get("logged_in_customer_id", "")
    if not customer.isdigit():
        return _json({"errors": [{"status": "401", "code": "not_logged_in"}]}, 401)
    return _json(
        {
            "data": {
                "type": "loyalty_customer",
                "id": customer,
                "attributes": {
                    "points_balance": 1234,
                    "pending_points": 0,
                    "lifetime_points": 1234,
                    "redeemed_points": 0,
                    "vip_tier": _TIERS[0],
                    "next_tier": {**_TIERS[1], "points_needed": 266},
                    "tiers": _TIERS,
                    "recent_activity": [],
                    "updated_at": _now(),
                },
            }
        }
    )


async def readyz(request: Request) -> Response:
    return _json({"status": "ok"})


def create() -> Starlette:
    return Starlette(
        routes=[
            Route("/award", award, methods=["POST"]),
            Route("/proxy/customer", proxy_customer, methods=["GET"]),
            Route("/readyz", readyz),
        ]
    )
