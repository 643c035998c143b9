"""`/app/api/rewards`: the shop's rewards catalogue as the merchant manages it — listed, read,
created, saved, switched on and off, and deleted (only a reward never redeemed: the core
refuses with `reward_in_use` otherwise; deactivating is the way to retire one).

Every rule about a reward's fields is loyalty.rewards.catalogue's; this module turns the form's
body into its `RewardFields` (web.admin.api.bodies.SaveReward) and renders what it returns.
Each change owes a rewrite of the shop's programme metafield: the catalogue commits that
intent with the change and the sweep dispatches it, as for rules and tiers (edits are rare and
a few in a row coalesce into one write).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.clock import isoformat_z
from loyalty.models import Reward, VipTier
from loyalty.reports import rewards as rewards_report
from loyalty.rewards import catalogue
from web.admin.api import bodies
from web.admin.api.context import body_of, shop
from web.http.jsonapi import document_response, resource


async def tier_ids(shop_id: int) -> dict[int, str]:
    """The shop's tiers, internal id → public id (a reward names its minimum tier by id)."""
    rows = await VipTier.filter(shop_id=shop_id).values_list("id", "public_id")
    return {int(row[0]): str(row[1]) for row in rows}


async def redemption_counts(shop_id: int) -> dict[int, int]:
    """How many times each of the shop's rewards was redeemed (any status)."""
    return await rewards_report.redemption_counts(shop_id=shop_id)


def _amount(value: Any) -> str | None:
    return None if value is None else f"{value:f}"


def reward_resource(
    reward: Reward, *, tiers: dict[int, str], redemptions: int | None = None
) -> dict[str, Any]:
    """A reward as the admin reads it; amounts as exact decimal strings."""
    attributes: dict[str, Any] = {
        "name": reward.name,
        "description": reward.description,
        "kind": str(reward.kind),
        "points_cost": reward.points_cost,
        "value": _amount(reward.value),
        "is_variable": reward.is_variable,
        "min_points": reward.min_points,
        "max_points": reward.max_points,
        "value_per_point": _amount(reward.value_per_point),
        "free_variant_gid": reward.free_variant_gid,
        "minimum_subtotal": _amount(reward.minimum_subtotal),
        "collection_gids": list(reward.collection_gids or []),
        "product_gids": list(reward.product_gids or []),
        "combines_with_order": reward.combines_with_order,
        "combines_with_product": reward.combines_with_product,
        "combines_with_shipping": reward.combines_with_shipping,
        "code_validity_days": reward.code_validity_days,
        "minimum_tier_id": tiers.get(reward.minimum_tier_id or 0),
        "per_customer_limit": reward.per_customer_limit,
        "is_active": reward.is_active,
        "created_at": isoformat_z(reward.created_at),
        "updated_at": isoformat_z(reward.updated_at),
    }
    if redemptions is not None:
        attributes["redemptions"] = redemptions
        attributes["deletable"] = redemptions == 0
    return resource("reward", reward.public_id, attributes)


async def _render(request: Request, reward: Reward, *, status: int = 200) -> Response:
    counts = await redemption_counts(reward.shop_id)
    tiers = await tier_ids(reward.shop_id)
    document = reward_resource(reward, tiers=tiers, redemptions=counts.get(reward.id, 0))
    return document_response(document, status=status)


async def list_rewards(request: Request) -> Response:
    current = shop(request)
    rewards = await catalogue.list_rewards(shop_id=current.id)
    counts = await redemption_counts(current.id)
    tiers = await tier_ids(current.id)
    return document_response(
        [reward_resource(r, tiers=tiers, redemptions=counts.get(r.id, 0)) for r in rewards]
    )


async def get_reward(request: Request) -> Response:
    reward = await catalogue.get_reward(
        shop_id=shop(request).id, reward_id=request.path_params["reward_id"]
    )
    return await _render(request, reward)


async def create_reward(request: Request) -> Response:
    body = await body_of(request, bodies.SaveReward)
    reward = await catalogue.create_reward(shop_id=shop(request).id, data=body.fields())
    return await _render(request, reward, status=201)


async def save_reward(request: Request) -> Response:
    body = await body_of(request, bodies.SaveReward)
    reward = await catalogue.update_reward(
        shop_id=shop(request).id, reward_id=request.path_params["reward_id"], data=body.fields()
    )
    return await _render(request, reward)


async def activate_reward(request: Request) -> Response:
    return await _set_active(request, active=True)


async def deactivate_reward(request: Request) -> Response:
    return await _set_active(request, active=False)


async def _set_active(request: Request, *, active: bool) -> Response:
    reward = await catalogue.set_active(
        shop_id=shop(request).id, reward_id=request.path_params["reward_id"], active=active
    )
    return await _render(request, reward)


async def delete_reward(request: Request) -> Response:
    await catalogue.delete_reward(
        shop_id=shop(request).id, reward_id=request.path_params["reward_id"]
    )
    return Response(status_code=204)


routes = [
    Route("/rewards", list_rewards, methods=["GET"], name="admin_api.rewards.list"),
    Route("/rewards", create_reward, methods=["POST"], name="admin_api.rewards.create"),
    Route("/rewards/{reward_id}", get_reward, methods=["GET"], name="admin_api.rewards.get"),
    Route("/rewards/{reward_id}", save_reward, methods=["PUT"], name="admin_api.rewards.save"),
    Route(
        "/rewards/{reward_id}", delete_reward, methods=["DELETE"], name="admin_api.rewards.delete"
    ),
    Route(
        "/rewards/{reward_id}/activate",
        activate_reward,
        methods=["POST"],
        name="admin_api.rewards.activate",
    ),
    Route(
        "/rewards/{reward_id}/deactivate",
        deactivate_reward,
        methods=["POST"],
        name="admin_api.rewards.deactivate",
    ),
]
