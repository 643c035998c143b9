"""The points ledger: one earning-history entry (CustomerEarningRule) per award."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.customer import Customer
    from loyalty.models.earning_rule import EarningRule
    from loyalty.models.shop import Shop


class EarningStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class EarningHistoryEntry(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)  # "cer_…"
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="earning_history", on_delete=fields.CASCADE
    )
    customer_id: int
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "loyalty.Customer", related_name="earning_history", on_delete=fields.CASCADE
    )
    rule_id: int | None
    rule: fields.ForeignKeyNullableRelation[EarningRule] = fields.ForeignKeyField(
        "loyalty.EarningRule", related_name="awards", null=True, on_delete=fields.RESTRICT
    )
    action = fields.CharField(max_length=64)
    base_points = fields.IntField()
    points_multiplier = fields.DecimalField(max_digits=6, decimal_places=2)
    points = fields.IntField()
    status = fields.CharEnumField(EarningStatus, max_length=16)
    points_given_at = fields.DatetimeField(null=True)
    points_due_at = fields.DatetimeField(null=True)
    points_expiry_at = fields.DatetimeField(null=True)
    # What makes an award happen once per customer: "rule:<id>" for social/engagement rules,
    # "order:<id>" for purchases. Unique per customer; the database enforces exactly-once.
    dedupe_key = fields.CharField(max_length=128)
    note = fields.TextField(null=True)
    # Purchases: the Shopify order the points came from.
    order_id = fields.BigIntField(null=True)
    order_number = fields.CharField(max_length=32, null=True)
    # The order's subtotal after discounts (shop currency) that the points were computed from:
    # a refund takes back points in proportion to the share of it refunded.
    order_subtotal = fields.DecimalField(max_digits=18, decimal_places=4, null=True)
    # A reversal (refund, cancellation, adjustment) points at the entry it takes back from.
    reversed_entry_id: int | None
    reversed_entry: fields.ForeignKeyNullableRelation[EarningHistoryEntry] = fields.ForeignKeyField(
        "loyalty.EarningHistoryEntry",
        related_name="reversals",
        null=True,
        on_delete=fields.CASCADE,
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "earning_history_entry"
        unique_together = (("customer", "dedupe_key"),)
        indexes = (
            ("status", "points_due_at"),
            ("customer_id", "created_at"),
            ("shop_id", "order_id"),
        )
