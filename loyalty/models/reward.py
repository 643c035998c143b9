"""Rewards a shop offers for points, and each redemption of one (a `reward_history_entry`).

A redemption's own status (`active` → `used` | `expired` | `cancelled`) is kept apart from
whether its code (or store-credit transaction) exists in Shopify yet (`shopify_status`): the
redemption commits first, the code is created afterwards by a job (loyalty.rewards.codes).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.customer import Customer
    from loyalty.models.shop import Shop
    from loyalty.models.vip_tier import VipTier


class RewardKind(StrEnum):
    FIXED_AMOUNT = "fixed_amount"  # money off the order
    PERCENTAGE = "percentage"
    FREE_SHIPPING = "free_shipping"
    FREE_PRODUCT = "free_product"  # one product variant, free
    STORE_CREDIT = "store_credit"  # Shopify's native store credit, no code


class RedemptionStatus(StrEnum):
    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class CodeStatus(StrEnum):
    PENDING = "pending"  # the job has not created it in Shopify yet
    CREATED = "created"  # exists in Shopify (the discount, or the store credit given)
    FAILED = "failed"  # none exists and none will be (refused, or cancelled before it was made)


class Reward(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)  # "reward_…"
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="rewards", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=255)
    description = fields.TextField(default="")
    kind = fields.CharEnumField(RewardKind, max_length=16)
    points_cost = fields.IntField()  # a variable reward: its minimum (min_points)
    # Variable rewards (fixed_amount, store_credit): the customer spends between min and max
    # points, each worth `value_per_point` in the shop's currency.
    is_variable = fields.BooleanField(default=False)
    min_points = fields.IntField(null=True)
    max_points = fields.IntField(null=True)
    value_per_point = fields.DecimalField(max_digits=12, decimal_places=4, null=True)
    # Amount off / store credit (shop currency) or percent off (0 < v <= 100).
    value = fields.DecimalField(max_digits=12, decimal_places=2, default=0)
    free_variant_gid = fields.CharField(max_length=128, null=True)
    minimum_subtotal = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    # Both empty: the discount applies to every product.
    collection_gids: fields.JSONField[list[str]] = fields.JSONField(default=list)
    product_gids: fields.JSONField[list[str]] = fields.JSONField(default=list)
    combines_with_order = fields.BooleanField(default=False)
    combines_with_product = fields.BooleanField(default=False)
    combines_with_shipping = fields.BooleanField(default=False)
    code_validity_days = fields.IntField(null=True)  # None: the code never expires
    minimum_tier_id: int | None
    minimum_tier: fields.ForeignKeyNullableRelation[VipTier] = fields.ForeignKeyField(
        "loyalty.VipTier", related_name="rewards", null=True, on_delete=fields.SET_NULL
    )
    per_customer_limit = fields.IntField(null=True)  # None: unlimited
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "reward"
        indexes = (("shop_id", "is_active"),)


class Redemption(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)  # "cr_…"
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="redemptions", on_delete=fields.CASCADE
    )
    customer_id: int
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "loyalty.Customer", related_name="redemptions", on_delete=fields.CASCADE
    )
    reward_id: int
    reward: fields.ForeignKeyRelation[Reward] = fields.ForeignKeyField(
        "loyalty.Reward", related_name="redemptions", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(RewardKind, max_length=16)  # the reward's, when redeemed
    points_spent = fields.IntField()
    value = fields.DecimalField(max_digits=12, decimal_places=2, default=0)  # granted
    currency_code = fields.CharField(max_length=3, null=True)  # store credit: as redeemed
    code = fields.CharField(max_length=64, null=True)  # chosen by us; None for store credit
    status = fields.CharEnumField(RedemptionStatus, max_length=16, default=RedemptionStatus.ACTIVE)
    shopify_status = fields.CharEnumField(CodeStatus, max_length=16, default=CodeStatus.PENDING)
    shopify_discount_gid = fields.CharField(max_length=128, null=True)
    store_credit_transaction_gid = fields.CharField(max_length=128, null=True)
    store_credit_debit_gid = fields.CharField(max_length=128, null=True)  # a cancel's debit
    # When the job first asked Shopify for the store credit, and for its debit: Shopify offers
    # no idempotency key there, so a retry looks for a transaction made since (the adapter).
    credit_attempted_at = fields.DatetimeField(null=True)
    debit_attempted_at = fields.DatetimeField(null=True)
    # Which lots the points came from ([[entry id, points], …]; points taken from a balance
    # no lot held are listed under 0), so a refund puts them back where they were.
    spent_lots: fields.JSONField[list[list[int]]] = fields.JSONField(default=list)
    points_refunded_at = fields.DatetimeField(null=True)  # set once: the refund's guard
    redeemed_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True)
    used_at = fields.DatetimeField(null=True)
    used_order_id = fields.BigIntField(null=True)
    used_order_subtotal = fields.DecimalField(max_digits=18, decimal_places=4, null=True)
    cancel_reason = fields.CharField(max_length=255, null=True)
    idempotency_key = fields.CharField(max_length=255, null=True)
    metadata: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "redemption"
        unique_together = (("shop", "code"), ("shop", "idempotency_key"))
        indexes = (
            ("customer_id", "reward_id"),
            ("status", "expires_at"),
            ("shop_id", "used_order_id"),
        )
