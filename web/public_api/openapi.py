"""The OpenAPI 3.1 document of `/api/v1`, generated: served at `/api/v1/openapi.json` and
rendered at `/api/v1/docs` (web.public_api.docs).

Nothing here describes an endpoint or a resource: paths come from the route table's
`Operation`s (web.public_api.spec), schemas from the pydantic models the handlers parse
requests with and build responses from (`model_json_schema`), so what is documented is what is
accepted and answered. This module owns only what every operation shares (the description, the
error object, the rate-limit headers, what each error status means). It imports no route
module: the route table hands its operations to `build`. tests/web/public_api/test_openapi.py
fails when a route and this document disagree; tests/contract runs schemathesis against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from loyalty.settings import Settings
from web.public_api.params import PATH_PARAMETERS
from web.public_api.spec import Operation, Param, Reply, Schema

REF = "#/components/schemas/{model}"
INT: Schema = {"type": "integer"}
STRING: Schema = {"type": "string"}

# The defaults quoted are the settings' own, so the document cannot drift from them.
_DESCRIPTION = """\
The loyalty programme's public API, for merchant integrations (helpdesks, quizzes, review apps,
Shopify Flow). The resources and conventions follow the hosted product this app replaces, so an
integration written for it works here unchanged.

**Authentication.** Send an API key from the app's settings in the `Authorization` header, as
is (`Authorization: lk_…`) or as `Bearer lk_…`. Full-access keys can do everything;
read-only keys can call every GET and get 403 `read_only_api_key` on anything else.

**Documents.** JSON:API style: `{"data": {"type", "id", "attributes"}}`; lists add
`meta {total, page, per_page, total_pages}`. Lists take `page[number]` (from 1) and
`page[size]` (default 20, at most 100; 0 or 101 is a 400), `sort=field` or `sort=-field`
(default `-created_at`) and `filter[field]=value`. A customer is named by their Shopify customer
ID or their email address (case-insensitive). Times are ISO 8601 UTC with milliseconds.

**Errors.** `{"errors": [{"status": "409", "code": "already_awarded", "title", "detail"}]}`
with `status` as a string and a stable `code` to branch on; `source.pointer` names the body
field at fault and `source.parameter` the query parameter.

**Rate limits.** Each API key has a token bucket: by default $burst requests at once and
$rate per second after that, and a separate, larger bucket for the award endpoints (`POST
/earning-rules/{id}/award` and `POST /actions`): $award_burst at once and $award_rate per
second. Every response carries `RateLimit-Limit` (the bucket size), `RateLimit-Remaining`
and `RateLimit-Reset` (seconds until the bucket is full); over the limit the answer is 429
`rate_limited` with `Retry-After` (seconds). The limits are the server's settings (`API_RATE_LIMIT`,
`API_RATE_BURST`, `API_AWARD_RATE_LIMIT`, `API_AWARD_RATE_BURST`).

**Retries.** `POST /actions` and `POST /rewards/{id}/purchase` take an `Idempotency-Key` header
(or an `idempotency_key` field): a repeat with the same key returns the first response again,
with status 200 and `Idempotent-Replayed: true` (and `replayed: true` on an action), and never
awards or spends twice; the same key with a different request is a 409
`idempotency_key_reused`. Only successful responses are kept: a request that failed may be
retried with the same key. The award endpoint is safe to retry as it is: a rule is awarded once
per customer.
"""
DESCRIPTION = (
    _DESCRIPTION.replace("$award_burst", str(Settings.api_award_rate_burst))
    .replace("$award_rate", f"{Settings.api_award_rate_limit:g}")
    .replace("$burst", str(Settings.api_rate_burst))
    .replace("$rate", f"{Settings.api_rate_limit:g}")
)


RATE_HEADERS: dict[str, Schema] = {
    "RateLimit-Limit": {
        "description": "The bucket size: requests allowed at once",
        "required": True,
        "schema": INT,
    },
    "RateLimit-Remaining": {
        "description": "Requests left right now",
        "required": True,
        "schema": INT,
    },
    "RateLimit-Reset": {
        "description": "Seconds until the bucket is full again",
        "required": True,
        "schema": INT,
    },
}

ERRORS = {
    400: "The body, a query or a path parameter is invalid (`source` names it), or the JSON is "
    "not (a NUL or lone surrogate in any text, NaN or Infinity, a number over 100 characters, "
    "nesting past 64 levels)",
    401: "The API key is missing, invalid or revoked",
    403: "A read-only key used for a write, the customer is excluded from the programme, or "
    "not on the VIP tier a reward requires",
    404: "Not found for this shop",
    409: "Conflict: already awarded, limit reached, or an idempotency key reused",
    413: "The body is larger than 64 KB",
    415: "The body is not JSON",
    422: "Well-formed but impossible (see `code`)",
    429: "Rate limit exceeded: retry after `Retry-After` seconds",
    503: "The shop's Shopify connection is not usable (the merchant must open the app again); "
    "nothing was done",
}
ERROR_SCHEMA: Schema = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "status": {"type": "string", "pattern": "^[45][0-9]{2}$"},
                    "code": {"type": "string", "description": "Stable; branch on this"},
                    "title": STRING,
                    "detail": STRING,
                    "source": {
                        "type": "object",
                        "properties": {"pointer": STRING, "parameter": STRING},
                    },
                    "meta": {"type": "object"},
                },
                "required": ["status", "code", "title", "detail"],
            },
        }
    },
    "required": ["errors"],
}
TAGS = (
    "Customers",
    "Points",
    "Earning rules",
    "VIP tiers",
    "Rewards",
    "Referrals",
    "Contract",
)


def build(operations: Iterable[Operation]) -> dict[str, Any]:
    """The document of these operations (the route table's, in its order)."""
    operations = list(operations)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Loyalty public API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "security": [{"ApiKey": []}],
        "tags": [{"name": tag} for tag in TAGS],
        "paths": _paths(operations),
        "components": {
            "securitySchemes": {
                "ApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "The API key, as is or as `Bearer <key>`",
                }
            },
            "schemas": {"Error": ERROR_SCHEMA, **_schemas(operations)},
        },
    }


