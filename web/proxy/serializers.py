"""The documents the storefront widget reads: the programme for a visitor, the signed-in
customer's loyalty state, and ways to earn. Shaped for the widget (plain JSON:API documents),
with timestamps ISO 8601 UTC; nothing here is ever rendered into Liquid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loyalty.clock import isoformat_z
from loyalty.customers import storefront
from loyalty.models import Shop


def earning_rule(rule: storefront.StorefrontRule) -> dict[str, Any]:
    return {
        "type": "earning_rule",
        "id": rule.id,
        "attributes": {
            "name": rule.name,
            "label": rule.label,
            "category": rule.category,
            "action": rule.action,
            "base_points": rule.base_points,
            "points": rule.points,
            "call_to_action_url": rule.call_to_action_url,
            "approval_time_days": rule.approval_time_days,
            "claimable": rule.claimable,
            "completed": rule.completed,
        },
    }


def vip_tier(tier: storefront.TierView | None) -> dict[str, Any] | None:
    if tier is None:
        return None
    return {
        "id": tier.id,
        "name": tier.name,
        "points_required": tier.points_required,
        "points_multiplier": float(tier.points_multiplier),
    }


def programme(
    shop: Shop,
    rules: Sequence[storefront.StorefrontRule],
    tiers: Sequence[storefront.TierView],
) -> dict[str, Any]:
    """For a visitor who is not signed in: what there is to earn, and how to join."""
    return {
        "type": "programme",
        "id": shop.domain,
        "attributes": {
            "signed_in": False,
            "ways_to_earn": [earning_rule(r) for r in rules],
            "tiers": [vip_tier(t) for t in tiers],
            "sign_in_url": "/account/login",
            "register_url": "/account/register",
        },
    }


def customer(summary: storefront.CustomerSummary) -> dict[str, Any]:
    """The signed-in customer's balance, tier progress and recent history."""
    return {
        "type": "storefront_customer",
        "id": str(summary.shopify_customer_id),
        "attributes": {
            "signed_in": True,
            "status": "excluded" if summary.excluded else "member",
            "points_balance": summary.points_balance,
            "pending_points": summary.pending_points,
            "lifetime_points": summary.lifetime_points,
            "vip_tier": vip_tier(summary.tier),
            "next_tier": vip_tier(summary.next_tier),
            "points_to_next_tier": summary.points_to_next_tier,
            "progress_to_next_tier": summary.progress_to_next_tier,
            "history": [
                {
                    "id": h.id,
                    "action": h.action,
                    "points": h.points,
                    "status": h.status,
                    "points_given_at": isoformat_z(h.points_given_at),
                    "points_due_at": isoformat_z(h.points_due_at),
                    "points_expiry_at": isoformat_z(h.points_expiry_at),
                    "created_at": isoformat_z(h.created_at),
                }
                for h in summary.history
            ],
        },
    }
