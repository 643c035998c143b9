"""The activity log: who did what to a customer's loyalty record, and when."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from loyalty.models.customer import Customer
    from loyalty.models.shop import Shop


class ActorType(StrEnum):
    API_KEY = "api_key"
    STAFF = "staff"
    SYSTEM = "system"
    STOREFRONT = "storefront"


# No database foreign keys on this hot, append-only table: each one is a trigger running its own
# query for every row an award writes (the largest single cost in PostgreSQL's profile of the
# award). Its only writers set shop, customer and rule from rows they just read, nothing deletes
# customers or rules, and shop/redact deletes these rows explicitly (loyalty.customers.compliance).
class Activity(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id: int
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "loyalty.Shop",
        related_name="activities",
        on_delete=fields.CASCADE,
        db_constraint=False,
    )
    customer_id: int | None
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "loyalty.Customer",
        related_name="activities",
        null=True,
        on_delete=fields.CASCADE,
        db_constraint=False,
    )
    kind = fields.CharField(max_length=64)  # points_awarded, customer_excluded, …
    actor_type = fields.CharEnumField(ActorType, max_length=16)
    actor_id = fields.CharField(max_length=64, null=True)
    data: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "activity"
        indexes = (("customer_id", "created_at"),)
