"""Plain words for what the admin shows: a customer's activity rows and ledger entries."""

from __future__ import annotations

from typing import Any

from loyalty.models import Activity, EarningHistoryEntry

_ACTORS = {
    "staff": "staff",
    "api_key": "an API key",
    "system": "the app",
    "storefront": "the customer",
}


def _points(value: Any) -> str:
    number = int(value or 0)
    return f"{number:,} point{'s' if abs(number) != 1 else ''}"


def activity_sentence(row: Activity) -> str:
    """`Adjusted by staff: +100 points ("Goodwill")`, `Moved from Silver to Gold`, …"""
    data = row.data or {}
    by = _ACTORS.get(str(row.actor_type), str(row.actor_type))
    kind = row.kind
    if kind == "points_awarded":
        status = " (pending approval)" if data.get("status") == "pending" else ""
        return f"Earned {_points(data.get('points'))}{status}"
    if kind == "points_adjusted":
        applied = int(data.get("points") or 0)
        asked = int(data.get("adjustment") or applied)
        sentence = f"Adjusted by {by}: {applied:+,} points"
        if asked != applied:
            sentence += f" ({asked:+,} asked; the balance stops at zero)"
        return sentence
    if kind == "vip_tier_changed":
        before = data.get("from_tier") or "no tier"
        after = data.get("to_tier") or "no tier"
        return f"Moved from {before} to {after}"
    if kind == "customer_excluded":
        return f"Excluded from the programme by {by if data.get('excluded_by') != 'tag' else 'tag'}"
    if kind == "customer_included":
        return f"Included in the programme again by {by}"
    if kind == "points_reversed":
        taken = _points(abs(int(data.get("points") or 0)))
        return f"{taken} taken back (order refunded or cancelled)"
    if kind == "points_rejected":
        return f"Pending {_points(data.get('points'))} rejected (order refunded or cancelled)"
    if kind == "points_approved":
        return f"{_points(data.get('points'))} approved"
    if kind == "points_expired":
        return f"{_points(abs(int(data.get('points') or 0)))} expired"
    if kind == "customer_redacted":
        return "Personal data erased at the customer's request"
    return kind.replace("_", " ").capitalize()


def entry_label(entry: EarningHistoryEntry) -> str:
    """What a ledger entry was for: the rule's name, or what kind of entry it is."""
    rule = entry.rule
    if rule is not None and entry.action not in {"order_cancelled", "order_refunded"}:
        return rule.name
    if entry.order_number:
        return f"{entry.action.replace('_', ' ').capitalize()} (order {entry.order_number})"
    return entry.action.replace("_", " ").capitalize()
