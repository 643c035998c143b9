"""The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json` (and rendered at
`/api/v1/docs`, see web.api_docs).

Request bodies are the JSON Schemas of the pydantic models that parse them (web.api_bodies), so
what is documented is what is accepted; responses are written out here. tests/web/public_api/
test_openapi.py fails when a route and this document disagree, and tests/contract runs
schemathesis against the app with it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel

from loyalty.customers.members import CUSTOMER_SORTS
from loyalty.earning.catalogue import RULE_SORTS
from loyalty.earning.history import HISTORY_SORTS
from loyalty.models import EarningStatus, RuleCategory
from loyalty.settings import Settings
from web import api_bodies as bodies
from web.api_params import DEFAULT_PAGE_SIZE, MAX_PAGE_NUMBER, MAX_PAGE_SIZE

Schema = dict[str, Any]
REF = "#/components/schemas/"

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

**Retries.** `POST /actions` takes an `Idempotency-Key` header (or an `idempotency_key` field):
a repeat with the same key returns the first response again, with `replayed: true` and status
200, and never awards twice; the same key with a different request is a 409
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


def _ref(name: str) -> Schema:
    return {"$ref": REF + name}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


INT: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
STRING: Schema = {"type": "string"}
TIME: Schema = {"type": "string", "format": "date-time", "examples": ["2024-06-01T12:00:00.000Z"]}
NULLABLE_TIME = _nullable(TIME)
NULLABLE_STRING = _nullable(STRING)
NULLABLE_INT = _nullable(INT)
STATUS = {"type": "string", "enum": [str(s) for s in EarningStatus]}


def _resource(type_: str, attributes: str, *, id_description: str) -> Schema:
    return _object(
        {
            "type": {"type": "string", "const": type_},
            "id": {"type": "string", "description": id_description},
            "attributes": _ref(attributes),
        }
    )


def _one(name: str) -> Schema:
    return _object({"data": _ref(name)})


def _many(name: str, meta: str = "PageMeta") -> Schema:
    return _object({"data": {"type": "array", "items": _ref(name)}, "meta": _ref(meta)})


TIER_SUMMARY = _object(
    {
        "id": STRING,
        "name": STRING,
        "points_required": INT,
        "points_multiplier": NUMBER,
        "badge_image_url": NULLABLE_STRING,
        "badge_color": STRING,
    }
)

RESOURCE_SCHEMAS: dict[str, Schema] = {
    "CustomerAttributes": _object(
        {
            "shopify_customer_id": STRING,
            "email": NULLABLE_STRING,
            "first_name": STRING,
            "last_name": STRING,
            "current_points": {"type": "integer", "description": "Spendable balance"},
            "lifetime_points": {"type": "integer", "description": "Ever earned; drives the tier"},
            "redeemed_points": INT,
            "pending_points": {"type": "integer", "description": "Awarded, awaiting approval"},
            "loyalty_status": {"type": "string", "enum": ["member", "excluded"]},
            "is_excluded": BOOL,
            "date_of_birth": NULLABLE_TIME,
            "anniversary_date": NULLABLE_TIME,
            "referral_url": NULLABLE_STRING,
            "referral_code": NULLABLE_STRING,
            "vip_tier": _nullable(_ref("VipTierSummary")),
            "points_expire_at": {
                **NULLABLE_TIME,
                "description": "When the oldest unspent points expire (null: they do not)",
            },
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "Customer": _resource(
        "customer", "CustomerAttributes", id_description="The Shopify customer ID"
    ),
    "VipTierSummary": TIER_SUMMARY,
    "VipTierAttributes": _object(
        {
            "name": STRING,
            "description": STRING,
            "points_required": {"type": "integer", "description": "Lifetime points threshold"},
            "points_multiplier": NUMBER,
            "badge_image_url": NULLABLE_STRING,
            "badge_color": STRING,
            "rewards": {"type": "array", "items": {"type": "object"}},
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "VipTier": _resource("vip_tier", "VipTierAttributes", id_description="tier_…"),
    "EarningRuleAttributes": _object(
        {
            "name": STRING,
            "description": STRING,
            "action": STRING,
            "category": {"type": "string", "enum": [str(c) for c in RuleCategory]},
            "is_active": BOOL,
            "points_to_give": {
                "type": "integer",
                "description": "Base points (per unit of currency for purchase rules)",
            },
            "customer_facing_label": STRING,
            "call_to_action_url": NULLABLE_STRING,
            "approval_time_days": {"type": "integer", "description": "0: approved at once"},
            "action_key": {**NULLABLE_STRING, "description": "Custom actions: the key to send"},
            "repeatable": {"type": "boolean", "description": "Custom actions: more than once"},
            "limit_count": {**NULLABLE_INT, "description": "Repeatable: the cap per period"},
            "limit_period_days": {**NULLABLE_INT, "description": "The cap's rolling period"},
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "EarningRule": _resource("earning_rule", "EarningRuleAttributes", id_description="rule_…"),
    "EarningHistoryEntryAttributes": _object(
        {
            "earning_rule_id": NULLABLE_STRING,
            "action": STRING,
            "points": INT,
            "base_points": INT,
            "points_multiplier": NUMBER,
            "status": STATUS,
            "points_given_at": NULLABLE_TIME,
            "points_due_at": NULLABLE_TIME,
            "points_expiry_at": NULLABLE_TIME,
            "order_id": NULLABLE_STRING,
            "order_number": NULLABLE_STRING,
            "shopify_date": NULLABLE_TIME,
            "manual_intervention": BOOL,
            "note": NULLABLE_STRING,
            "points_remaining": {"type": "integer", "description": "Of this lot, still unspent"},
            "metadata": _nullable({"type": "object"}),
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "EarningHistoryEntry": _resource(
        "earning_history_entry", "EarningHistoryEntryAttributes", id_description="cer_…"
    ),
    "AwardedEntryAttributes": _object(
        {
            "earning_rule_id": STRING,
            "action": STRING,
            "points": INT,
            "base_points": INT,
            "points_multiplier": NUMBER,
            "status": STATUS,
            "points_given_at": NULLABLE_TIME,
            "points_due_at": NULLABLE_TIME,
            "points_expiry_at": NULLABLE_TIME,
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "AwardedEntry": _resource(
        "earning_history_entry", "AwardedEntryAttributes", id_description="cer_…"
    ),
    "CustomActionAwardAttributes": _object(
        {
            "earning_rule_id": STRING,
            "action": {"type": "string", "const": "custom"},
            "action_key": STRING,
            "result": {"type": "string", "enum": ["awarded", "pending"]},
            "shopify_customer_id": STRING,
            "points": INT,
            "base_points": INT,
            "points_multiplier": NUMBER,
            "status": STATUS,
            "points_balance": {"type": "integer", "description": "Spendable balance after it"},
            "idempotency_key": NULLABLE_STRING,
            "replayed": {"type": "boolean", "description": "true: the response of a repeat"},
            "metadata": _nullable({"type": "object"}),
            "points_given_at": NULLABLE_TIME,
            "points_due_at": NULLABLE_TIME,
            "points_expiry_at": NULLABLE_TIME,
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "CustomActionAward": _resource(
        "earning_history_entry", "CustomActionAwardAttributes", id_description="cer_…"
    ),
    "PointsAdjustmentAttributes": _object(
        {
            "shopify_customer_id": STRING,
            "adjustment": {"type": "integer", "description": "As requested"},
            "points_before": INT,
            "points_after": INT,
            "current_points": INT,
            "note": NULLABLE_STRING,
            "applied_adjustment": {
                "type": "integer",
                "description": "What moved the balance (a debit stops at zero)",
            },
            "lifetime_points": INT,
            "earning_history_entry_id": STRING,
            "created_at": TIME,
        }
    ),
    "PointsAdjustment": _resource(
        "points_adjustment", "PointsAdjustmentAttributes", id_description="Shopify customer ID"
    ),
    "CustomerBirthday": _resource(
        "customer_birthday", "CustomerBirthdayAttributes", id_description="Shopify customer ID"
    ),
    "CustomerBirthdayAttributes": _object(
        {"shopify_customer_id": STRING, "email": NULLABLE_STRING, "date_of_birth": NULLABLE_TIME}
    ),
    "CustomerAnniversary": _resource(
        "customer_anniversary", "CustomerAnniversaryAttributes", id_description="Shopify ID"
    ),
    "CustomerAnniversaryAttributes": _object(
        {
            "shopify_customer_id": STRING,
            "email": NULLABLE_STRING,
            "anniversary_date": NULLABLE_TIME,
        }
    ),
    "PageMeta": _object({"total": INT, "page": INT, "per_page": INT, "total_pages": INT}),
    "CountMeta": _object({"total": INT}),
    "Error": _object(
        {
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    {
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
                    optional=("source", "meta"),
                ),
            }
        }
    ),
}

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
    403: "A read-only key used for a write, or the customer is excluded from the programme",
    404: "Not found for this shop",
    409: "Conflict: already awarded, limit reached, or an idempotency key reused",
    413: "The body is larger than 64 KB",
    415: "The body is not JSON",
    422: "Well-formed but impossible (see `code`)",
    429: "Rate limit exceeded: retry after `Retry-After` seconds",
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
        "content": {"application/json": {"schema": _ref("Error")}},
    }


def _ok(description: str, schema: Schema, media_type: str = "application/json") -> Schema:
    return {
        "description": description,
        "headers": dict(RATE_HEADERS),
        "content": {media_type: {"schema": schema}},
    }


def _replayed(response: Schema) -> Schema:
    """A replayed idempotent response also says so in a header (as Stripe's API does)."""
    response["headers"]["Idempotent-Replayed"] = {
        "description": "Always `true`: this is the stored response of an earlier request",
        "required": True,
        "schema": {"type": "string", "const": "true"},
    }
    return response


def _path_param(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^/]+$"},
    }


