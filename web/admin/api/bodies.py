"""Every `/app/api` request body as a pydantic model: the shape of every field (types, ranges,
formats), with the limits taken from the services that own them. Unknown fields are ignored.

Numbers and booleans are strict (`"100"` is not a number, `1` is not `true`); the exceptions
are decimals (a tier's `points_multiplier`, a reward's amounts), which may be sent as a JSON
number or a decimal string and are kept as Decimals from then on.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic import StrictBool as Bool
from pydantic import StrictInt as Int
from pydantic import StrictStr as Str

from loyalty.earning import adjustments, rules
from loyalty.models import ApiKeyScope, RewardKind, RuleCategory
from loyalty.rewards.cancel import MAX_REASON as MAX_CANCEL_REASON
from loyalty.rewards.catalogue import RewardFields
from loyalty.shops import programme
from loyalty.tiers import configuration as tiers


def _optional_text(value: str | None) -> str | None:
    """Blank means "none" for nullable text (what an emptied form field sends)."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _http_url(value: str | None) -> str | None:
    value = _optional_text(value)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc or " " in value:
        raise ValueError("must be an http or https URL")
    return value


def _action(value: str) -> str:
    if not re.fullmatch(rules.ACTION_PATTERN, value):
        raise ValueError("must be 1 to 64 lowercase letters, digits or underscores")
    return value


def _action_key(value: str) -> str:
    if not re.fullmatch(rules.ACTION_KEY_PATTERN, value):
        raise ValueError("must be 1 to 64 lowercase letters, digits or underscores")
    return value


def _badge_color(value: str) -> str:
    if not re.fullmatch(tiers.BADGE_COLOR_PATTERN, value):
        raise ValueError("must be a hex colour like #5C6AC4")
    return value.upper()


def exact_decimal(value: Any, problem: str = "must be a number or a decimal string") -> Decimal:
    """A JSON number or a decimal string as a finite Decimal (ValueError(`problem`) otherwise).
    bool is an int subclass. A float goes through its shortest repr ("1.1", not
    1.100000000000000088…), so no binary-float arithmetic ever touches the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(problem)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(problem) from None
    if not number.is_finite():
        raise ValueError(problem)
    return number


def _multiplier(value: Any) -> Decimal:
    number = exact_decimal(value)
    if -number.as_tuple().exponent > 2:  # type: ignore[operator]  # finite: an int
        raise ValueError("must have at most 2 decimal places")
    if not tiers.MIN_MULTIPLIER <= number <= tiers.MAX_MULTIPLIER:
        raise ValueError(f"must be between {tiers.MIN_MULTIPLIER} and {tiers.MAX_MULTIPLIER}")
    return number.quantize(Decimal("0.01"))


Name = Annotated[Str, Field(min_length=1, max_length=rules.MAX_NAME_LENGTH)]
Description = Annotated[Str, Field(max_length=rules.MAX_DESCRIPTION_LENGTH)]
Action = Annotated[Str, AfterValidator(_action)]
Points = Annotated[Int, Field(ge=1, le=rules.MAX_POINTS)]
ApprovalDays = Annotated[Int, Field(ge=0, le=rules.MAX_APPROVAL_TIME_DAYS)]
Label = Annotated[Str, Field(max_length=rules.MAX_LABEL_LENGTH)]
Url = Annotated[Str | None, Field(max_length=rules.MAX_URL_LENGTH), AfterValidator(_http_url)]
ActionKey = Annotated[Str, AfterValidator(_action_key)]
LimitCount = Annotated[Int, Field(ge=1, le=rules.MAX_LIMIT_COUNT)]
LimitPeriodDays = Annotated[Int, Field(ge=1, le=rules.MAX_LIMIT_PERIOD_DAYS)]

TierName = Annotated[Str, Field(min_length=1, max_length=tiers.MAX_NAME_LENGTH)]
TierDescription = Annotated[Str, Field(max_length=tiers.MAX_DESCRIPTION_LENGTH)]
PointsRequired = Annotated[Int, Field(ge=0, le=tiers.MAX_POINTS_REQUIRED)]
Multiplier = Annotated[Decimal, BeforeValidator(_multiplier)]
BadgeColor = Annotated[Str, AfterValidator(_badge_color)]

ExpiryDays = Annotated[
    Int, Field(ge=programme.MIN_POINTS_EXPIRY_DAYS, le=programme.MAX_POINTS_EXPIRY_DAYS)
]
Timezone = Annotated[Str, Field(min_length=1, max_length=programme.MAX_TIMEZONE_LENGTH)]
ExclusionTag = Annotated[
    Str | None,
    Field(max_length=programme.MAX_EXCLUSION_TAG_LENGTH),
    AfterValidator(_optional_text),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class CreateEarningRule(Body):
    name: Name
    action: Action
    category: RuleCategory
    points: Points
    description: Description = ""
    approval_time_days: ApprovalDays = 0
    customer_facing_label: Label = ""
    call_to_action_url: Url = None
    is_active: Bool = True
    # Custom actions (category custom): see loyalty.earning.rules for how these combine.
    action_key: ActionKey | None = None
    repeatable: Bool = False
    limit_count: LimitCount | None = None
    limit_period_days: LimitPeriodDays | None = None
    # Sign-up rules (category signup): award at the first paid order instead of at sign-up.
    after_first_order: Bool = False


class UpdateEarningRule(Body):
    """Partial: only the fields sent change (see web.http.validation.explicit_fields)."""

    name: Name | None = None
    action: Action | None = None
    category: RuleCategory | None = None
    points: Points | None = None
    description: Description | None = None
    approval_time_days: ApprovalDays | None = None
    customer_facing_label: Label | None = None
    call_to_action_url: Url = None
    is_active: Bool | None = None
    action_key: ActionKey | None = None
    repeatable: Bool | None = None
    limit_count: LimitCount | None = None
    limit_period_days: LimitPeriodDays | None = None
    after_first_order: Bool | None = None


RULE_NULLABLE = frozenset({"call_to_action_url", "action_key", "limit_count", "limit_period_days"})


class CreateVipTier(Body):
    name: TierName
    points_required: PointsRequired
    points_multiplier: Multiplier = tiers.MIN_MULTIPLIER
    description: TierDescription = ""
    badge_color: BadgeColor | None = None


class UpdateVipTier(Body):
    name: TierName | None = None
    points_required: PointsRequired | None = None
    points_multiplier: Multiplier | None = None
    description: TierDescription | None = None
    badge_color: BadgeColor | None = None


class CreateApiKey(Body):
    name: Annotated[Str, Field(min_length=1, max_length=100)]
    scope: ApiKeyScope = ApiKeyScope.FULL


class UpdateProgramme(Body):
    programme_enabled: Bool | None = None
    points_expiry_days: ExpiryDays | None = None
    timezone: Timezone | None = None
    exclusion_tag: ExclusionTag = None


PROGRAMME_NULLABLE = frozenset({"points_expiry_days", "exclusion_tag"})


# Customers: a manual points adjustment by staff -------------------------------------------------

MAX_NOTE_LENGTH = 500


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("must not be 0: add points with a positive number, remove with a negative")
    return value


def _blank_is_none(value: Any) -> Any:
    """An emptied form field (blank text) means "none" (any other value is left to its type)."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


