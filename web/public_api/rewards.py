"""`/api/v1` rewards, read-only: list the shop's rewards and fetch one; the `reward` resource
(response models beside the routes). Rewards are configured in the admin (as in the hosted
product this API mirrors); redeeming one is web.public_api.rewards_history."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, cast

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from loyalty import models as orm
from loyalty.models import RewardKind
from loyalty.rewards import catalogue
from web.public_api.context import principal
from web.public_api.documents import (
    Document,
    ListDocument,
    Model,
    PageMeta,
    Time,
    resource_id,
    respond,
    stamp,
)
from web.public_api.params import Filter, Listing
from web.public_api.spec import Operation, Reply

REWARDS = Listing(
    catalogue.REWARD_SORTS,
    {"is_active": Filter("Active (redeemable) or inactive rewards", flag=True)},
)


def amount(value: Decimal | None) -> float | None:
    """A money amount or percent as a JSON number (at most 2 places: loyalty.rewards.catalogue
    validates it; a value per point has up to 4)."""
    return None if value is None else float(value)


class CombinesWith(Model):
    order_discounts: bool
    product_discounts: bool
    shipping_discounts: bool


class RewardAttributes(Model):
    name: str
    description: str
    discount_type: RewardKind = Field(description="`store_credit`: Shopify store credit, no code")
    reward_type: Literal["discount", "tier"] = Field(
        description="`tier`: only for customers on `minimum_vip_tier_id` or a higher tier"
    )
    points_cost: int = Field(description="A variable reward: its minimum (`min_points`)")
    discount_amount: float | None = Field(
        description="Money off or store credit (shop currency), or the percent off; null for "
        "free shipping, a free product and variable rewards"
    )
    is_variable: bool = Field(
        description="The customer chooses the points (`points` on purchase), each worth "
        "`value_per_point`"
    )
    min_points: int | None
    max_points: int | None
    value_per_point: float | None
    minimum_spend: float | None = Field(description="The order subtotal the code requires")
    free_product_variant_id: str | None = Field(description="A free product: its variant's gid")
    applies_to_collection_ids: list[str] = Field(description="Collection gids; none: every product")
    applies_to_product_ids: list[str] = Field(description="Product gids; none: every product")
    combines_with: CombinesWith
    expiry_days: int | None = Field(description="How long a code stays valid; null: no expiry")
    minimum_vip_tier_id: str | None
    max_redemptions: int | None = Field(description="Per customer; null: unlimited")
    is_active: bool
    created_at: Time
    updated_at: Time


class Reward(Model):
    type: Literal["reward"] = "reward"
    id: str = resource_id("reward_…")
    attributes: RewardAttributes


def reward(row: orm.Reward) -> Reward:
    """`minimum_tier` must have been fetched."""
    tier = row.minimum_tier
    return Reward(
        id=row.public_id,
        attributes=RewardAttributes(
            name=row.name,
            description=row.description,
            discount_type=RewardKind(row.kind),
            reward_type="tier" if tier is not None else "discount",
            points_cost=row.points_cost,
            discount_amount=_discount_amount(row),
            is_variable=row.is_variable,
            min_points=row.min_points,
            max_points=row.max_points,
            value_per_point=amount(row.value_per_point),
            minimum_spend=amount(row.minimum_subtotal),
            free_product_variant_id=row.free_variant_gid,
            applies_to_collection_ids=list(row.collection_gids or ()),
            applies_to_product_ids=list(row.product_gids or ()),
            combines_with=CombinesWith(
                order_discounts=row.combines_with_order,
                product_discounts=row.combines_with_product,
                shipping_discounts=row.combines_with_shipping,
            ),
            expiry_days=row.code_validity_days,
            minimum_vip_tier_id=tier.public_id if tier is not None else None,
            max_redemptions=row.per_customer_limit,
            is_active=row.is_active,
            created_at=stamp(row.created_at),
            updated_at=stamp(row.updated_at),
        ),
    )


def _discount_amount(row: orm.Reward) -> float | None:
    if row.is_variable or row.kind in (RewardKind.FREE_SHIPPING, RewardKind.FREE_PRODUCT):
        return None
    return amount(row.value)


class RewardDocument(Document[Reward]):
    """`{"data": Reward}`"""


class RewardList(ListDocument[Reward, PageMeta]):
    """`{"data": [Reward, …], "meta": PageMeta}`"""


async def list_rewards(request: Request) -> Response:
    query = REWARDS.parse(request.query_params)
    found = await catalogue.page_rewards(
        shop_id=principal(request).shop.id,
        is_active=cast(bool | None, query.filters["is_active"]),
        sort=query.sort,
        window=query.page.window,
    )
    return respond(
        RewardList(
            data=[reward(row) for row in found.items], meta=PageMeta(**query.page.meta(found.total))
        )
    )


async def get_reward(request: Request) -> Response:
    row = await catalogue.get_reward(
        shop_id=principal(request).shop.id,
        reward_id=request.path_params["reward_id"],
        with_tier=True,
    )
    return respond(RewardDocument(data=reward(row)))


OPERATIONS = (
    Operation(
        method="GET",
        path="/rewards",
        name="api.rewards.list",
        endpoint=list_rewards,
        operation_id="listRewards",
        tag="Rewards",
        summary="List the shop's rewards",
        replies=(Reply(200, "A page of rewards", RewardList),),
        errors=(400, 401),
        params=REWARDS.parameters(),
    ),
    Operation(
        method="GET",
        path="/rewards/{reward_id}",
        name="api.rewards.get",
        endpoint=get_reward,
        operation_id="getReward",
        tag="Rewards",
        summary="Fetch one reward (inactive ones too)",
        replies=(Reply(200, "The reward", RewardDocument),),
        errors=(400, 401, 404),
    ),
)