IDENTIFIER = _path_param("identifier", "The customer's Shopify customer ID or email address")


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _paging(sorts: dict[str, str]) -> list[Schema]:
    orders = [order for name in sorted(sorts) for order in (name, f"-{name}")]
    return [
        _query(
            "page[number]",
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER, "default": 1},
            "Page, from 1; past the last page the data is empty",
        ),
        _query(
            "page[size]",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE_SIZE,
                "default": DEFAULT_PAGE_SIZE,
            },
            "Items per page",
        ),
        _query(
            "sort",
            {"type": "string", "enum": orders, "default": "-created_at"},
            "Sort field; `-` for descending",
        ),
    ]


def _body(model: type[BaseModel] | Schema, description: str = "") -> Schema:
    schema = _ref(model.__name__ + "Request") if isinstance(model, type) else model
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _operation(
    operation_id: str,
    tag: str,
    summary: str,
    ok: dict[int, Schema],
    errors: tuple[int, ...],
    *,
    description: str = "",
    parameters: list[Schema] | None = None,
    body: Schema | None = None,
    public: bool = False,
) -> Schema:
    operation: Schema = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "parameters": parameters or [],
        "responses": {
            **{str(status): response for status, response in ok.items()},
            **{str(status): _error_response(status) for status in (*errors, 429)},
        },
    }
    if body is not None:
        operation["requestBody"] = body
    if public:
        operation["security"] = []
    return operation


