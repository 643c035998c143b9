"""Resources as the public API renders them (attribute names and order follow the contract)."""

from __future__ import annotations

from typing import Any

from loyalty.clock import isoformat_z
from loyalty.earning.award import AwardedEntry


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
