"""Shopify webhook deliveries for tests: bodies signed exactly as Shopify signs them (base64 of
HMAC-SHA256 over the raw body, keyed with the app's client secret), REST-shaped payloads, and a
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
    tags: str = "",
    created_at: str = "2024-03-15T09:30:00-04:00",
    updated_at: str = "2026-11-25T10:00:00-05:00",
) -> dict[str, Any]:
    return {
        "id": customer_id,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "phone": None,
        "tags": tags,
        "state": "enabled",
        "verified_email": True,
        "created_at": created_at,
        "updated_at": updated_at,
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
    """A REST Order. `subtotal` is the shop-currency subtotal after discounts; the top-level
    `subtotal_price` is in the presentment currency (`presentment_subtotal`, if different)."""
    presentment = presentment_subtotal or subtotal
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_id % 100000}",
        "order_number": order_id % 100000,
        "email": email if email is not None else (customer or {}).get("email"),
        "created_at": "2026-11-25T10:00:00-05:00",
        "currency": "EUR",
        "financial_status": "paid",
        "test": False,
        "cancelled_at": cancelled_at,
        "total_price": presentment,
        "subtotal_price": presentment,
        "total_discounts": "0.00",
        "subtotal_price_set": {
            "shop_money": {"amount": subtotal, "currency_code": "USD"},
            "presentment_money": {"amount": presentment, "currency_code": "EUR"},
        },
        "line_items": [{"id": order_id * 10, "quantity": 1, "price": presentment}],
        "refunds": [],
        "customer": customer,
    }


def refund_payload(refund_id: int, order_id: int, *line_subtotals: str) -> dict[str, Any]:
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": "2026-11-26T10:00:00-05:00",
        "note": None,
        "restock": True,
        "refund_line_items": [
            {
                "id": refund_id * 10 + n,
                "line_item_id": order_id * 10 + n,
                "quantity": 1,
                "subtotal": amount,
                "subtotal_set": {
                    "shop_money": {"amount": amount, "currency_code": "USD"},
                    "presentment_money": {"amount": amount, "currency_code": "EUR"},
                },
            }
            for n, amount in enumerate(line_subtotals)
        ],
        "transactions": [],
        "order_adjustments": [],
    }
