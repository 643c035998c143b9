"""Side-effect intents (a transactional outbox) and per-shop marketing integrations."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.customer import Customer
    from loyalty.models.shop import Shop


# Work a committed change owes the outside world, written in that change's transaction. A job
# claims intents (`claimed_until`), does the work, and sets `completed_at`; a claim that lapses
# without completion is swept and dispatched again, so nothing is lost. (Comments, not docstrings:
# Tortoise turns model docstrings into table comments.)
# No database foreign keys here, for the reason given on the ledger (models/earning_history.py).
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
    completed_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)

    class Meta:
        table = "outbox_intent"
        # Only pending intents are ever searched for: the partial indexes `WHERE completed_at IS
        # NULL` (migration 0005) stay small, and completing an intent drops it from them.


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
