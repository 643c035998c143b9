"""A shop's customer as the programme knows them: identity, exclusion, balances and tier."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.shop import Shop
    from loyalty.models.vip_tier import VipTier

from loyalty.customers.identifiers import normalize_email


class Customer(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="customers", on_delete=fields.CASCADE
    )
    shopify_customer_id = fields.BigIntField()
    email = fields.CharField(max_length=255, null=True)
    # Trimmed, lower-cased email: the key for case-insensitive lookups.
    email_key = fields.CharField(max_length=255, null=True)
    first_name = fields.CharField(max_length=255, default="")
    last_name = fields.CharField(max_length=255, default="")
    tags = fields.TextField(default="")
    # When each tag (by its case-folded text) was last added or removed, as Shopify's tag events
    # say (`occurredAt`, ISO 8601): removed tags stay listed, so an older event delivered late
    # never undoes a newer one (loyalty/customers/tags.py). NULL until the first tag event:
    # most customers never have one, and a nullable column is added to a full table at once.
    tag_versions: fields.JSONField[dict[str, str] | None] = fields.JSONField(null=True)
    is_excluded = fields.BooleanField(default=False)
    # Who excluded them: "tag" (the shop's exclusion tag, so removing the tag re-includes),
    # "staff" or "api" (only they re-include). None when included.
    excluded_by = fields.CharField(max_length=16, null=True)
    date_of_birth = fields.DateField(null=True)
    anniversary_date = fields.DateField(null=True)
    shopify_created_at = fields.DatetimeField(null=True)
    shopify_updated_at = fields.DatetimeField(null=True)
    # The last "points expiring soon" event (sent at most once per customer per 7 days).
    expiring_soon_notified_at = fields.DatetimeField(null=True)
    # When the install-time backfill imported them (loyalty.shopify.backfill): such a customer
    # existed before the app, so never earns sign-up points. NULL for customers Shopify told us
    # about by webhook.
    backfilled_at = fields.DatetimeField(null=True)
    # customers/redact: personal data erased, anonymous ledger totals kept.
    redacted_at = fields.DatetimeField(null=True)
    points_balance = fields.IntField(default=0)  # spendable ("current_points")
    pending_points = fields.IntField(default=0)  # awarded, waiting for approval
    lifetime_points = fields.IntField(default=0)  # ever approved; drives the VIP tier
    redeemed_points = fields.IntField(default=0)
    vip_tier_id: int | None
    vip_tier: fields.ForeignKeyNullableRelation[VipTier] = fields.ForeignKeyField(
        "loyalty.VipTier", related_name="customers", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "customer"
        unique_together = (("shop", "shopify_customer_id"),)
        indexes = (("shop_id", "email_key"),)
        # Migration 0018 adds the list orders (created_at, redeemed_points) and, on PostgreSQL,
        # trigram indexes for the searches; none on a column an award moves (HOT updates).

    async def save(self, *args: Any, **kwargs: Any) -> None:
        # email_key is derived, never set by hand: keep it in step with email on every save.
        self.email_key = normalize_email(self.email)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = [*update_fields, "email_key"]
        await super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
