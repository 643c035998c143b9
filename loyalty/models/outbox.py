"""Side-effect intents (a transactional outbox) and per-shop marketing integrations."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.customer import Customer
    from loyalty.models.shop import Shop


class IntentOutcome(StrEnum):
    DELIVERED = "delivered"  # the effect reached the platform (an event may be unconfirmed)
    SKIPPED = "skipped"  # deliberately not sent; `outcome_detail` says why (a SkipReason)
    DEAD = "dead"  # given up: `dead_at`, and why in `last_error`; `retry_dead_letters` revives


class SkipReason(StrEnum):
    NOT_CONFIGURED = "not_configured"  # no integration, disabled, or no key; Shopify not set up
    NOT_CONNECTED = "not_connected"  # no Shopify offline token (never opened, or uninstalled)
    UNINSTALLED = "uninstalled"
    UNKNOWN_CUSTOMER = "unknown_customer"  # deleted since, or another shop's
    REDACTED = "redacted"  # customers/redact: nothing personal may be sent
    NO_ADDRESS = "no_address"  # no email (Klaviyo, Omnisend) / not an SMS subscriber


# Work a committed change owes the outside world, written in that change's transaction. A run
# claims intents (`claimed_by` its token, until `claimed_until`), does the work, and ends each
# one with an `outcome`; only the claim's holder can end or release it. A claim that lapses is
# swept and dispatched again, so nothing is lost. A hold (retry later) is `claimed_until` with
# no `claimed_by`. `attempts` counts real delivery attempts that failed; an intent still failing
# once `retry_from` (or `created_at`) is OUTBOX_RETRY_WINDOW old is dead-lettered: completed,
# with `dead_at`. (Comments, not docstrings: Tortoise turns model docstrings into table
# comments.) No database foreign keys here, for the reason given on the ledger
# (models/earning_history.py).
class OutboxIntent(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop",
        related_name="intents",
        on_delete=fields.CASCADE,
        db_constraint=False,
    )
    customer_id: int | None
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "loyalty.Customer",
        related_name="intents",
        null=True,
        on_delete=fields.CASCADE,
        db_constraint=False,
    )
    job = fields.CharField(max_length=64)  # a loyalty.jobs.JobName
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    claimed_until = fields.DatetimeField(null=True)
    claimed_by = fields.CharField(max_length=32, null=True)
    completed_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)
    outcome = fields.CharEnumField(IntentOutcome, max_length=16, null=True)
    outcome_detail = fields.CharField(max_length=64, null=True)
    dead_at = fields.DatetimeField(null=True)
    retry_from = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_intent"
        # Only pending intents are ever searched for: the partial indexes `WHERE completed_at IS
        # NULL` (migrations 0005, 0009) stay small, and completing an intent drops it from them.


# One in-flight sync per (job, shop, customer): a run writes a customer only while it holds the
# customer's lease, so two runs never write the same customer at once and a late write cannot
# land after a newer one. `customer_key` is the customer's id, or 0 for the shop-level job. A
# lease past `expires_at` belongs to nobody (its holder died) and is taken over.
class SyncLease(Model):
    id = fields.BigIntField(primary_key=True)
    job = fields.CharField(max_length=64)
    shop_id = fields.BigIntField()
    customer_key = fields.BigIntField()
    holder = fields.CharField(max_length=32)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "sync_lease"
        unique_together = (("job", "shop_id", "customer_key"),)


class DeliveryStatus(StrEnum):
    ACCEPTED = "accepted"  # the platform answered 2xx: never sent again
    UNCONFIRMED = "unconfirmed"  # sent, answer lost, platform does not dedupe: not re-sent


# Each loyalty event a platform accepted (or may have), by its stable key: a retry skips what is
# recorded here, so an event is never sent twice, whatever else in its intent failed.
class EventDelivery(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id = fields.BigIntField()
    platform = fields.CharField(max_length=16)
    event_key = fields.CharField(max_length=200)
    intent_id = fields.BigIntField()
    status = fields.CharEnumField(DeliveryStatus, max_length=16)
    at = fields.DatetimeField()

    class Meta:
        table = "event_delivery"
        unique_together = (("shop_id", "platform", "event_key"),)


class Platform(StrEnum):
    KLAVIYO = "klaviyo"
    OMNISEND = "omnisend"
    POSTSCRIPT = "postscript"


# A shop's connection to a marketing platform; credentials are encrypted at rest.
class Integration(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop", related_name="integrations", on_delete=fields.CASCADE
    )
    platform = fields.CharEnumField(Platform, max_length=16)
    enabled = fields.BooleanField(default=False)
    credentials_enc = fields.TextField(null=True)
    last_success_at = fields.DatetimeField(null=True)
    last_error_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "integration"
        unique_together = (("shop", "platform"),)
