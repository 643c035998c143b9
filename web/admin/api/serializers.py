"""Resources as the admin API renders them. Ids are public (`rule_…`, `tier_…`, `key_…`; a
customer's Shopify id as a string), timestamps ISO 8601 UTC with milliseconds, multipliers
exact decimal strings ("1.50")."""

from __future__ import annotations

from typing import Any

from loyalty.clock import isoformat_z
from loyalty.customers.directory import CustomerDetail
from loyalty.earning.rules import RuleView
from loyalty.models import Activity, ApiKey, Customer, EarningHistoryEntry, Shop, VipTier
from loyalty.points import as_multiplier
from web.http.jsonapi import resource


def earning_rule(view: RuleView) -> dict[str, Any]:
    rule = view.rule
    return resource(
        "earning_rule",
        rule.public_id,
        {
            "name": rule.name,
            "description": rule.description,
            "action": rule.action,
            "category": str(rule.category),
            "points": rule.points,
            "approval_time_days": rule.approval_time_days,
            "customer_facing_label": rule.customer_facing_label,
            "call_to_action_url": rule.call_to_action_url,
            "is_active": rule.is_active,
            "action_key": rule.action_key,
            "repeatable": rule.repeatable,
            "limit_count": rule.limit_count,
            "limit_period_days": rule.limit_period_days,
            "after_first_order": rule.after_first_order,
            "category_locked": view.category_locked,
            "created_at": isoformat_z(rule.created_at),
            "updated_at": isoformat_z(rule.updated_at),
        },
    )


def vip_tier(tier: VipTier) -> dict[str, Any]:
    return resource("vip_tier", tier.public_id, _tier_attributes(tier))


def _tier_attributes(tier: VipTier) -> dict[str, Any]:
    return {
        "name": tier.name,
        "description": tier.description,
        "points_required": tier.points_required,
        "points_multiplier": str(as_multiplier(tier.points_multiplier)),
        "badge_color": tier.badge_color,
        "created_at": isoformat_z(tier.created_at),
        "updated_at": isoformat_z(tier.updated_at),
    }


def customer(record: Customer) -> dict[str, Any]:
    """`vip_tier` must have been fetched (select_related / fetch_related)."""
    tier = record.vip_tier
    return resource(
        "customer",
        str(record.shopify_customer_id),
        {
            "shopify_customer_id": str(record.shopify_customer_id),
            "email": record.email,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "loyalty_status": "excluded" if record.is_excluded else "member",
            "is_excluded": record.is_excluded,
            "excluded_by": record.excluded_by,  # "tag", "staff", "api" or null
            "points_balance": record.points_balance,
            "pending_points": record.pending_points,
            "lifetime_points": record.lifetime_points,
            "redeemed_points": record.redeemed_points,
            "vip_tier": (
                {"id": tier.public_id, **_tier_attributes(tier)} if tier is not None else None
            ),
            "created_at": isoformat_z(record.created_at),
            "updated_at": isoformat_z(record.updated_at),
        },
    )


def customer_detail(detail: CustomerDetail) -> dict[str, Any]:
    document = customer(detail.customer)
    document["attributes"]["earning_history"] = [
        _history_entry(entry) for entry in detail.earning_history
    ]
    document["attributes"]["activity"] = [_activity(row) for row in detail.activity]
    return document


def _history_entry(entry: EarningHistoryEntry) -> dict[str, Any]:
    """`rule` must have been fetched."""
    rule = entry.rule
    return {
        "id": entry.public_id,
        "earning_rule_id": rule.public_id if rule is not None else None,
        "action": entry.action,
        "points": entry.points,
        "base_points": entry.base_points,
        "points_multiplier": str(as_multiplier(entry.points_multiplier)),
        "status": str(entry.status),
        "points_given_at": isoformat_z(entry.points_given_at),
        "points_due_at": isoformat_z(entry.points_due_at),
        "points_expiry_at": isoformat_z(entry.points_expiry_at),
        "note": entry.note,
        "created_at": isoformat_z(entry.created_at),
        "updated_at": isoformat_z(entry.updated_at),
    }


def _activity(row: Activity) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "actor_type": str(row.actor_type),
        "actor_id": row.actor_id,
        "data": row.data,
        "created_at": isoformat_z(row.created_at),
    }


def api_key(key: ApiKey, *, secret: str | None = None) -> dict[str, Any]:
    """Never the hash; the secret only once, when the key is issued."""
    attributes: dict[str, Any] = {
        "name": key.name,
        "prefix": key.prefix,
        "scope": str(key.scope),
        "created_at": isoformat_z(key.created_at),
        "last_used_at": isoformat_z(key.last_used_at),
        "revoked_at": isoformat_z(key.revoked_at),
    }
    if secret is not None:
        attributes["key"] = secret
    return resource("api_key", key.public_id, attributes)


def programme_settings(shop: Shop) -> dict[str, Any]:
    return resource(
        "programme_settings",
        shop.domain,
        {
            "programme_enabled": shop.programme_enabled,
            "points_expiry_days": shop.points_expiry_days,
            "timezone": shop.timezone,
            "exclusion_tag": shop.exclusion_tag,
            "updated_at": isoformat_z(shop.updated_at),
        },
    )
