"""The declarative description of one `/api/v1` operation: method, path, handler, summary,
request model, response model per status, error statuses, parameters.

The route table (web.public_api.routes) is a list of these: each becomes the Starlette `Route`
that serves it and the OpenAPI operation that documents it (web.public_api.openapi), so a route
cannot exist undocumented, nor its documented body or response differ from the models the
handler uses. This module knows neither the routes nor the generator (no import cycle).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Schema = dict[str, Any]
# Every write can meet a bad body (400), no key (401), a read-only key (403), a body too large
# (413) or not JSON (415).
WRITE_ERRORS = (400, 401, 403, 413, 415)
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Param:
    """A documented query or header parameter (path parameters: web.public_api.params)."""

    name: str
    schema: Schema
    description: str
    where: Literal["query", "header"] = "query"


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful response: its status, and the model of its body (or a raw schema for the
    documents that are not JSON:API: the OpenAPI document itself, the docs page)."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    schema: Schema | None = None
    media_type: str = "application/json"
    replayed: bool = False  # carries `Idempotent-Replayed: true`


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    method: Literal["GET", "POST", "PUT"]
    path: str
    name: str  # the Starlette route name
    endpoint: Endpoint
    operation_id: str
    tag: str
    summary: str
    replies: tuple[Reply, ...]
    errors: tuple[int, ...]  # besides 429, which every operation can answer
    description: str = ""
    request: tuple[type[BaseModel], ...] = ()  # more than one: any of them
    params: tuple[Param, ...] = field(default=())
    public: bool = False  # no API key needed

    def route(self) -> Route:
        return Route(self.path, self.endpoint, methods=[self.method], name=self.name)
