"""The loyalty events an outbox intent carries, derived from what the change wrote.

Every change writes one intent per platform with a small payload; the event is read back from
the rows the change committed, so it is told the way the ledger tells it:
- `{"entry_id": …}` (awards, purchases, birthdays, adjustments): the entry's points, as
  *earned* when they were approved at once or *pending* when they wait for approval (decided by
  `points_due_at`, so a later approval does not change what the award said). A purchase payload
  (`order_id` too) covers every rule the order earned.
- `{"event": "points_approved" | "points_expired", "entry_id": …}`: the lifecycle jobs.
- `{"event": "points_expiring_soon", …}`: the notice's figures are in the payload.
- `{"event": "points_redeemed", "redemption_id": …}` (loyalty.rewards.redeem): the
  redemption's points, reward and code, read back from the redemption.
- `{"event": "referral_sent" | "referral_completed", "referral_id": …}` (loyalty.referrals, on
  the advocate): read back from the referral (loyalty.sync.referral_events).
- any change that moved the customer's tier wrote a `vip_tier_changed` activity row in the same
  transaction (same customer and timestamp, or naming the award's entry): a tier-changed event.
- anything else (webhooks, reversals, exclusion, resyncs): no event, only the profile sync.

Each event has a stable `key` (from the entry's public id, the activity's id or the notice
time): the same intent yields the same keys on every retry. The key is what the app records
once a platform has an event (loyalty.outbox.deliveries, so it is never sent again) and what it
sends as Klaviyo's `unique_id`, Omnisend's `eventID` and Postscript's `external_id`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from loyalty.models import Activity, EarningHistoryEntry, OutboxIntent, Redemption, VipTier
from loyalty.outbox.claims import ClaimedIntent
from loyalty.sync.referral_events import referral_event, referrals_of

TIER_ACTIVITY = "vip_tier_changed"
# Payload `event` values written by the lifecycle jobs (loyalty.lifecycle).
APPROVED = "points_approved"
EXPIRED = "points_expired"
EXPIRING_SOON = "points_expiring_soon"
REDEEMED = "points_redeemed"  # loyalty.rewards.redeem


class EventKind(StrEnum):
    POINTS_EARNED = "points_earned"
    POINTS_PENDING = "points_pending"
    POINTS_APPROVED = "points_approved"
    VIP_TIER_CHANGED = "vip_tier_changed"
    POINTS_EXPIRED = "points_expired"
    POINTS_EXPIRING_SOON = "points_expiring_soon"
    POINTS_REDEEMED = "points_redeemed"
    REFERRAL_SENT = "referral_sent"
    REFERRAL_COMPLETED = "referral_completed"


@dataclass(frozen=True, slots=True)
class LoyaltyEvent:
    kind: EventKind
    key: str  # stable across retries; unique per event
    customer_id: int
    occurred_at: datetime
    properties: dict[str, Any]


async def events_for_intents(
    *, shop_id: int, intents: Sequence[ClaimedIntent]
) -> dict[int, list[LoyaltyEvent]]:
    """The events of each intent (by intent id), each event under one intent only. An intent
    listed twice is read once: a repeat can never replace its events with an empty list."""
    unique = {i.id: i for i in intents if i.customer_id is not None}
    customer_intents = [unique[intent_id] for intent_id in sorted(unique)]
    if not customer_intents:
        return {}
    created = dict(
        await OutboxIntent.filter(id__in=[i.id for i in customer_intents]).values_list(
            "id", "created_at"
        )
    )
    entries = await _entries(shop_id, customer_intents)
    tiers = await _tier_changes(customer_intents)
    redeemed = await _redemptions(shop_id, customer_intents)
    referrals = await referrals_of(shop_id, customer_intents)
    seen: set[str] = set()
    result: dict[int, list[LoyaltyEvent]] = {}
    for intent in customer_intents:
        events = [*_entry_events(intent, entries), *tiers.events(intent, created.get(intent.id))]
        if intent.payload.get("event") == EXPIRING_SOON:
            events.append(_expiring_soon(intent))
        found = redeemed.get(str(intent.payload.get("redemption_id")))
        if intent.payload.get("event") == REDEEMED and found is not None:
            events.append(_redeemed(found))
        if (referred := referral_event(intent, referrals)) and intent.customer_id is not None:
            kind, ident, at, properties = referred
            events.append(_event(EventKind(kind), ident, intent.customer_id, at, properties))
        fresh = [event for event in events if event.key not in seen]
        seen.update(event.key for event in fresh)
        result[intent.id] = fresh
    return result


# -- entries ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entries:
    by_public_id: dict[str, EarningHistoryEntry]
    by_order: dict[tuple[int, int], list[EarningHistoryEntry]]

    def of(self, intent: ClaimedIntent) -> list[EarningHistoryEntry]:
        payload = intent.payload
        entry = self.by_public_id.get(str(payload.get("entry_id")))
        order_id = payload.get("order_id")
        if entry is not None and isinstance(order_id, int) and intent.customer_id is not None:
            return self.by_order.get((intent.customer_id, order_id), [entry])
        return [entry] if entry is not None else []


async def _entries(shop_id: int, intents: Sequence[ClaimedIntent]) -> _Entries:
    public_ids = {
        str(i.payload["entry_id"]) for i in intents if isinstance(i.payload.get("entry_id"), str)
    }
    orders = {
        (i.customer_id, i.payload["order_id"])
        for i in intents
        if "entry_id" in i.payload and isinstance(i.payload.get("order_id"), int)
    }
    found = (
        await EarningHistoryEntry.filter(shop_id=shop_id, public_id__in=public_ids).select_related(
            "rule"
        )
        if public_ids
        else []
    )
    by_order: dict[tuple[int, int], list[EarningHistoryEntry]] = defaultdict(list)
    if orders:
        order_entries = (
            await EarningHistoryEntry.filter(
                shop_id=shop_id,
                customer_id__in=sorted({c for c, _ in orders if c is not None}),
                order_id__in=sorted({o for _, o in orders}),
                reversed_entry_id__isnull=True,
            )
            .select_related("rule")
            .order_by("id")
        )
        for entry in order_entries:
            if entry.order_id is not None and entry.dedupe_key.startswith("order:"):
                by_order[(entry.customer_id, entry.order_id)].append(entry)
    return _Entries({e.public_id: e for e in found}, dict(by_order))


def _entry_events(intent: ClaimedIntent, entries: _Entries) -> list[LoyaltyEvent]:
    assert intent.customer_id is not None
    which = intent.payload.get("event")
    events = []
    for entry in entries.of(intent):
        if which == EXPIRED:
            if entry.points < 0:
                events.append(
                    _event(
                        EventKind.POINTS_EXPIRED,
                        entry.public_id,
                        intent.customer_id,
                        entry.created_at,
                        {
                            "points": -entry.points,
                            "entry_id": entry.public_id,
                            "expired_entry_id": intent.payload.get("expired_entry_id"),
                        },
                    )
                )
            continue
        if entry.reversed_entry_id is not None or entry.points <= 0:
            continue
        if which == APPROVED:
            kind = EventKind.POINTS_APPROVED
            at = entry.points_given_at or entry.updated_at
        else:
            pending = entry.points_due_at is not None
            kind = EventKind.POINTS_PENDING if pending else EventKind.POINTS_EARNED
            at = entry.created_at
        properties: dict[str, Any] = {
            "points": entry.points,
            "action": entry.action,
            "earning_rule": entry.rule.name if entry.rule else None,
            "entry_id": entry.public_id,
        }
        if entry.order_number:
            properties["order_number"] = entry.order_number
        if kind is EventKind.POINTS_PENDING and entry.points_due_at:
            properties["points_due_at"] = _iso(entry.points_due_at)
        events.append(_event(kind, entry.public_id, intent.customer_id, at, properties))
    return events


# -- tier changes ----------------------------------------------------------------------------


@dataclass(slots=True)
class _TierChanges:
    by_customer: dict[int, list[Activity]]
    tiers: dict[int, tuple[str, int]]  # id → (name, points_required)

    def events(self, intent: ClaimedIntent, created_at: datetime | None) -> list[LoyaltyEvent]:
        assert intent.customer_id is not None
        entry_id = intent.payload.get("entry_id")
        events = []
        for activity in self.by_customer.get(intent.customer_id, []):
            data = activity.data or {}
            same_change = (entry_id is not None and data.get("entry_id") == entry_id) or (
                created_at is not None and activity.created_at == created_at
            )
            if same_change:
                events.append(self._event(intent.customer_id, activity))
        return events

    def _event(self, customer_id: int, activity: Activity) -> LoyaltyEvent:
        data = activity.data or {}
        before, after = data.get("from_tier_id"), data.get("to_tier_id")
        previous = data.get("from_tier") or self._name(before)
        new = data.get("to_tier") or self._name(after)
        return _event(
            EventKind.VIP_TIER_CHANGED,
            str(activity.id),
            customer_id,
            activity.created_at,
            {
                "previous_tier": previous,
                "new_tier": new,
                "direction": self._direction(before, after),
            },
        )

    def _name(self, tier_id: Any) -> str | None:
        found = self.tiers.get(tier_id) if isinstance(tier_id, int) else None
        return found[0] if found else None

    def _direction(self, before: Any, after: Any) -> str:
        if after is None:
            return "down"
        if before is None:
            return "up"
        low = self.tiers.get(before, ("", -1))[1]
        high = self.tiers.get(after, ("", -1))[1]
        return "down" if high < low else "up"


async def _tier_changes(intents: Sequence[ClaimedIntent]) -> _TierChanges:
    customer_ids = sorted({i.customer_id for i in intents if i.customer_id is not None})
    activities = await Activity.filter(customer_id__in=customer_ids, kind=TIER_ACTIVITY).order_by(
        "id"
    )
    by_customer: dict[int, list[Activity]] = defaultdict(list)
    tier_ids: set[int] = set()
    for activity in activities:
        assert activity.customer_id is not None
        by_customer[activity.customer_id].append(activity)
        for name in ("from_tier_id", "to_tier_id"):
            if isinstance(value := (activity.data or {}).get(name), int):
                tier_ids.add(value)
    tiers = {
        tier_id: (name, required)
        for tier_id, name, required in await VipTier.filter(id__in=sorted(tier_ids)).values_list(
            "id", "name", "points_required"
        )
    }
    return _TierChanges(dict(by_customer), tiers)


# -- redemptions -----------------------------------------------------------------------------


async def _redemptions(shop_id: int, intents: Sequence[ClaimedIntent]) -> dict[str, Redemption]:
    public_ids = {
        str(i.payload.get("redemption_id")) for i in intents if i.payload.get("event") == REDEEMED
    }
    if not public_ids:
        return {}
    found = await Redemption.filter(shop_id=shop_id, public_id__in=public_ids).select_related(
        "reward"
    )
    return {redemption.public_id: redemption for redemption in found}


def _redeemed(redemption: Redemption) -> LoyaltyEvent:
    properties: dict[str, Any] = {
        "points": redemption.points_spent,
        "reward": redemption.reward.name,
        "reward_id": redemption.reward.public_id,
        "reward_type": str(redemption.kind),
        "value": str(redemption.value),
        "redemption_id": redemption.public_id,
    }
    if redemption.code:
        properties["code"] = redemption.code
    if redemption.expires_at:
        properties["expires_at"] = _iso(redemption.expires_at)
    return _event(
        EventKind.POINTS_REDEEMED,
        redemption.public_id,
        redemption.customer_id,
        redemption.redeemed_at,
        properties,
    )


# -- notices ---------------------------------------------------------------------------------


def _expiring_soon(intent: ClaimedIntent) -> LoyaltyEvent:
    assert intent.customer_id is not None
    payload = intent.payload
    notice = str(payload.get("notice"))
    return _event(
        EventKind.POINTS_EXPIRING_SOON,
        f"{intent.customer_id}:{notice}",
        intent.customer_id,
        _parse(notice),
        {
            "points_expiring": payload.get("points"),
            "expires_at": payload.get("expires_at"),
            "days_until_expiry": payload.get("days_until_expiry"),
        },
    )


def _event(
    kind: EventKind, ident: str, customer_id: int, at: datetime, properties: dict[str, Any]
) -> LoyaltyEvent:
    return LoyaltyEvent(kind, f"loyalty:{kind}:{ident}", customer_id, _utc(at), properties)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    try:
        return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return datetime.now(UTC)
