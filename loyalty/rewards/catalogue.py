"""A shop's rewards: one validation of a reward's fields for every surface (admin, API, demo
seed), and creating, updating, (de)activating, deleting and finding rewards.

Guarantees:
- A reward that passes `validate` can always be turned into a discount Shopify accepts
  (loyalty.rewards.codes): amounts and percents in range, a free product names a variant and
  the collections or products that qualify for it (a buy-X-get-Y discount has no "all
  items"), a variable reward has a range and a value per point, applies-to names collections
  or products (not both: Shopify's `DiscountItemsInput` takes one).
- Every error is a ValidationError with the offending field's JSON pointer, nothing written.
- Every lookup is scoped to the shop; an inactive reward is "not found" to customers
  (`get_reward(..., active_only=True)`).
- A reward that was ever redeemed cannot be deleted (its redemptions keep pointing at it);
  deactivate it instead.
- Each change owes a rewrite of the shop's programme metafield (an intent in the same
  transaction), so the storefront shows the catalogue as it is.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from loyalty import ids
from loyalty.errors import ConflictError, RewardNotFoundError, ValidationError, VipTierNotFoundError
from loyalty.models import Redemption, Reward, RewardKind, VipTier
from loyalty.outbox.intents import write_shop_sync_intent
from loyalty.paging import NEWEST_FIRST, Paged, Sort, Window

REWARD = "reward"
# The public API's sortable fields (public name → column).
REWARD_SORTS = {"created_at": "created_at", "name": "name", "points_cost": "points_cost"}
MAX_POINTS = 10_000_000
MAX_VALIDITY_DAYS = 3650
VARIABLE_KINDS = frozenset({RewardKind.FIXED_AMOUNT, RewardKind.STORE_CREDIT})
# Kinds whose discount applies to chosen collections or products (a free product: the items
# the customer buys to qualify, which Shopify's buy-X-get-Y discount requires).
PER_PRODUCT_KINDS = frozenset(
    {RewardKind.FIXED_AMOUNT, RewardKind.PERCENTAGE, RewardKind.FREE_PRODUCT}
)
# Shopify ids are 64-bit (at most 20 digits), which also keeps a gid within its column.
_GID = {
    "variant": re.compile(r"^gid://shopify/ProductVariant/[0-9]{1,20}$"),
    "product": re.compile(r"^gid://shopify/Product/[0-9]{1,20}$"),
    "collection": re.compile(r"^gid://shopify/Collection/[0-9]{1,20}$"),
}


class RewardInUseError(ConflictError):
    code = "reward_in_use"
    title = "Reward has redemptions"


@dataclass(frozen=True, slots=True)
class RewardFields:
    """A reward as the merchant configures it (the admin form, the demo seed)."""

    name: str
    kind: RewardKind
    points_cost: int
    description: str = ""
    value: Decimal = Decimal(0)  # amount off / store credit, or percent off
    is_variable: bool = False
    min_points: int | None = None
    max_points: int | None = None
    value_per_point: Decimal | None = None
    free_variant_gid: str | None = None
    minimum_subtotal: Decimal | None = None
    collection_gids: tuple[str, ...] = ()
    product_gids: tuple[str, ...] = ()
    combines_with_order: bool = False
    combines_with_product: bool = False
    combines_with_shipping: bool = False
    code_validity_days: int | None = None
    minimum_tier_id: str | None = None  # the tier's public id
    per_customer_limit: int | None = None
    is_active: bool = True


def _fail(detail: str, name: str) -> ValidationError:
    return ValidationError(detail, pointer=f"/{name}")


def _check_amount(value: Decimal, name: str, *, places: int = 2) -> None:
    if not value.is_finite() or value <= 0:
        raise _fail(f"{name} must be greater than 0", name)
    if value >= Decimal(10) ** 8:  # first: quantizing a huge value raises InvalidOperation
        raise _fail(f"{name} is too large", name)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise _fail(f"{name} has more than {places} decimal places", name)


def _check_count(value: int | None, name: str, *, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise _fail(f"{name} must be between {low} and {high}", name)


def _check_variable(data: RewardFields) -> None:
    if data.kind not in VARIABLE_KINDS:
        raise _fail("only fixed_amount and store_credit rewards can be variable", "is_variable")
    if data.min_points is None or data.max_points is None or data.value_per_point is None:
        raise _fail(
            "a variable reward needs min_points, max_points and value_per_point", "min_points"
        )
    _check_count(data.min_points, "min_points", low=1, high=MAX_POINTS)
    _check_count(data.max_points, "max_points", low=data.min_points, high=MAX_POINTS)
    _check_amount(data.value_per_point, "value_per_point", places=4)


def _check_value(data: RewardFields) -> None:
    if data.kind is RewardKind.PERCENTAGE:
        _check_amount(data.value, "value")
        if data.value > 100:
            raise _fail("a percentage is at most 100", "value")
    elif data.kind in VARIABLE_KINDS and not data.is_variable:
        _check_amount(data.value, "value")
    elif data.kind is RewardKind.FREE_PRODUCT:
        if not data.free_variant_gid or not _GID["variant"].match(data.free_variant_gid):
            raise _fail("free_variant_gid must be a ProductVariant gid", "free_variant_gid")
        if not (data.collection_gids or data.product_gids):
            raise _fail(
                "a free product needs the collections or products that qualify for it",
                "collection_gids",
            )


def _check_applies_to(data: RewardFields) -> None:
    if data.collection_gids and data.product_gids:
        raise _fail("a reward applies to collections or to products, not both", "product_gids")
    if (data.collection_gids or data.product_gids) and data.kind not in PER_PRODUCT_KINDS:
        raise _fail(f"a {data.kind} reward applies to the whole order", "product_gids")
    for name, kind in (("collection_gids", "collection"), ("product_gids", "product")):
        for gid in getattr(data, name):
            if not _GID[kind].match(gid):
                raise _fail(f"{gid!r} is not a {kind.title()} gid", name)


def validate(data: RewardFields) -> None:
    """Raise ValidationError (with the field's pointer) unless `data` is a reward we can
    offer and turn into a Shopify discount."""
    if not data.name.strip() or len(data.name) > 255:
        raise _fail("name must be 1 to 255 characters", "name")
    if data.kind not in RewardKind:
        raise _fail("unknown reward kind", "kind")
    _check_count(data.points_cost, "points_cost", low=1, high=MAX_POINTS)
    if data.is_variable:
        _check_variable(data)
    _check_value(data)
    if data.minimum_subtotal is not None:  # an amount like any other (its column's range)
        _check_amount(data.minimum_subtotal, "minimum_subtotal")
    _check_applies_to(data)
    _check_count(data.code_validity_days, "code_validity_days", low=1, high=MAX_VALIDITY_DAYS)
    _check_count(data.per_customer_limit, "per_customer_limit", low=1, high=MAX_POINTS)


async def _columns(shop_id: int, data: RewardFields) -> dict[str, Any]:
    validate(data)
    values = asdict(data)
    tier_public_id = values.pop("minimum_tier_id")
    values["minimum_tier_id"] = None
    if tier_public_id is not None:
        tier = await VipTier.get_or_none(shop_id=shop_id, public_id=tier_public_id)
        if tier is None:
            raise VipTierNotFoundError("No VIP tier with that id exists")
        values["minimum_tier_id"] = tier.id
    values["collection_gids"] = list(data.collection_gids)
    values["product_gids"] = list(data.product_gids)
    if data.is_variable:
        values["points_cost"] = data.min_points
    else:
        values.update(min_points=None, max_points=None, value_per_point=None)
    if data.kind is RewardKind.FREE_SHIPPING or data.is_variable:
        values["value"] = Decimal(0)
    return values


async def create_reward(*, shop_id: int, data: RewardFields) -> Reward:
    """A new reward for the shop (ValidationError, VipTierNotFoundError)."""
    columns = await _columns(shop_id, data)
    async with in_transaction():
        reward = await Reward.create(
            shop_id=shop_id, public_id=ids.new_public_id(REWARD), **columns
        )
        await write_shop_sync_intent(shop_id=shop_id, reason={"reward": reward.public_id})
    return reward


async def update_reward(*, shop_id: int, reward_id: str, data: RewardFields) -> Reward:
    """Replace a reward's fields. Redemptions made already keep what they were granted."""
    columns = await _columns(shop_id, data)
    async with in_transaction():
        reward = await get_reward(shop_id=shop_id, reward_id=reward_id, for_update=True)
        await Reward.filter(id=reward.id).update(**columns)
        await write_shop_sync_intent(shop_id=shop_id, reason={"reward": reward.public_id})
    return await Reward.get(id=reward.id)


async def set_active(*, shop_id: int, reward_id: str, active: bool) -> Reward:
    async with in_transaction():
        reward = await get_reward(shop_id=shop_id, reward_id=reward_id, for_update=True)
        await Reward.filter(id=reward.id).update(is_active=active)
        await write_shop_sync_intent(shop_id=shop_id, reason={"reward": reward.public_id})
    return await Reward.get(id=reward.id)


async def delete_reward(*, shop_id: int, reward_id: str) -> None:
    """Delete a reward never redeemed (RewardInUseError otherwise: deactivate it)."""
    async with in_transaction():
        reward = await get_reward(shop_id=shop_id, reward_id=reward_id, for_update=True)
        if await Redemption.filter(reward_id=reward.id).exists():
            raise RewardInUseError("This reward has been redeemed; deactivate it instead")
        await reward.delete()
        await write_shop_sync_intent(shop_id=shop_id, reason={"reward": reward.public_id})


async def get_reward(
    *,
    shop_id: int,
    reward_id: str,
    active_only: bool = False,
    for_update: bool = False,
    with_tier: bool = False,
) -> Reward:
    """The shop's reward by public id (RewardNotFoundError; also when inactive and
    `active_only`); `with_tier` loads its `minimum_tier`."""
    query = Reward.filter(shop_id=shop_id, public_id=reward_id)
    if active_only:
        query = query.filter(is_active=True)
    if for_update:
        query = query.select_for_update()
    if with_tier:
        query = query.select_related("minimum_tier")
    reward = await query.first()
    if reward is None:
        raise RewardNotFoundError("No active reward with that id exists")
    return reward


async def list_rewards(*, shop_id: int, is_active: bool | None = None) -> list[Reward]:
    """The shop's rewards, cheapest first."""
    query = Reward.filter(shop_id=shop_id)
    if is_active is not None:
        query = query.filter(is_active=is_active)
    return await query.order_by("points_cost", "id")


async def page_rewards(
    *,
    shop_id: int,
    is_active: bool | None = None,
    sort: Sort = NEWEST_FIRST,
    window: Window = Window(),  # noqa: B008  # frozen dataclass: an immutable default
) -> Paged[Reward]:
    """One page of the shop's rewards (the public API's list), each with its `minimum_tier`."""
    query = Reward.filter(shop_id=shop_id)
    if is_active is not None:
        query = query.filter(is_active=is_active)
    total = await query.count()
    rows = (
        await query.select_related("minimum_tier")
        .order_by(*sort.order_by(REWARD_SORTS))
        .offset(window.offset)
        .limit(window.limit)
    )
    return Paged(list(rows), total)
