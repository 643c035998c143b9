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
    if kind in _REWARD_KINDS:
        return _reward_sentence(kind, data, by)
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


_REWARD_KINDS = frozenset(
    {
        "reward_redeemed",
        "redemption_cancelled",
        "reward_points_returned",
        "reward_used",
        "reward_code_expired",
        "reward_code_refused",
        "redemption_cancel_refused",
        "reward_code_reactivated",
    }
)
_RETURNED_BECAUSE = {
    "cancelled": "redemption cancelled",
    "shopify_refused": "Shopify refused the code",
    "code_expired": "code expired",
}


def _reward_sentence(kind: str, data: dict[str, Any], by: str) -> str:
    """The rows loyalty.rewards writes about a redemption."""
    code = data.get("code")
    if kind == "reward_redeemed":
        spent = f"Spent {_points(data.get('points'))} on a reward"
        return spent + (f" (code {code})" if code else "")
    if kind == "redemption_cancelled":
        return f"Redemption cancelled by {by}"
    if kind == "reward_points_returned":
        why = _RETURNED_BECAUSE.get(str(data.get("reason")), str(data.get("reason") or ""))
        return f"{_points(data.get('points'))} returned" + (f" ({why})" if why else "")
    if kind == "reward_used":
        return f"Reward code used on order {data.get('order_id')}"
    if kind == "reward_code_expired":
        return "Reward code expired unused"
    if kind == "reward_code_refused":
        return f"Shopify refused the reward code: {data.get('message')}"
    if kind == "redemption_cancel_refused":
        return f"Cancelling the redemption was refused by Shopify: {data.get('message')}"
    return f"Reward code active again (order {data.get('order_id')} cancelled or refunded)"


def entry_label(entry: EarningHistoryEntry) -> str:
    """What a ledger entry was for: the rule's name, or what kind of entry it is."""
    rule = entry.rule
    if rule is not None and entry.action not in {"order_cancelled", "order_refunded"}:
        return rule.name
    if entry.order_number:
        return f"{entry.action.replace('_', ' ').capitalize()} (order {entry.order_number})"
    return entry.action.replace("_", " ").capitalize()
