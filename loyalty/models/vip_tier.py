"""VIP tiers: lifetime-points thresholds whose multiplier scales what members earn."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.shop import Shop


class VipTier(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="vip_tiers", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    description = fields.TextField(default="")
    points_required = fields.IntField(default=0)
    points_multiplier = fields.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1.00"))
    badge_color = fields.CharField(max_length=7, default="#5C6AC4")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "vip_tier"
        unique_together = (("shop", "points_required"),)
        ordering = ["points_required"]
