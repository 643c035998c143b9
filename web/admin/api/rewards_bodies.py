"""The admin's reward form as a request body: the shape of each field only (types, text for
numbers, blank means none). What a reward may be — ranges, which fields a kind needs, what
Shopify accepts — is loyalty.rewards.catalogue.validate's alone (one home), so a form and a
seed get the same messages, each pointing at its field.

Amounts arrive as JSON numbers or decimal strings (a form field's text) and stay Decimals;
collection and product gids as a list or as text with one per line (or comma separated).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic import StrictBool as Bool
from pydantic import StrictInt as Int
from pydantic import StrictStr as Str

from loyalty.models import RewardKind
from loyalty.rewards.catalogue import RewardFields
from web.admin.api.bodies import Body, exact_decimal

MAX_DESCRIPTION_LENGTH = 2000
MAX_GIDS = 100


def blank_is_none(value: Any) -> Any:
    """An emptied form field (blank text) means "none"."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _decimal(value: Any) -> Decimal | None:
    """A number or a decimal string; blank or null is "none". Never through binary floats."""
    value = blank_is_none(value)
    return None if value is None else exact_decimal(value, "must be a number")


def _gids(value: Any) -> Any:
    """Text with one gid per line (or comma separated), or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,]+", value) if part]
    return value


Amount = Annotated[Decimal | None, BeforeValidator(_decimal)]
Count = Annotated[Int | None, BeforeValidator(blank_is_none)]
OptionalText = Annotated[Str | None, Field(max_length=255), BeforeValidator(blank_is_none)]
Gids = Annotated[
    list[Annotated[Str, Field(max_length=255)]], Field(max_length=MAX_GIDS), BeforeValidator(_gids)
]


class SaveReward(Body):
    """A whole reward (create and edit alike: the form always sends every field it shows)."""

    name: Str
    kind: RewardKind
    points_cost: Count = None  # a variable reward's cost is its min_points
    description: Annotated[Str, Field(max_length=MAX_DESCRIPTION_LENGTH)] = ""
    value: Amount = None
    is_variable: Bool = False
    min_points: Count = None
    max_points: Count = None
    value_per_point: Amount = None
    free_variant_gid: OptionalText = None
    minimum_subtotal: Amount = None
    collection_gids: Gids = []
    product_gids: Gids = []
    combines_with_order: Bool = False
    combines_with_product: Bool = False
    combines_with_shipping: Bool = False
    code_validity_days: Count = None
    minimum_tier_id: OptionalText = None
    per_customer_limit: Count = None
    is_active: Bool = True

    def fields(self) -> RewardFields:
        """The catalogue's value (validated there, where every rule lives)."""
        values = self.model_dump()
        if self.is_variable and values["points_cost"] is None:
            values["points_cost"] = self.min_points or 0
        values["points_cost"] = values["points_cost"] or 0  # missing: the catalogue says so
        values["value"] = values["value"] if values["value"] is not None else Decimal(0)
        values["collection_gids"] = tuple(self.collection_gids)
        values["product_gids"] = tuple(self.product_gids)
        return RewardFields(**values)
