"""The raw baseline for bench/award: the least a web app can do for an award-like request.

One POST endpoint that parses the JSON body and does one
`INSERT … ON CONFLICT DO NOTHING RETURNING id` on a table with a unique key (the customer
identifier), answering 201 with a small JSON body (409 on a repeat). Starlette + asyncpg, no
ORM, no auth, one statement per request: what the award path's ratio is measured against.

    BASELINE_DATABASE_URL=postgres://… uvicorn bench.baseline_app:create --factory

The pool matches the app's per-process PostgreSQL pool (loyalty/db.py: 2–10 connections).
The table is created by `bench/helpers.py baseline-table DSN`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

INSERT = """
INSERT INTO bench_baseline (customer_identifier) VALUES ($1)
ON CONFLICT (customer_identifier) DO NOTHING
RETURNING id
"""


async def award(request: Request) -> Response:
    try:
        body = json.loads(await request.body())
        identifier = body["customer_identifier"]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "invalid body"}, status_code=400)
    pool: asyncpg.Pool = request.state.pool
    row_id = await pool.fetchval(INSERT, str(identifier))
    if row_id is None:
        return JSONResponse({"error": "already awarded"}, status_code=409)
    return JSONResponse({"id": row_id, "customer_identifier": identifier}, status_code=201)


async def readyz(request: Request) -> Response:
    await request.state.pool.fetchval("SELECT 1")
    return JSONResponse({"status": "ok"})


def create() -> Starlette:
    dsn = os.environ["BASELINE_DATABASE_URL"].replace("postgres://", "postgresql://", 1)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        try:
            yield {"pool": pool}
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/award", award, methods=["POST"]),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
