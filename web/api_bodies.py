"""The public API's request bodies as pydantic models (400 with a pointer when one does not
fit; see web.parsing.parse_body). Their JSON Schemas are also the OpenAPI document's request
bodies (web.openapi), so what is documented is what is accepted. Unknown fields are ignored.
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
    WithJsonSchema,
)

from loyalty.customers.identifiers import MAX_BIGINT, parse_shopify_id
from loyalty.earning import adjustments, custom_actions
from loyalty.earning.idempotency import MAX_KEY_LENGTH

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
IDEMPOTENCY_KEY_PATTERN = rf"^[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}$"


def valid_idempotency_key(value: str) -> bool:
    """1 to 255 printable ASCII characters, no spaces (a UUID is the usual choice)."""
    return re.fullmatch(IDEMPOTENCY_KEY_PATTERN, value) is not None


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


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class EnrollCustomer(Body):
    """POST /customers. Name and email are a first draft until Shopify's webhooks arrive."""

    shopify_customer_id: ShopifyCustomerId
    email: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None


class UpdateCustomer(Body):
    """PUT /customers/{identifier}: only the fields sent change (flat, or JSON:API
    `{"data": {"attributes": {…}}}`)."""

    # Absent: unchanged (a null is refused: only the dates can be cleared).
    is_excluded: StrictBool = Field(default=None)
    date_of_birth: CalendarDate = None
    anniversary_date: CalendarDate = None


UPDATE_CUSTOMER_NULLABLE = frozenset({"date_of_birth", "anniversary_date"})


class PointsAdjustment(Body):
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


class CustomAction(Body):
    """POST /actions. `customer_id` or `customer_email` (with both, `customer_id` is used)."""

    action_key: Annotated[StrictStr, Field(pattern=custom_actions.ACTION_KEY_PATTERN)]
    customer_id: ShopifyCustomerId | None = None
    customer_email: Annotated[StrictStr, Field(min_length=3, max_length=255)] | None = None
    idempotency_key: Annotated[StrictStr, Field(pattern=IDEMPOTENCY_KEY_PATTERN)] | None = None
    metadata: dict[str, Any] | None = None