READ = (401,)
WRITE = (400, 401, 403, 413, 415)


def _paths() -> dict[str, Schema]:
    customer_one = _ok("The customer", _one("Customer"))
    return {
        "/customers": {
            "get": _operation(
                "listCustomers",
                "Customers",
                "List the programme's customers",
                {200: _ok("A page of customers", _many("Customer"))},
                (400, *READ),
                parameters=[
                    *_paging(CUSTOMER_SORTS),
                    _query(
                        "filter[email]",
                        {"type": "string", "maxLength": 255},
                        "Part of the email, case-insensitive",
                    ),
                    _query(
                        "filter[loyalty_status]",
                        {"type": "string", "enum": ["member", "excluded"]},
                        "Members or excluded customers",
                    ),
                ],
            ),
            "post": _operation(
                "enrollCustomer",
                "Customers",
                "Enroll a Shopify customer",
                {
                    201: _ok("Enrolled", _one("Customer")),
                    200: _ok("Already a member", _one("Customer")),
                },
                WRITE,
                description=(
                    "Creates the member with zero balances on the entry tier. Name and email "
                    "are optional; Shopify's customer webhooks keep them up to date."
                ),
                body=_body(bodies.EnrollCustomer),
            ),
        },
        "/customers/{identifier}": {
            "parameters": [IDENTIFIER],
            "get": _operation(
                "getCustomer",
                "Customers",
                "Fetch one customer",
                {200: customer_one},
                (400, *READ, 404),
                parameters=[
                    _query("exclude_vip", {"type": "boolean"}, "true: `vip_tier` is null"),
                ],
            ),
            "put": _operation(
                "updateCustomer",
                "Customers",
                "Update a customer's editable fields",
                {200: customer_one},
                (*WRITE, 404),
                description=(
                    'Send only the fields to change, flat or as `{"data": {"attributes": '
                    "…}}`. `is_excluded` excludes the customer from the programme or includes "
                    "them again; dates take `YYYY-MM-DD` (or a timestamp) or null to clear."
                ),
                body=_body(
                    {
                        "anyOf": [
                            _ref("UpdateCustomerRequest"),
                            _object(
                                {"data": _object({"attributes": _ref("UpdateCustomerRequest")})}
                            ),
                        ]
                    }
                ),
            ),
        },
        "/customers/{identifier}/birthday": {
            "parameters": [IDENTIFIER],
            "get": _operation(
                "getCustomerBirthday",
                "Customers",
                "A customer's date of birth",
                {200: _ok("The date of birth", _one("CustomerBirthday"))},
                (400, *READ, 404),
            ),
        },
        "/customers/{identifier}/anniversary": {
            "parameters": [IDENTIFIER],
            "get": _operation(
                "getCustomerAnniversary",
                "Customers",
                "A customer's loyalty anniversary",
                {200: _ok("The anniversary date", _one("CustomerAnniversary"))},
                (400, *READ, 404),
            ),
        },
        "/customers/{identifier}/points": {
            "parameters": [IDENTIFIER],
            "post": _operation(
                "adjustPoints",
                "Points",
                "Adjust a customer's points by hand",
                {200: _ok("The adjustment", _one("PointsAdjustment"))},
                (*WRITE, 404, 422),
                description=(
                    "Adds (positive) or takes away (negative) points, recorded in the ledger "
                    "with this API key as the actor. The balance never goes below zero: a "
                    "larger debit takes the whole balance (`applied_adjustment`). Lifetime "
                    "points follow unless `update_lifetime_points` is false, and the VIP tier "
                    "is recalculated. Excluded customers: 403 `customer_excluded`; a balance "
                    "past 2^31-1: 422 `balance_limit`."
                ),
                body=_body(bodies.PointsAdjustment),
            ),
        },
        "/customers/{identifier}/earning-history": {
            "parameters": [IDENTIFIER],
            "get": _operation(
                "listEarningHistory",
                "Points",
                "A customer's points ledger",
                {200: _ok("A page of entries", _many("EarningHistoryEntry"))},
                (400, *READ, 404),
                parameters=[
                    *_paging(HISTORY_SORTS),
                    _query("filter[status]", STATUS, "Entries with this status"),
                ],
            ),
        },
        "/earning-rules": {
            "get": _operation(
                "listEarningRules",
                "Earning rules",
                "List the shop's earning rules",
                {200: _ok("A page of rules", _many("EarningRule"))},
                (400, *READ),
                parameters=[
                    *_paging(RULE_SORTS),
                    _query("filter[is_active]", {"type": "boolean"}, "Active or inactive rules"),
                    _query(
                        "filter[category]",
                        {"type": "string", "enum": [str(c) for c in RuleCategory]},
                        "Rules of one category",
                    ),
                ],
            ),
        },
        "/earning-rules/{rule_id}": {
            "parameters": [_path_param("rule_id", "The rule's id (`rule_…`)")],
            "get": _operation(
                "getEarningRule",
                "Earning rules",
                "Fetch one earning rule",
                {200: _ok("The rule", _one("EarningRule"))},
                (400, *READ, 404),
            ),
        },
        "/earning-rules/{rule_id}/award": {
            "parameters": [_path_param("rule_id", "The rule's id (`rule_…`)")],
            "post": _operation(
                "awardEarningRule",
                "Earning rules",
                "Award a social or engagement rule to a customer",
                {201: _ok("Awarded", _one("AwardedEntry"))},
                (*WRITE, 404, 409, 422),
                description=(
                    "Once per customer and rule (a repeat is 409 `already_awarded`). Points = "
                    "the rule's points × the customer's tier multiplier; `pending` when the "
                    "rule has an approval time. Only `social` and `engagement` rules (422). "
                    "Points that would take a balance past 2^31-1: 422 `balance_limit`."
                ),
                body=_body(_ref("AwardRequest")),
            ),
        },
        "/actions": {
            "post": _operation(
                "awardCustomAction",
                "Earning rules",
                "Award a custom action",
                {
                    201: _ok("Awarded (`result`: awarded or pending)", _one("CustomActionAward")),
                    200: _replayed(
                        _ok("A replay of an earlier response", _one("CustomActionAward"))
                    ),
                },
                (*WRITE, 404, 409, 422),
                description=(
                    "For a `custom` rule the merchant set up, by its `action_key`. Once per "
                    "customer (409 `already_awarded`) or repeatable, optionally at most "
                    "`limit_count` times per rolling `limit_period_days` (409 `limit_reached`, "
                    "with `meta.next_available_at`); points that would take a balance past "
                    "2^31-1 are 422 `balance_limit`. Send an `Idempotency-Key` to retry "
                    "safely: a repeat returns the same response with `replayed: true`; "
                    "concurrent requests with one key award once (the others wait for the "
                    "first and get its response)."
                ),
                parameters=[
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Makes retries safe (e.g. a UUID); 1-255 printable ASCII",
                        "schema": {"type": "string", "pattern": bodies.IDEMPOTENCY_KEY_PATTERN},
                    }
                ],
                body=_body(bodies.CustomAction),
            ),
        },
        "/vip-tiers": {
            "get": _operation(
                "listVipTiers",
                "VIP tiers",
                "List every VIP tier, lowest threshold first (not paginated)",
                {200: _ok("Every tier", _many("VipTier", "CountMeta"))},
                READ,
            ),
        },
        "/vip-tiers/{tier_id}": {
            "parameters": [_path_param("tier_id", "The tier's id (`tier_…`)")],
            "get": _operation(
                "getVipTier",
                "VIP tiers",
                "Fetch one VIP tier",
                {200: _ok("The tier", _one("VipTier"))},
                (400, *READ, 404),
            ),
        },
        "/openapi.json": {
            "get": _operation(
                "getOpenApiDocument",
                "Contract",
                "This document (no key needed)",
                {200: _ok("OpenAPI 3.1", {"type": "object"})},
                (),
                public=True,
            ),
        },
        "/docs": {
            "get": _operation(
                "getApiDocs",
                "Contract",
                "This document as a web page (no key needed)",
                {200: _ok("HTML", {"type": "string"}, "text/html")},
                (),
                public=True,
            ),
        },
    }


