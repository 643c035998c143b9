"""The public API's request bodies as pydantic models (400 with a pointer when one does not
fit; see web.http.validation.parse_body). Their JSON Schemas are the OpenAPI document's request
bodies (web.public_api.openapi), so what is documented is what is accepted. Every rule about a
body lives here once, both enforced and documented ("adjustment is not 0", "customer_id or
customer_email"). Unknown fields are ignored.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from loyalty.customers.identifiers import MAX_BIGINT, MAX_IDENTIFIER_LENGTH, parse_shopify_id
from loyalty.earning import adjustments, custom_actions
from loyalty.earning.idempotency import MAX_KEY_LENGTH
from loyalty.rewards.catalogue import MAX_POINTS as MAX_REWARD_POINTS
from web.errors import RequestError
from web.http.validation import field_error
from web.public_api.spec import Param

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
IDEMPOTENCY_KEY_PATTERN = rf"^[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}$"
IDEMPOTENCY_KEY_HEADER = Param(  # the writes that take one: /actions, reward purchases
    "Idempotency-Key",
    {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
    "Makes retries safe (e.g. a UUID); 1-255 printable ASCII",
    where="header",
)


def valid_idempotency_key(value: str) -> bool:
    """1 to 255 printable ASCII characters, no spaces (a UUID is the usual choice)."""
    return re.fullmatch(IDEMPOTENCY_KEY_PATTERN, value) is not None


def idempotency_key(header: str | None, field: str | None) -> str | None:
    """The `Idempotency-Key` header, or the body's `idempotency_key` field; both must agree."""
    if header is None:
        return field
    header = header.strip()
    if not valid_idempotency_key(header):
        raise RequestError(
            400,
            "invalid_header",
            "Invalid header",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        )
    if field is not None and field != header:
        raise RequestError(
            400,
            "idempotency_key_mismatch",
            "Invalid idempotency key",
            "The Idempotency-Key header and the idempotency_key field differ",
            pointer="/idempotency_key",
        )
    return header


def _shopify_id(value: Any) -> int:
    # A JSON number, or the id as a string (REST ids as text, or a GraphQL gid).
    if isinstance(value, bool):
        raise ValueError("must be a Shopify customer ID")
    if isinstance(value, str):
        value = parse_shopify_id(value)  # the one rule: ASCII digits, or the gid form
    if not isinstance(value, int) or not 1 <= value <= MAX_BIGINT:
        raise ValueError("must be a Shopify customer ID")
    return value


def _calendar_date(value: Any) -> date | None:
    # "1990-05-17", or the seed's full timestamp form "1990-05-17T00:00:00.000Z".
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("must be an ISO 8601 date (YYYY-MM-DD) or timestamp")
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise ValueError("must be an ISO 8601 date (YYYY-MM-DD) or timestamp") from None


ShopifyCustomerId = Annotated[
    int,
    BeforeValidator(_shopify_id),
    WithJsonSchema(
        {
            "description": "Shopify customer ID, as a number or a numeric string",
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_BIGINT},
                {"type": "string", "pattern": r"^[0-9]{1,18}$"},
            ],
        }
    ),
]
CalendarDate = Annotated[
    date | None,
    BeforeValidator(_calendar_date),
    WithJsonSchema(
        {
            "description": "ISO 8601 date, or a full timestamp (its date is kept); null clears",
            "anyOf": [{"type": "string", "format": "date"}, {"type": "null"}],
        }
    ),
]
Text = Annotated[StrictStr, Field(max_length=255)]


def _required(name: str) -> dict[str, Any]:
    """Schema: `name` is sent and not null (one branch of an "a or b" rule)."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def _not_zero(schema: dict[str, Any], name: str) -> None:
    schema["properties"][name]["not"] = {"const": 0}


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class EnrollCustomerRequest(Body):
    """POST /customers. Name and email are a first draft until Shopify's webhooks arrive."""

    shopify_customer_id: ShopifyCustomerId
    email: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None


