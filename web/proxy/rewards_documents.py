"""The rewards documents the storefront widget reads: each active reward as this shopper sees it
(whether they can redeem it now, how many points they still need) and a redemption with its
code. Plain JSON:API resources with ISO 8601 UTC timestamps; money as decimal strings; nothing
here is ever rendered into Liquid."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loyalty.clock import isoformat_z
from loyalty.models import CodeStatus, Reward
from loyalty.rewards.eligibility import Offer
from loyalty.rewards.redeem import points_step
from loyalty.rewards.views import RedemptionView


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value))


def reward(item: Reward, offer: Offer | None, tier_names: dict[int, str]) -> dict[str, Any]:
    """A reward; `offer` is None for a visitor (nothing is known about what they can afford)."""
    per_point = item.value_per_point
    return {
        "type": "reward",
        "id": item.public_id,
        "attributes": {
            "name": item.name,
            "description": item.description,
            "kind": str(item.kind),
            "points_cost": item.points_cost,
            "value": _money(item.value),
            "is_variable": item.is_variable,
            "min_points": item.min_points,
            "max_points": item.max_points,
            "value_per_point": _money(per_point),
            "points_step": points_step(Decimal(per_point)) if per_point is not None else 1,
            "minimum_subtotal": _money(item.minimum_subtotal),
            "minimum_tier": tier_names.get(item.minimum_tier_id or 0),
            "code_validity_days": item.code_validity_days,
            "redeemable": offer.redeemable if offer else False,
            "points_needed": offer.points_needed if offer else None,
            "tier_allowed": offer.tier_allowed if offer else None,
            "limit_reached": offer.limit_reached if offer else None,
        },
    }


def redemption(view: RedemptionView) -> dict[str, Any]:
    """A redemption as "my rewards" shows it: the code, and whether Shopify has it yet."""
    return {
        "type": "reward_history_entry",
        "id": view.id,
        "attributes": {
            "reward_id": view.reward_id,
            "reward_name": view.reward_name,
            "reward_discount_type": str(view.kind),
            "points_spent": view.points_spent,
            "value": _money(view.value),
            "discount_code": view.discount_code,
            "code_ready": view.shopify_status is CodeStatus.CREATED,
            "status": str(view.status),
            "redeemed_at": isoformat_z(view.redeemed_at),
            "expires_at": isoformat_z(view.expires_at),
        },
    }