class AdjustPoints(Body):
    adjustment: Annotated[
        Int,
        Field(ge=-adjustments.MAX_ADJUSTMENT, le=adjustments.MAX_ADJUSTMENT),
        AfterValidator(_not_zero),
    ]
    note: Annotated[
        Str | None, Field(max_length=MAX_NOTE_LENGTH), AfterValidator(_blank_is_none)
    ] = None
    update_lifetime_points: Bool = True


# Rewards: the shape of each field only (types, text for numbers, blank means none). What a
# reward may be (ranges, which fields a kind needs, what Shopify accepts) is
# loyalty.rewards.catalogue.validate's alone, so a form and a seed get the same messages, each
# pointing at its field. Amounts arrive as JSON numbers or decimal strings (a form field's
# text) and stay Decimals; collection and product gids as a list, or as text with one per line
# (or comma separated). -----------------------------------------------------------------------

MAX_REWARD_DESCRIPTION_LENGTH = 2000
MAX_GIDS = 100


def _decimal(value: Any) -> Decimal | None:
    """A number or a decimal string; blank or null is "none". Never through binary floats."""
    value = _blank_is_none(value)
    return None if value is None else exact_decimal(value, "must be a number")


def _gids(value: Any) -> Any:
    """Text with one gid per line (or comma separated), or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,]+", value) if part]
    return value


Amount = Annotated[Decimal | None, BeforeValidator(_decimal)]
Count = Annotated[Int | None, BeforeValidator(_blank_is_none)]
OptionalText = Annotated[Str | None, Field(max_length=255), BeforeValidator(_blank_is_none)]
Gids = Annotated[
    list[Annotated[Str, Field(max_length=255)]], Field(max_length=MAX_GIDS), BeforeValidator(_gids)
]


class SaveReward(Body):
    """A whole reward (create and edit alike: the form always sends every field it shows)."""

    name: Str
    kind: RewardKind
    points_cost: Count = None  # a variable reward's cost is its min_points
    description: Annotated[Str, Field(max_length=MAX_REWARD_DESCRIPTION_LENGTH)] = ""
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


class CancelRedemption(Body):
    reason: Annotated[
        Str | None, Field(max_length=MAX_CANCEL_REASON), BeforeValidator(_blank_is_none)
    ] = None


# Setup checklist --------------------------------------------------------------------------------


class ThemeEmbed(Body):
    confirmed: Bool


# Integrations: the saved key is never sent back, only its hint ---------------------------------

IntegrationApiKey = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=500),
]


class SaveIntegration(BaseModel):
    api_key: IntegrationApiKey
    enabled: Bool | None = None
