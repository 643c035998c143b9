"""Shopify webhook deliveries for tests: bodies signed exactly as Shopify signs them (base64 of
HMAC-SHA256 over the raw body, keyed with the app's client secret), payloads made from Shopify's
own example bodies (standins.webhook_examples, API 2026-07) with the test's values put in, and a
way to run the jobs a delivery queued."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx

from loyalty.webhooks.topics import TOPICS_BY_GROUP
from standins.webhook_examples import example
from web.state import Services

SECRET = "test-client-secret"  # conftest's settings.shopify_api_secret
ROUTE_BY_TOPIC = {
    topic: f"/webhooks/{group}" for group, topics in TOPICS_BY_GROUP.items() for topic in topics
}


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def webhook_headers(
    topic: str,
    body: bytes,
    *,
    shop: str,
    webhook_id: str | None = None,
    secret: str = SECRET,
    event_id: str | None = None,
    triggered_at: str = "2026-11-25T10:00:00.123456789Z",
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at,
    }


async def deliver(
    client: httpx.AsyncClient,
    topic: str,
    payload: Any,
    *,
    shop: str,
    webhook_id: str | None = None,
    route: str | None = None,
    secret: str = SECRET,
    triggered_at: str = "2026-11-25T10:00:00.123456789Z",
) -> httpx.Response:
    """POST one signed delivery of `payload` to the topic's route (or `route`)."""
    body = encode(payload)
    headers = webhook_headers(
        topic, body, shop=shop, webhook_id=webhook_id, secret=secret, triggered_at=triggered_at
    )
    return await client.post(route or ROUTE_BY_TOPIC[topic], content=body, headers=headers)


async def run_jobs(services: Services) -> None:
    """Dispatch what the deliveries queued and wait for the in-process jobs to finish."""
    await services.dispatcher.flush()
    await services.queue.drain()  # type: ignore[attr-defined]


def customer_payload(
    customer_id: int,
    *,
    email: str | None = "ann@example.com",
    first_name: str = "Ann",
    last_name: str = "Lee",
    created_at: str = "2024-03-15T09:30:00-04:00",
    updated_at: str = "2026-11-25T10:00:00-05:00",
) -> dict[str, Any]:
    """A customers/create or customers/update body (also an order's `customer`): Shopify's
    example with these values. Like every body since API 2025-01, it has no `tags`."""
    body = example("customers/update")
    body.update(
        id=customer_id,
        admin_graphql_api_id=f"gid://shopify/Customer/{customer_id}",
        email=email,
        first_name=first_name,
        last_name=last_name,
        created_at=created_at,
        updated_at=updated_at,
    )
    body["default_address"].update(
        customer_id=customer_id,
        first_name=first_name,
        last_name=last_name,
        name=f"{first_name} {last_name}",
    )
    assert "tags" not in body
    return body


def tags_payload(customer_id: int, tags: list[str], occurred_at: str) -> dict[str, Any]:
    """A customer.tags_added or customer.tags_removed body (both have this shape): the tags
    one change added or removed, not the customer's whole list."""
    body = example("customer.tags_added")
    body.update(
        customerId=f"gid://shopify/Customer/{customer_id}", tags=tags, occurredAt=occurred_at
    )
    return body


def _money(shop: str, presentment: str, currency: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": shop, "currency_code": "USD"},
        "presentment_money": {"amount": presentment, "currency_code": currency},
    }


def order_payload(
    order_id: int,
    *,
    customer: dict[str, Any] | None,
    subtotal: str = "100.00",
    presentment_subtotal: str | None = None,
    email: str | None = None,
    cancelled_at: str | None = None,
) -> dict[str, Any]:
    """An orders/paid or orders/cancelled body: Shopify's example (a shop in USD) with one line.
    `subtotal` is the shop-currency subtotal after discounts; the top-level `subtotal_price` is
    in the presentment currency (EUR, `presentment_subtotal`, when given)."""
    presentment = presentment_subtotal or subtotal
    currency = "USD" if presentment_subtotal is None else "EUR"
    money = _money(subtotal, presentment, currency)
    zero = _money("0.00", "0.00", currency)
    body = example("orders/paid")
    contact = email if email is not None else (customer or {}).get("email")
    body.update(
        id=order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
        name=f"#{order_id % 100000}",
        order_number=order_id % 100000,
        email=contact,
        contact_email=contact,
        created_at="2026-11-25T10:00:00-05:00",
        updated_at="2026-11-25T10:00:00-05:00",
        presentment_currency=currency,
        financial_status="paid",
        test=False,
        cancelled_at=cancelled_at,
        cancel_reason=None if cancelled_at is None else "customer",
        total_discounts="0.00",
        total_discounts_set=zero,
        current_total_discounts="0.00",
        current_total_discounts_set=zero,
        total_shipping_price_set=zero,
        customer=customer,
        refunds=[],
    )
    for field in ("subtotal_price", "current_subtotal_price", "total_price", "current_total_price"):
        body[field] = presentment
        body[f"{field}_set"] = money
    body["total_line_items_price"] = presentment
    body["total_line_items_price_set"] = money
    body["total_outstanding"] = "0.00"
    line = body["line_items"][0]
    line.update(
        id=order_id * 10,
        admin_graphql_api_id=f"gid://shopify/LineItem/{order_id * 10}",
        quantity=1,
        price=presentment,
        price_set=money,
        total_discount="0.00",
        total_discount_set=zero,
        discount_allocations=[],
    )
    body["line_items"] = [line]
    body["shipping_lines"] = []
    body["discount_applications"] = []
    return body


def refund_payload(refund_id: int, order_id: int, *line_subtotals: str) -> dict[str, Any]:
    """A refunds/create body: Shopify's example, refunding one line of `order_payload`'s order
    per subtotal given (shop currency)."""
    body = example("refunds/create")
    template = body["refund_line_items"][0]
    lines = []
    for n, amount in enumerate(line_subtotals):
        line = {**template, "line_item": {**template["line_item"], "id": order_id * 10 + n}}
        line.update(
            id=refund_id * 10 + n,
            line_item_id=order_id * 10 + n,
            quantity=1,
            subtotal=float(amount),  # a JSON number here, as in Shopify's example
            subtotal_set=_money(amount, amount, "USD"),
        )
        lines.append(line)
    body.update(
        id=refund_id,
        admin_graphql_api_id=f"gid://shopify/Refund/{refund_id}",
        order_id=order_id,
        created_at="2026-11-26T10:00:00-05:00",
        processed_at="2026-11-26T10:00:00-05:00",
        refund_line_items=lines,
        transactions=[{**t, "order_id": order_id} for t in body["transactions"]],
    )
    return body
