"""Idempotency keys for retry-safe writes of the public API (POST /api/v1/actions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.shop import Shop


# One row per (shop, Idempotency-Key): the request's fingerprint (a repeat with another body is
# a conflict) and the response given, which a repeat gets back verbatim with `replayed: true`.
class IdempotencyRecord(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="idempotency_records", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=255)
    fingerprint = fields.CharField(max_length=64)  # sha256 of the request that used the key
    response_status = fields.IntField(null=True)  # null while the first request is running
    response_body: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotency_record"
        unique_together = (("shop", "key"),)
