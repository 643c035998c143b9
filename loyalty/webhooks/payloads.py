"""Webhook bodies (Shopify's REST resources and event payloads): one class per topic, stating
what that topic sends, validated into what the handlers need.

Shopify's HMAC signs the body, not `X-Shopify-Topic` or `X-Shopify-Shop-Domain`, so an authentic
body can come back under another topic or shop. Each topic's class therefore requires what only
that topic's body carries (a cancellation's `cancelled_at`, a redaction's `orders_to_redact`,
the uninstalled shop's own `myshopify_domain` …) and refuses keys only other topics send; a body
that names its shop must name the delivery's. Judged against Shopify's 2026-07 example bodies
(standins/webhook_examples.py) and the topics' reference on shopify.dev.

Unknown fields are otherwise ignored. Money arrives as decimal strings and becomes `Decimal`,
never a float. Ids are JSON integers, read exactly (Python's `json` does not go through a
float); the docs' example payloads, generated in JavaScript, lost the digits past 2**53 (`"id":
706405506930370000` beside `admin_graphql_api_id` …370084). Real deliveries carry exact ids, and
`id` is what every topic links by (a refund's `order_id` has no gid beside it), so `id` it is.
A body that is not its topic's raises `NotTopicBodyError`: the processor records it on the event
and does not retry it (a redelivery carries the same body).
https://shopify.dev/docs/apps/build/webhooks/delivery-structure
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from loyalty.customers.mirror import CustomerRecord
from loyalty.webhooks.payload_base import (
    InvalidPayloadError,
    Money,
    MoneySet,
    NotTopicBodyError,
    Payload,
    ShopifyId,
    _aware,
    _check_gid,
    _gid_number,
    _marks_of_all_but,
    _named_shop,
    _reason,
    _shop_id,
)
from loyalty.webhooks.topics import Topic


def parse_body(
    topic: str, payload: dict[str, Any], *, domain: str, shopify_shop_id: int | None
) -> Payload:
    """The body as its topic's class, about the delivery's shop (`domain`, and Shopify's id of
    it when known) if it names one. Raises NotTopicBodyError saying why it is not."""
    model = PAYLOAD_BY_TOPIC.get(topic)
    if model is None:
        raise InvalidPayloadError(f"no handler for topic {topic!r}")
    try:
        body = model.model_validate(payload)
    except PydanticValidationError as exc:
        raise NotTopicBodyError(topic, _reason(exc)) from None
    if reason := body.other_shop(domain=domain, shopify_shop_id=shopify_shop_id):
        raise NotTopicBodyError(topic, reason)
    return body


class CustomerPayload(Payload):
    """The REST Customer resource as an order embeds it (`customer`). Fields Shopify withholds
    without protected-customer-data approval arrive as null. `tags` is not read: gone since
    2025-01, and from an older API version ignored (see loyalty.customers.mirror); tags come
    from the tag events (`CustomerTagsPayload`)."""

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


class CustomerCreatePayload(CustomerPayload):
    """customers/create: a whole REST Customer. Its personal fields are always present (null
    when withheld), with its times and a Customer gid of the same id."""

    other_topics_keys = _marks_of_all_but(None)

    email: str | None
    first_name: str | None
    last_name: str | None
    created_at: datetime
    updated_at: datetime
    admin_graphql_api_id: str | None = None

    @model_validator(mode="after")
    def _one_customer(self) -> CustomerCreatePayload:
        _check_gid("Customer", self.id, self.admin_graphql_api_id)
        return self


class CustomerUpdatePayload(CustomerCreatePayload):
    """customers/update: the same REST Customer (Shopify may send create and update with the
    very same bytes, which is why a body is handled once whatever its topic)."""


class CustomerTagsPayload(Payload):
    """A tag event: `{"customerId": "gid://shopify/Customer/1", "tags": ["tag1", "tag2"],
    "occurredAt": "2005-05-05T05:00:00.000Z"}`: the tags added or removed by one change, not
    the customer's whole list. `occurredAt` is required: it is the only signed time that
    orders the events (X-Shopify-Triggered-At is an unsigned header)."""

    other_topics_keys = _marks_of_all_but("tags")

    customer_id: ShopifyId = Field(alias="customerId")
    tags: list[str]
    occurred_at: datetime = Field(alias="occurredAt")

    @field_validator("customer_id", mode="before")
    @classmethod
    def _from_gid(cls, value: Any) -> Any:
        return _gid_number(value, "Customer")

    def when(self) -> datetime:
        return _aware(self.occurred_at) or self.occurred_at


class CustomerTagsAddedPayload(CustomerTagsPayload):
    """customer.tags_added. Its body has the very shape of a removal: nothing in it says which
    it is, so only handling each body once (whatever its topic) keeps one from being replayed
    as the other."""


class CustomerTagsRemovedPayload(CustomerTagsPayload):
    """customer.tags_removed (see CustomerTagsAddedPayload)."""


class OrderPayload(Payload):
    """The REST Order resource: an order (`line_items`, a `financial_status`, an Order gid of
    its id, a subtotal), not a refund."""

    other_topics_keys = _marks_of_all_but("order")

    id: ShopifyId
    admin_graphql_api_id: str | None = None
    name: str | None = None  # "#1001"
    order_number: int | None = None
    email: str | None = None
    contact_email: str | None = None
    customer: CustomerPayload | None = None  # null for guest checkouts
    financial_status: str
    line_items: list[Any]
    subtotal_price: Money | None = None
    subtotal_price_set: MoneySet | None = None
    cancelled_at: datetime | None = None

    @model_validator(mode="after")
    def _one_order(self) -> OrderPayload:
        _check_gid("Order", self.id, self.admin_graphql_api_id)
        if self.subtotal_price is None and self.subtotal_price_set is None:
            raise ValueError("subtotal_price: Field required")
        return self

    def subtotal(self) -> Decimal:
        """The subtotal after discounts in the shop's currency (`subtotal_price_set.shop_money`
        when present: `subtotal_price` is in the presentment currency on multi-currency shops)."""
        if self.subtotal_price_set is not None:
            return self.subtotal_price_set.shop_money.amount
        assert self.subtotal_price is not None  # _one_order
        return self.subtotal_price

    def number(self) -> str | None:
        if self.name:
            return self.name[:32]
        return None if self.order_number is None else str(self.order_number)


class OrderPaidPayload(OrderPayload):
    """orders/paid: the order as it stands when Shopify serializes the event. That may already
    be cancelled (Shopify's own 2026-07 example is the very bytes of its orders/cancelled one:
    `cancelled_at` set, `financial_status` "voided"), so neither is refused here; a cancelled
    order earns nothing (loyalty.earning.purchases)."""


class OrderCancelledPayload(OrderPayload):
    """orders/cancelled: an order with its `cancelled_at`."""

    cancelled_at: datetime


class RefundLineItemPayload(Payload):
    subtotal: Money | None = None
    subtotal_set: MoneySet | None = None

    def amount(self) -> Decimal:
        if self.subtotal_set is not None:
            return self.subtotal_set.shop_money.amount
        return self.subtotal or Decimal(0)


class RefundPayload(Payload):
    """refunds/create: the REST Refund resource, `order_id`, `refund_line_items` and
    `transactions`; not an order."""

    other_topics_keys = _marks_of_all_but("refund")

    id: ShopifyId
    admin_graphql_api_id: str | None = None
    order_id: ShopifyId
    refund_line_items: list[RefundLineItemPayload]
    transactions: list[Any]

    @model_validator(mode="after")
    def _one_refund(self) -> RefundPayload:
        _check_gid("Refund", self.id, self.admin_graphql_api_id)
        return self

    def refunded_subtotal(self) -> Decimal:
        """What the refunded lines were worth; shipping and order adjustments earn no points,
        so they take none back."""
        return sum((line.amount() for line in self.refund_line_items), Decimal(0))


class AppUninstalledPayload(Payload):
    """app/uninstalled: the REST Shop resource of the shop that uninstalled: its `id`, `name`
    and `myshopify_domain` (never null for a real shop: Shop.myshopifyDomain is `String!` in
    the Admin schema; the docs' example leaves it null), which must be the delivery's shop."""

    other_topics_keys = _marks_of_all_but("shop")

    id: ShopifyId
    name: str
    myshopify_domain: str
    domain: str | None = None

    def other_shop(self, *, domain: str, shopify_shop_id: int | None) -> str | None:
        return _named_shop(self.myshopify_domain, domain) or _shop_id(self.id, shopify_shop_id)


class ScopesUpdatePayload(Payload):
    """app/scopes_update: `{"id", "shop_id": "gid://shopify/Shop/…", "previous": [...],
    "current": [...], "updated_at"}`."""

    other_topics_keys = _marks_of_all_but("scopes")

    shop_id: str | None = None
    previous: list[str]
    current: list[str]
    updated_at: datetime

    @field_validator("previous", "current", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return (
            [part.strip() for part in value.split(",") if part.strip()]
            if isinstance(value, str)
            else value
        )

    @field_validator("shop_id")
    @classmethod
    def _shop_gid(cls, value: str | None) -> str | None:
        if value is not None:
            _gid_number(value, "Shop")
        return value

    def other_shop(self, *, domain: str, shopify_shop_id: int | None) -> str | None:
        if self.shop_id is None:
            return None
        return _shop_id(_gid_number(self.shop_id, "Shop"), shopify_shop_id)


class ComplianceCustomer(Payload):
    id: ShopifyId | None = None
    email: str | None = None

    @model_validator(mode="after")
    def _names_someone(self) -> ComplianceCustomer:
        if self.id is None and not (self.email and self.email.strip()):
            raise ValueError("names no customer (neither id nor email)")
        return self


class DataRequestRef(Payload):
    id: ShopifyId


class CompliancePayload(Payload):
    """The mandatory compliance topics name their shop: `shop_id` and `shop_domain`."""

    shop_id: ShopifyId
    shop_domain: str

    def other_shop(self, *, domain: str, shopify_shop_id: int | None) -> str | None:
        return _named_shop(self.shop_domain, domain) or _shop_id(self.shop_id, shopify_shop_id)


class ShopRedactPayload(CompliancePayload):
    """shop/redact: exactly `{"shop_id", "shop_domain"}`, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerDataRequestPayload(CompliancePayload):
    """customers/data_request: the customer, `orders_requested` and the `data_request` id."""

    other_topics_keys = _marks_of_all_but("compliance") | {"orders_to_redact"}

    customer: ComplianceCustomer
    orders_requested: list[int]
    data_request: DataRequestRef


class CustomerRedactPayload(CompliancePayload):
    """customers/redact: the customer and `orders_to_redact`; no data request."""

    other_topics_keys = _marks_of_all_but("compliance") | {"data_request", "orders_requested"}

    customer: ComplianceCustomer
    orders_to_redact: list[int]


# The class each topic's body must be (the processor parses with it, before the handler).
PAYLOAD_BY_TOPIC: dict[str, type[Payload]] = {
    Topic.APP_UNINSTALLED: AppUninstalledPayload,
    Topic.APP_SCOPES_UPDATE: ScopesUpdatePayload,
    Topic.CUSTOMERS_CREATE: CustomerCreatePayload,
    Topic.CUSTOMERS_UPDATE: CustomerUpdatePayload,
    Topic.CUSTOMER_TAGS_ADDED: CustomerTagsAddedPayload,
    Topic.CUSTOMER_TAGS_REMOVED: CustomerTagsRemovedPayload,
    Topic.ORDERS_PAID: OrderPaidPayload,
    Topic.ORDERS_CANCELLED: OrderCancelledPayload,
    Topic.REFUNDS_CREATE: RefundPayload,
    Topic.CUSTOMERS_DATA_REQUEST: CustomerDataRequestPayload,
    Topic.CUSTOMERS_REDACT: CustomerRedactPayload,
    Topic.SHOP_REDACT: ShopRedactPayload,
}