def _schemas(operations: list[Operation]) -> dict[str, Schema]:
    """Every model's JSON Schema and those of the models it holds, by model name: requests as
    they are validated, responses as they are serialized."""
    models: dict[type[BaseModel], Any] = {}
    for operation in operations:
        models.update(dict.fromkeys(operation.request, "validation"))
        models.update({r.model: "serialization" for r in operation.replies if r.model})
    _, top = models_json_schema(list(models.items()), ref_template=REF)
    schemas: dict[str, Schema] = top.get("$defs", {})
    missing = [model.__name__ for model, _ in models.items() if model.__name__ not in schemas]
    assert not missing, f"models without a schema of their own name: {missing}"
    return schemas


def _ref(model: type[BaseModel]) -> Schema:
    return {"$ref": REF.format(model=model.__name__)}


def _paths(operations: list[Operation]) -> dict[str, Schema]:
    paths: dict[str, Schema] = {}
    for operation in operations:
        item = paths.setdefault(operation.path, {})
        names = [n for n in PATH_PARAMETERS if "{" + n + "}" in operation.path]
        if names:
            item["parameters"] = [PATH_PARAMETERS[n] for n in names]
        item[operation.method.lower()] = _operation(operation)
    return paths


def _operation(operation: Operation) -> Schema:
    responses = {str(reply.status): _reply(reply) for reply in operation.replies}
    for status in (*operation.errors, 429):
        responses[str(status)] = _error_response(status)
    document: Schema = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
        "description": operation.description,
        "parameters": [_parameter(param) for param in operation.params],
        "responses": responses,
    }
    if operation.request:
        schemas = [_ref(model) for model in operation.request]
        schema = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
        document["requestBody"] = {
            "required": True,
            "description": "",
            "content": {"application/json": {"schema": schema}},
        }
    if operation.public:
        document["security"] = []
    return document


def _parameter(param: Param) -> Schema:
    return {
        "name": param.name,
        "in": param.where,
        "required": False,
        "description": param.description,
        "schema": param.schema,
    }


def _reply(reply: Reply) -> Schema:
    schema = _ref(reply.model) if reply.model is not None else reply.schema
    headers: dict[str, Any] = dict(RATE_HEADERS)
    if reply.replayed:  # a replayed idempotent response also says so (as Stripe's API does)
        headers["Idempotent-Replayed"] = {
            "description": "Always `true`: this is the stored response of an earlier request",
            "required": True,
            "schema": {"type": "string", "const": "true"},
        }
    return {
        "description": reply.description,
        "headers": headers,
        "content": {reply.media_type: {"schema": schema}},
    }


def _error_response(status: int) -> Schema:
    headers: dict[str, Any] = dict(RATE_HEADERS)
    if status == 429:
        headers["Retry-After"] = {
            "description": "Seconds to wait before retrying",
            "required": True,
            "schema": INT,
        }
    return {
        "description": ERRORS[status],
        "headers": headers,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }
