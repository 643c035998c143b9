"""A Shopify store that installed the app, its tokens (encrypted) and programme settings."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Shop(Model):
    id = fields.BigIntField(primary_key=True)
    domain = fields.CharField(max_length=255, unique=True)  # "<name>.myshopify.com"
    name = fields.CharField(max_length=255, default="")
    scopes = fields.CharField(max_length=1024, default="")
    installed_at = fields.DatetimeField(null=True)
    uninstalled_at = fields.DatetimeField(null=True)
    # Expiring offline token pair, Fernet-encrypted with a key derived from SECRET_KEY.
    access_token_enc = fields.TextField(null=True)
    access_token_expires_at = fields.DatetimeField(null=True)
    refresh_token_enc = fields.TextField(null=True)
    refresh_token_expires_at = fields.DatetimeField(null=True)
    # Set when the refresh token is expired or revoked: the merchant must open the app again
    # (which runs token exchange). Background Shopify work for the shop waits until then.
    reauth_required_at = fields.DatetimeField(null=True)
    shopify_shop_id = fields.BigIntField(null=True)
    # The install-time customer backfill: requested → started (a lease while a job runs) →
    # completed. A request not completed is what the sweep re-queues, so it is never lost.
    backfill_requested_at = fields.DatetimeField(null=True)
    backfill_started_at = fields.DatetimeField(null=True)
    backfill_completed_at = fields.DatetimeField(null=True)
    backfill_customers = fields.IntField(default=0)
    # One `process_webhooks` job at a time per shop holds this lease, so the shop's deliveries
    # are handled one after another in received order (a paid order before its cancellation).
    webhooks_leased_until = fields.DatetimeField(null=True)
    # Programme settings.
    programme_enabled = fields.BooleanField(default=True)
    points_expiry_days = fields.IntField(null=True)  # None: points never expire
    timezone = fields.CharField(max_length=64, default="UTC")
    exclusion_tag = fields.CharField(max_length=255, null=True)
    # Rewards: a cancelled or fully refunded order gives its redeemed code back (a new code);
    # an unused code that expires gives its points back. Both off unless the merchant chose.
    # The shop's currency (ISO 4217): what store-credit rewards are given in. Install sets it
    # from Shopify's `shop.currencyCode`; USD until then.
    currency_code = fields.CharField(max_length=3, default="USD")
    reactivate_codes_on_refund = fields.BooleanField(default=False)
    refund_points_on_code_expiry = fields.BooleanField(default=False)
    # Seeded by `loyalty demo`: the only shops the local demo (web.demo) acts for.
    is_demo = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "shop"

    def __str__(self) -> str:
        return self.domain