def _request_schemas() -> dict[str, Schema]:
    from web.routes.public_api import AwardBody

    schemas: dict[str, Schema] = {}
    for model in (
        bodies.EnrollCustomer,
        bodies.UpdateCustomer,
        bodies.PointsAdjustment,
        bodies.CustomAction,
    ):
        schemas[model.__name__ + "Request"] = model.model_json_schema(ref_template=REF + "{model}")
    schemas["AwardRequest"] = AwardBody.model_json_schema(ref_template=REF + "{model}")
    adjustment = schemas["PointsAdjustmentRequest"]["properties"]["adjustment"]
    adjustment["not"] = {"const": 0}
    action = schemas["CustomActionRequest"]
    action["anyOf"] = [
        {"required": ["customer_id"], "properties": {"customer_id": {"not": {"type": "null"}}}},
        {
            "required": ["customer_email"],
            "properties": {"customer_email": {"not": {"type": "null"}}},
        },
    ]
    return schemas


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Loyalty public API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "security": [{"ApiKey": []}],
        "tags": [
            {"name": "Customers"},
            {"name": "Points"},
            {"name": "Earning rules"},
            {"name": "VIP tiers"},
            {"name": "Contract"},
        ],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "ApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "The API key, as is or as `Bearer <key>`",
                }
            },
            "schemas": {**RESOURCE_SCHEMAS, **_request_schemas()},
        },
    }


@cache
def document_json() -> bytes:
    return json.dumps(document(), separators=(",", ":")).encode()


@cache
def docs_html() -> str:
    from web.api_docs import render_page

    return render_page(document())
