"""Resources as the public API renders them (attribute names and order follow the contract)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from loyalty.clock import isoformat_z
from loyalty.customers.members import Member
from loyalty.earning import adjustments, custom_actions
from loyalty.earning.adjustments import Adjustment
from loyalty.earning.award import AwardedEntry
from loyalty.earning.custom_actions import ActionAward
from loyalty.models import Customer, EarningHistoryEntry, EarningRule, EarningStatus, VipTier
from loyalty.points import as_multiplier
from web.jsonapi import resource


def earning_history_entry(entry: AwardedEntry) -> dict[str, Any]:
    return {
        "type": "earning_history_entry",
        "id": entry.public_id,
        "attributes": {
            "earning_rule_id": entry.earning_rule_id,
            "action": entry.action,
            "points": entry.points,
            "base_points": entry.base_points,
            "points_multiplier": float(entry.points_multiplier),
            "status": str(entry.status),
            "points_given_at": isoformat_z(entry.points_given_at),
            "points_due_at": isoformat_z(entry.points_due_at),
            "points_expiry_at": isoformat_z(entry.points_expiry_at),
            "created_at": isoformat_z(entry.created_at),
            "updated_at": isoformat_z(entry.updated_at),
        },
    }


# The rest of /api/v1. Attribute names are the seed product's (shared/reference/
# seed-product-api.md), then what this app adds; web/openapi.py documents each one.


def _multiplier(value: Decimal | str | float | None) -> float:
    return float(as_multiplier(value))


def _calendar(value: date | None) -> str | None:
    """Dates of birth and anniversaries in the seed's full-timestamp form."""
    if value is None:
        return None
    return f"{value.isoformat()}T00:00:00.000Z"


def _tier_summary(tier: VipTier) -> dict[str, Any]:
    return {
        "id": tier.public_id,
        "name": tier.name,
        "points_required": tier.points_required,
        "points_multiplier": _multiplier(tier.points_multiplier),
        "badge_image_url": None,
        "badge_color": tier.badge_color,
    }


def customer(member: Member, *, exclude_vip: bool = False) -> dict[str, Any]:
    """`vip_tier` must have been fetched (unless `exclude_vip`)."""
    record = member.customer
    tier = None if exclude_vip else record.vip_tier
    return resource(
        "customer",
        str(record.shopify_customer_id),
        {
            "shopify_customer_id": str(record.shopify_customer_id),
            "email": record.email,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "current_points": record.points_balance,
            "lifetime_points": record.lifetime_points,
            "redeemed_points": record.redeemed_points,
            "pending_points": record.pending_points,
            "loyalty_status": "excluded" if record.is_excluded else "member",
            "is_excluded": record.is_excluded,
            "date_of_birth": _calendar(record.date_of_birth),
            "anniversary_date": _calendar(record.anniversary_date),
            "referral_url": None,
            "referral_code": None,
            "vip_tier": _tier_summary(tier) if tier is not None else None,
            "points_expire_at": isoformat_z(member.points_expire_at),
            "created_at": isoformat_z(record.created_at),
            "updated_at": isoformat_z(record.updated_at),
        },
    )


def customer_date(record: Customer, kind: str) -> dict[str, Any]:
    """`customer_birthday` or `customer_anniversary`."""
    name = "date_of_birth" if kind == "birthday" else "anniversary_date"
    return resource(
        f"customer_{kind}",
        str(record.shopify_customer_id),
        {
            "shopify_customer_id": str(record.shopify_customer_id),
            "email": record.email,
            name: _calendar(getattr(record, name)),
        },
    )


def vip_tier(tier: VipTier) -> dict[str, Any]:
    return resource(
        "vip_tier",
        tier.public_id,
        {
            "name": tier.name,
            "description": tier.description,
            "points_required": tier.points_required,
            "points_multiplier": _multiplier(tier.points_multiplier),
            "badge_image_url": None,
            "badge_color": tier.badge_color,
            "rewards": [],
            "created_at": isoformat_z(tier.created_at),
            "updated_at": isoformat_z(tier.updated_at),
        },
    )


def earning_rule(rule: EarningRule) -> dict[str, Any]:
    return resource(
        "earning_rule",
        rule.public_id,
        {
            "name": rule.name,
            "description": rule.description,
            "action": rule.action,
            "category": str(rule.category),
            "is_active": rule.is_active,
            "points_to_give": rule.points,
            "customer_facing_label": rule.customer_facing_label,
            "call_to_action_url": rule.call_to_action_url,
            "approval_time_days": rule.approval_time_days,
            "action_key": rule.action_key,
            "repeatable": rule.repeatable,
            "limit_count": rule.limit_count,
            "limit_period_days": rule.limit_period_days,
            "created_at": isoformat_z(rule.created_at),
            "updated_at": isoformat_z(rule.updated_at),
        },
    )


def history_entry(entry: EarningHistoryEntry) -> dict[str, Any]:
    """`rule` must have been fetched."""
    rule = entry.rule
    return resource(
        "earning_history_entry",
        entry.public_id,
        {
            "earning_rule_id": rule.public_id if rule is not None else None,
            "action": entry.action,
            "points": entry.points,
            "base_points": entry.base_points,
            "points_multiplier": _multiplier(entry.points_multiplier),
            "status": str(entry.status),
            "points_given_at": isoformat_z(entry.points_given_at),
            "points_due_at": isoformat_z(entry.points_due_at),
            "points_expiry_at": isoformat_z(entry.points_expiry_at),
            "order_id": str(entry.order_id) if entry.order_id is not None else None,
            "order_number": entry.order_number,
            "shopify_date": None,
            "manual_intervention": entry.action == adjustments.ACTION,
            "note": entry.note,
            "points_remaining": entry.points_remaining,
            "metadata": entry.metadata,
            "created_at": isoformat_z(entry.created_at),
            "updated_at": isoformat_z(entry.updated_at),
        },
    )


def points_adjustment(adjustment: Adjustment) -> dict[str, Any]:
    return resource(
        "points_adjustment",
        str(adjustment.shopify_customer_id),
        {
            "shopify_customer_id": str(adjustment.shopify_customer_id),
            "adjustment": adjustment.adjustment,
            "points_before": adjustment.points_before,
            "points_after": adjustment.points_after,
            "current_points": adjustment.points_after,
            "note": adjustment.note,
            "applied_adjustment": adjustment.applied,
            "lifetime_points": adjustment.lifetime_points,
            "earning_history_entry_id": adjustment.entry_id,
            "created_at": isoformat_z(adjustment.created_at),
        },
    )


def custom_action_award(award: ActionAward) -> dict[str, Any]:
    """The whole response document (it is stored as is for idempotent replays)."""
    return {
        "data": resource(
            "earning_history_entry",
            award.entry_id,
            {
                "earning_rule_id": award.earning_rule_id,
                "action": custom_actions.ACTION,
                "action_key": award.action_key,
                "result": "pending" if award.status is EarningStatus.PENDING else "awarded",
                "shopify_customer_id": str(award.shopify_customer_id),
                "points": award.points,
                "base_points": award.base_points,
                "points_multiplier": _multiplier(award.points_multiplier),
                "status": str(award.status),
                "points_balance": award.points_balance,
                "idempotency_key": award.idempotency_key,
                "replayed": False,
                "metadata": award.metadata,
                "points_given_at": isoformat_z(award.points_given_at),
                "points_due_at": isoformat_z(award.points_due_at),
                "points_expiry_at": isoformat_z(award.points_expiry_at),
                "created_at": isoformat_z(award.created_at),
                "updated_at": isoformat_z(award.created_at),
            },
        )
    }