class UpdateCustomerRequest(Body):
    """PUT /customers/{identifier}: only the fields sent change (flat, or JSON:API
    `{"data": {"attributes": {…}}}`)."""

    # Absent: unchanged (a null is refused: only the dates can be cleared).
    is_excluded: StrictBool = Field(default=None)
    date_of_birth: CalendarDate = None
    anniversary_date: CalendarDate = None


class UpdateCustomerAttributes(BaseModel):
    attributes: UpdateCustomerRequest


UPDATE_CUSTOMER_NULLABLE = frozenset({"date_of_birth", "anniversary_date"})


class PointsAdjustmentRequest(Body):
    """POST /customers/{identifier}/points."""

    adjustment: Annotated[
        StrictInt,
        Field(
            ge=-adjustments.MAX_ADJUSTMENT,
            le=adjustments.MAX_ADJUSTMENT,
            description="Points to add (positive) or take away (negative); not 0",
        ),
    ]
    note: Annotated[StrictStr, Field(max_length=1000)] | None = None
    update_lifetime_points: StrictBool = True
    send_email: StrictBool = Field(
        default=True, description="Accepted for compatibility; this app sends no emails"
    )

    # The rule below, documented: the schema says what the validator refuses.
    model_config = ConfigDict(json_schema_extra=lambda schema: _not_zero(schema, "adjustment"))

    @field_validator("adjustment")
    @classmethod
    def _adjustment_is_not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value


class CustomActionRequest(Body):
    """POST /actions. `customer_id` or `customer_email` (with both, `customer_id` is used)."""

    action_key: Annotated[StrictStr, Field(pattern=custom_actions.ACTION_KEY_PATTERN)]
    customer_id: ShopifyCustomerId | None = None
    customer_email: Annotated[StrictStr, Field(min_length=3, max_length=255)] | None = None
    idempotency_key: Annotated[StrictStr, Field(pattern=IDEMPOTENCY_KEY_PATTERN)] | None = None
    metadata: dict[str, Any] | None = None

    # The rule below, documented: one of the two is sent, and not null.
    model_config = ConfigDict(
        json_schema_extra={"anyOf": [_required("customer_id"), _required("customer_email")]}
    )

    @model_validator(mode="after")
    def _names_a_customer(self) -> CustomActionRequest:
        if self.customer_id is None and self.customer_email is None:
            raise field_error("customer_id", "missing", "customer_id or customer_email is required")
        return self


class AwardRequest(BaseModel):
    """POST /earning-rules/{rule_id}/award."""

    model_config = ConfigDict(extra="ignore")

    customer_identifier: Annotated[
        str,
        StringConstraints(
            strict=True, strip_whitespace=True, min_length=1, max_length=MAX_IDENTIFIER_LENGTH
        ),
    ]


class PurchaseRequest(AwardRequest):
    """POST /rewards/{reward_id}/purchase. `points` only for a variable reward (between its
    `min_points` and `max_points`); a fixed reward costs its `points_cost`."""

    points: Annotated[StrictInt, Field(ge=1, le=MAX_REWARD_POINTS)] | None = None
    idempotency_key: Annotated[StrictStr, Field(pattern=IDEMPOTENCY_KEY_PATTERN)] | None = None


class UpdateCustomerEnvelope(BaseModel):
    """PUT /customers/{identifier} in the JSON:API form: `{"data": {"attributes": {…}}}`."""

    data: UpdateCustomerAttributes


def unwrap_update(data: dict[str, Any]) -> dict[str, Any]:
    """The attributes of an update sent in the JSON:API form; a flat body as it is."""
    wrapped = data.get("data")
    if isinstance(wrapped, dict) and isinstance(wrapped.get("attributes"), dict):
        return wrapped["attributes"]  # type: ignore[no-any-return]
    return data
