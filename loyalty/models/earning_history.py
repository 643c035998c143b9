"""The points ledger: one earning-history entry (CustomerEarningRule) per award."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

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


# No database foreign keys on this hot, append-only table: each one is a trigger running its own
# query for every row an award writes (the largest single cost in PostgreSQL's profile of the
# award). Its only writers set shop, customer and rule from rows they just read, nothing deletes
# customers or rules, and shop/redact deletes these rows explicitly (loyalty.customers.compliance).
class EarningHistoryEntry(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)  # "cer_…"
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop",
        related_name="earning_history",
        on_delete=fields.CASCADE,
        db_constraint=False,
    )
    customer_id: int
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "loyalty.Customer",
        related_name="earning_history",
        on_delete=fields.CASCADE,
        db_constraint=False,
    )
    rule_id: int | None
    rule: fields.ForeignKeyNullableRelation[EarningRule] = fields.ForeignKeyField(
        "loyalty.EarningRule",
        related_name="awards",
        null=True,
        on_delete=fields.RESTRICT,
        db_constraint=False,
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
    # An approved lot's points not yet spent, expired or taken back (0 while pending, and on
    # entries that take points away). Spending and expiry draw on lots oldest first.
    points_remaining = fields.IntField(default=0)
    # Free-form context a custom action was awarded with (POST /api/v1/actions).
    metadata: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
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
        # Every index costs each award a btree insert, so the ledger keeps few: the unique
        # (customer_id, dedupe_key) also serves per-customer reads, and the partial indexes on
        # pending entries (approvals) and on order entries (refunds) are created by migration
        # 0005, since Tortoise's model indexes cannot say `WHERE … IS NOT NULL`. Migration 0018
        # adds what a big shop's reads cannot do without (bench/scale): a customer's history in
        # order, whether a rule was awarded, and the open lots by expiry (partial).
