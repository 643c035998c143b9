"""Earning rules: what a customer does (the action) and the points it is worth."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.shop import Shop


class RuleCategory(StrEnum):
    PURCHASE = "purchase"
    SOCIAL = "social"
    ENGAGEMENT = "engagement"
    BIRTHDAY = "birthday"
    ANNIVERSARY = "anniversary"
    SIGNUP = "signup"
    REFERRAL = "referral"
    CUSTOM = "custom"  # merchant-defined actions, awarded by action_key (POST /api/v1/actions)
    NEWSLETTER = "newsletter"  # subscribing to email marketing (loyalty.earning.newsletter)


# Only these may be awarded through the API; the platform awards the others itself.
API_AWARDABLE_CATEGORIES = frozenset({RuleCategory.SOCIAL, RuleCategory.ENGAGEMENT})


class EarningRule(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="earning_rules", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=255)
    description = fields.TextField(default="")
    action = fields.CharField(max_length=64)  # follow_on_instagram, place_order, birthday, …
    category = fields.CharEnumField(RuleCategory, max_length=16)
    # Base points; for purchase rules, points per unit of the shop's currency.
    points = fields.IntField()
    is_active = fields.BooleanField(default=True)
    approval_time_days = fields.IntField(default=0)  # 0: approved immediately
    customer_facing_label = fields.CharField(max_length=255, default="")
    call_to_action_url = fields.CharField(max_length=2048, null=True)
    # Custom actions: the key integrations award by; once per customer unless repeatable, and
    # then at most `limit_count` times per rolling `limit_period_days` (no limit when null).
    action_key = fields.CharField(max_length=64, null=True)
    repeatable = fields.BooleanField(default=False)
    limit_count = fields.IntField(null=True)
    limit_period_days = fields.IntField(null=True)
    # Sign-up rules: award at the customer's first paid order instead of at sign-up, so an
    # account made only to collect points earns nothing (loyalty.earning.signup).
    after_first_order = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "earning_rule"
        indexes = (("shop_id", "is_active"),)
        unique_together = (("shop", "action_key"),)
