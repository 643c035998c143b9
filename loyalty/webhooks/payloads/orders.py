"""Order bodies: orders/paid, orders/cancelled (REST order resources) and refunds/create."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import model_validator

from loyalty.webhooks.payloads.base import (
    Money,
    MoneySet,
    Payload,
    ShopifyId,
    _check_gid,
    _marks_of_all_but,
)
from loyalty.webhooks.payloads.customers import CustomerPayload


class DiscountCodePayload(Payload):
    """One of an order's `discount_codes[]`: the code the buyer entered (Shopify's schema: code,
    amount and type, all strings)."""

    code: str
    amount: str | None = None
    type: str | None = None


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
    discount_codes: list[DiscountCodePayload] = []
    # Read by the referral fraud rules (same phone, same shipping address); null when Shopify
    # withholds protected customer data.
    phone: str | None = None
    shipping_address: dict[str, Any] | None = None

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
