"""Webhook bodies (Shopify's REST resources) validated into what the handlers need.

Unknown fields are ignored. Money arrives as decimal strings and becomes `Decimal`, never a
float. Ids are JSON integers, read exactly (Python's `json` does not go through a float); the
docs' example payloads, generated in JavaScript, lost the digits past 2**53 (`"id":
706405506930370000` beside `admin_graphql_api_id` …370084). Real deliveries carry exact ids, and
`id` is what every topic links by (a refund's `order_id` has no gid beside it), so `id` it is.
A body that lacks what its handler needs raises `InvalidPayloadError`: the processor records it
on the event and does not retry it (a redelivery carries the same body).
https://shopify.dev/docs/apps/build/webhooks/delivery-structure
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from loyalty.customers.mirror import CustomerRecord
from loyalty.webhooks.topics import Topic


class InvalidPayloadError(Exception):
    """The webhook body does not have the shape its topic promises."""


M = TypeVar("M", bound="Payload")

ShopifyId = Annotated[int, Field(gt=0, lt=2**63)]
Money = Annotated[Decimal, Field(allow_inf_nan=False)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def parse(model: type[M], payload: dict[str, Any]) -> M:
    """`payload` as `model`; raises InvalidPayloadError naming the first bad field."""
    try:
        return model.model_validate(payload)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "body"
        raise InvalidPayloadError(f"invalid {model.__name__}: {field}: {error['msg']}") from None


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # Shopify always sends an offset; be safe if it does not


def check_shop(named: str | None, domain: str) -> None:
    """The HMAC signs the body, not the headers: a body that names its shop must name the shop
    the delivery was stored for, or a captured body replayed under another shop's header could
    act on that shop (shop/redact deletes it)."""
    if named and named.strip().lower() != domain:
        raise InvalidPayloadError(f"the body is for {named!r}, not {domain!r}")


class ShopMoney(Payload):
    amount: Money


class MoneySet(Payload):
    shop_money: ShopMoney


class CustomerPayload(Payload):
    """The REST Customer resource (also an order's `customer`). Fields Shopify withholds without
    protected-customer-data approval arrive as null. `tags` is not read: gone since 2025-01, and
    from an older API version ignored (see loyalty.customers.mirror); tags come from the tag
    events (`CustomerTagsPayload`)."""

    id: ShopifyId
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def record(self) -> CustomerRecord:
        return CustomerRecord(
            shopify_customer_id=self.id,
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            created_at=_aware(self.created_at),
            updated_at=_aware(self.updated_at),
        )


_CUSTOMER_GID = "gid://shopify/Customer/"


class CustomerTagsPayload(Payload):
    """customer.tags_added / customer.tags_removed: `{"customerId": "gid://shopify/Customer/1",
    "tags": ["tag1", "tag2"], "occurredAt": "2005-05-05T05:00:00.000Z"}`: the tags added or
    removed by one change, not the customer's whole list."""

    customer_id: ShopifyId = Field(alias="customerId")
    tags: list[str]
    occurred_at: datetime | None = Field(default=None, alias="occurredAt")

    @field_validator("customer_id", mode="before")
    @classmethod
    def _from_gid(cls, value: Any) -> Any:
        if not isinstance(value, str) or not value.startswith(_CUSTOMER_GID):
            raise ValueError(f"expected a {_CUSTOMER_GID}<id> global id")
        number = value.removeprefix(_CUSTOMER_GID)
        if not number.isascii() or not number.isdigit():
            raise ValueError(f"expected a {_CUSTOMER_GID}<id> global id")
        return int(number)

    def when(self) -> datetime | None:
        return _aware(self.occurred_at)


class OrderPayload(Payload):
    """The REST Order resource (orders/paid, orders/cancelled)."""

    id: ShopifyId
    name: str | None = None  # "#1001"
    order_number: int | None = None
    email: str | None = None
    contact_email: str | None = None
    customer: CustomerPayload | None = None  # null for guest checkouts
    subtotal_price: Money | None = None
    subtotal_price_set: MoneySet | None = None
    cancelled_at: datetime | None = None

    def subtotal(self) -> Decimal:
        """The subtotal after discounts in the shop's currency (`subtotal_price_set.shop_money`
        when present: `subtotal_price` is in the presentment currency on multi-currency shops)."""
        if self.subtotal_price_set is not None:
            return self.subtotal_price_set.shop_money.amount
        if self.subtotal_price is not None:
            return self.subtotal_price
        raise InvalidPayloadError("invalid OrderPayload: subtotal_price: Field required")

    def number(self) -> str | None:
        if self.name:
            return self.name[:32]
        return None if self.order_number is None else str(self.order_number)


class RefundLineItemPayload(Payload):
    subtotal: Money | None = None
    subtotal_set: MoneySet | None = None

    def amount(self) -> Decimal:
        if self.subtotal_set is not None:
            return self.subtotal_set.shop_money.amount
        return self.subtotal or Decimal(0)


class RefundPayload(Payload):
    """The REST Refund resource (refunds/create)."""

    id: ShopifyId
    order_id: ShopifyId
    refund_line_items: list[RefundLineItemPayload] = []

    def refunded_subtotal(self) -> Decimal:
        """What the refunded lines were worth; shipping and order adjustments earn no points,
        so they take none back."""
        return sum((line.amount() for line in self.refund_line_items), Decimal(0))


class ShopPayload(Payload):
    """The REST Shop resource (app/uninstalled)."""

    myshopify_domain: str | None = None


class ScopesUpdatePayload(Payload):
    """app/scopes_update: `{"id", "previous": [...], "current": [...], "updated_at"}`."""

    current: list[str]

    @field_validator("current", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return (
            [part.strip() for part in value.split(",") if part.strip()]
            if isinstance(value, str)
            else value
        )


class ComplianceCustomer(Payload):
    id: ShopifyId | None = None
    email: str | None = None


class DataRequestRef(Payload):
    id: ShopifyId | None = None


class CompliancePayload(Payload):
    shop_domain: str | None = None


class ShopRedactPayload(CompliancePayload):
    pass


class CustomerDataRequestPayload(CompliancePayload):
    customer: ComplianceCustomer
    orders_requested: list[int] = []
    data_request: DataRequestRef | None = None


class CustomerRedactPayload(CompliancePayload):
    customer: ComplianceCustomer
    orders_to_redact: list[int] = []


# The class each topic's body is parsed with (its handler parses with the same one).
PAYLOAD_BY_TOPIC: dict[Topic, type[Payload]] = {
    Topic.APP_UNINSTALLED: ShopPayload,
    Topic.APP_SCOPES_UPDATE: ScopesUpdatePayload,
    Topic.CUSTOMERS_CREATE: CustomerPayload,
    Topic.CUSTOMERS_UPDATE: CustomerPayload,
    Topic.CUSTOMER_TAGS_ADDED: CustomerTagsPayload,
    Topic.CUSTOMER_TAGS_REMOVED: CustomerTagsPayload,
    Topic.ORDERS_PAID: OrderPayload,
    Topic.ORDERS_CANCELLED: OrderPayload,
    Topic.REFUNDS_CREATE: RefundPayload,
    Topic.CUSTOMERS_DATA_REQUEST: CustomerDataRequestPayload,
    Topic.CUSTOMERS_REDACT: CustomerRedactPayload,
    Topic.SHOP_REDACT: ShopRedactPayload,
}
