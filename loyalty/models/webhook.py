"""Shopify webhook deliveries, stored once by webhook id, and compliance data requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.shop import Shop


# One row per delivery Shopify made, unique on X-Shopify-Webhook-Id (stable across Shopify's
# retries): a repeat delivery is acknowledged and never processed twice. processed_at NULL means
# still owed; a sweep re-queues rows nobody is working on (claimed_until lapsed).
class WebhookEvent(Model):
    id = fields.BigIntField(primary_key=True)
    webhook_id = fields.CharField(max_length=64, unique=True)
    event_id = fields.CharField(max_length=64, null=True)
    topic = fields.CharField(max_length=64)
    shop_domain = fields.CharField(max_length=255)
    shop_id: int | None
    shop: fields.ForeignKeyNullableRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="webhook_events", null=True, on_delete=fields.CASCADE
    )
    api_version = fields.CharField(max_length=16, default="")
    triggered_at = fields.DatetimeField(null=True)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # The HMAC covers the body only, not the headers (topic, shop, webhook id): a signed body
    # is handled at most once, whatever headers it comes back under. Unique across topics, so a
    # body replayed under another webhook id, shop or topic is stored as a repeat and never
    # processed (see loyalty.webhooks.inbox for why no two topics need the same bytes handled).
    body_sha256 = fields.CharField(max_length=64, null=True, unique=True)
    received_at = fields.DatetimeField(auto_now_add=True)
    claimed_until = fields.DatetimeField(null=True)
    processed_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)

    class Meta:
        table = "webhook_event"
        # (shop_id, processed_at): a shop's owed events are claimed, and a shop/redact cascade
        # finds its rows, without scanning every shop's history.
        indexes = (("processed_at", "received_at"), ("shop_id", "processed_at"))


# customers/data_request: what we hold about a customer, assembled for the merchant to download.
class DataRequest(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="data_requests", on_delete=fields.CASCADE
    )
    shopify_request_id = fields.BigIntField(null=True)
    shopify_customer_id = fields.BigIntField(null=True)
    email = fields.CharField(max_length=255, null=True)
    record: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    requested_at = fields.DatetimeField(auto_now_add=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "data_request"
