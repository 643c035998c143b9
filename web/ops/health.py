"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from loyalty import sql


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    try:
        await sql.fetch_one("SELECT 1 AS ok")
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "database": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok"})


routes = [
    Route("/healthz", healthz, name="health.live"),
    Route("/readyz", readyz, name="health.ready"),
]
