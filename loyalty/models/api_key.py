"""Per-shop API keys for the public API; only a SHA-256 hash of each key is stored."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.shop import Shop


class ApiKeyScope(StrEnum):
    FULL = "full"
    READ_ONLY = "read_only"


class ApiKey(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="api_keys", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100, default="")
    prefix = fields.CharField(max_length=16)  # the key's first characters, to recognise it
    key_hash = fields.CharField(max_length=64, unique=True)
    scope = fields.CharEnumField(ApiKeyScope, max_length=16, default=ApiKeyScope.FULL)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"
