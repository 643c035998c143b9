"""Referrals: a shop's referral programme settings, each member's referral code, each referral
(an advocate's link used by a friend) and the fingerprints the fraud rules compare.

A referral moves `pending` → `friend_converted` → `completed`, or ends `blocked` (a fraud rule,
`block_reason` says which; a merchant may approve it), `expired` (no first order in time) or
`reversed` (the converting order was cancelled or fully refunded after the advocate was paid).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from loyalty.models.reward import CodeStatus

if TYPE_CHECKING:
    from loyalty.models.customer import Customer
    from loyalty.models.reward import Reward
    from loyalty.models.shop import Shop


class ReferralStatus(StrEnum):
    PENDING = "pending"  # the friend gave their email; no first paid order yet
    FRIEND_CONVERTED = "friend_converted"  # first paid order seen; the advocate not paid yet
    COMPLETED = "completed"  # the advocate was paid
    BLOCKED = "blocked"  # a fraud rule refused it (`block_reason`); a merchant may approve it
    EXPIRED = "expired"  # pending past `expires_at`
    REVERSED = "reversed"  # completed, then the converting order was cancelled or refunded


class BlockReason(StrEnum):
    SAME_EMAIL = "same_email"  # the friend's normalised email is the advocate's
    SAME_CUSTOMER = "same_customer"  # the friend's Shopify customer is the advocate
    SAME_PHONE = "same_phone"  # the friend's order carries a phone the advocate used
    SAME_ADDRESS = "same_address"  # the friend's order ships to an address the advocate used
    FRIEND_NOT_NEW = "friend_not_new"  # an existing customer, or one with an earlier order
    IP_LIMIT = "ip_limit"  # too many referrals from one IP address in the window
    DEVICE_LIMIT = "device_limit"  # too many referrals from one device in the window
    ADVOCATE_ORDER = "advocate_order"  # the converting order was placed by the advocate


# One row per shop; absent means the defaults (off). Fraud rules are each on unless listed in
# `disabled_checks` (BlockReason values). (Comments, not docstrings: Tortoise turns model
# docstrings into table comments.)
class ReferralProgramme(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id: int
    shop: fields.OneToOneRelation[Shop] = fields.OneToOneField(
        "loyalty.Shop", related_name="referral_programme", on_delete=fields.CASCADE
    )
    enabled = fields.BooleanField(default=False)
    # The friend's reward: one of the shop's rewards, given as a code (never store credit, which
    # needs a Shopify customer the friend may not be yet).
    friend_reward_id: int | None
    friend_reward: fields.ForeignKeyNullableRelation[Reward] = fields.ForeignKeyField(
        "loyalty.Reward", related_name="friend_referral_programmes", null=True,
        on_delete=fields.SET_NULL,
    )  # fmt: skip
    # The advocate's reward, besides (or instead of) the points of the active `referral` rule.
    advocate_reward_id: int | None
    advocate_reward: fields.ForeignKeyNullableRelation[Reward] = fields.ForeignKeyField(
        "loyalty.Reward", related_name="advocate_referral_programmes", null=True,
        on_delete=fields.SET_NULL,
    )  # fmt: skip
    disabled_checks: fields.JSONField[list[str]] = fields.JSONField(default=list)
    max_per_ip = fields.IntField(default=3)  # referrals from one IP address per window
    max_per_device = fields.IntField(default=3)
    window_hours = fields.IntField(default=24)
    pending_days = fields.IntField(default=30)  # a pending referral expires after this
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "referral_programme"


# Each member's referral code: upper case, unique per shop, made on first use.
class ReferralCode(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="referral_codes", on_delete=fields.CASCADE
    )
    customer_id: int
    customer: fields.OneToOneRelation[Customer] = fields.OneToOneField(
        "loyalty.Customer", related_name="referral_code", on_delete=fields.CASCADE
    )
    code = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "referral_code"
        unique_together = (("shop", "code"),)


class Referral(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)  # "ref_…"
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="referrals", on_delete=fields.CASCADE
    )
    advocate_id: int
    advocate: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "loyalty.Customer", related_name="referrals_made", on_delete=fields.CASCADE
    )
    friend_email = fields.CharField(max_length=255)  # as given (blanked by customers/redact)
    # The friend's email with case, and for providers that ignore them dots and +tags, removed
    # (loyalty.customers.referral_emails): one referral per friend per shop, whoever the advocate.
    friend_email_key = fields.CharField(max_length=255)
    friend_customer_id: int | None
    friend_customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "loyalty.Customer", related_name="referrals_received", null=True,
        on_delete=fields.SET_NULL,
    )  # fmt: skip
    status = fields.CharEnumField(ReferralStatus, max_length=16, default=ReferralStatus.PENDING)
    block_reason = fields.CharEnumField(BlockReason, max_length=16, null=True)
    ip = fields.CharField(max_length=64, null=True)
    device_id = fields.CharField(max_length=128, null=True)
    # The friend's reward code (a Shopify discount made by the sync_referral_codes job).
    friend_reward_id: int | None
    friend_reward: fields.ForeignKeyNullableRelation[Reward] = fields.ForeignKeyField(
        "loyalty.Reward", related_name="referrals", null=True, on_delete=fields.SET_NULL
    )
    friend_code = fields.CharField(max_length=64, null=True)
    friend_code_status = fields.CharEnumField(CodeStatus, max_length=16, null=True)
    friend_discount_gid = fields.CharField(max_length=128, null=True)
    friend_code_expires_at = fields.DatetimeField(null=True)
    # The friend's first paid order, and what of it was refunded ({refund id: amount}).
    order_id = fields.BigIntField(null=True)
    order_number = fields.CharField(max_length=32, null=True)
    order_subtotal = fields.DecimalField(max_digits=18, decimal_places=4, null=True)
    refunds: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)
    # What the advocate was paid: the earning entry (points) and the redemption (a reward).
    advocate_entry_id = fields.CharField(max_length=40, null=True)
    advocate_redemption_id = fields.CharField(max_length=32, null=True)
    approved_by = fields.CharField(max_length=255, null=True)  # the staff member who approved
    approved_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    converted_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    reversed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "referral"
        unique_together = (("shop", "friend_email_key"),)
        indexes = (
            ("shop_id", "advocate_id", "created_at"),
            ("shop_id", "ip", "created_at"),
            ("shop_id", "device_id", "created_at"),
            ("shop_id", "order_id"),
            ("shop_id", "friend_code"),
            ("status", "expires_at"),
        )


class FingerprintKind(StrEnum):
    PHONE = "phone"
    ADDRESS = "address"


# A customer's phone numbers and shipping addresses, as SHA-256 digests of their normalised
# form, learned from their paid orders: what the same-phone and same-address rules compare.
class ReferralFingerprint(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id = fields.BigIntField()
    customer_id = fields.BigIntField()
    kind = fields.CharEnumField(FingerprintKind, max_length=8)
    digest = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "referral_fingerprint"
        unique_together = (("shop_id", "customer_id", "kind", "digest"),)
        indexes = (("shop_id", "kind", "digest"),)
