"""The referral events an intent carries (loyalty.referrals writes them on the advocate):
`{"event": "referral_sent" | "referral_completed", "referral_id": …}`, read back from the
referral so the event tells what was committed. Keyed by the referral's public id, one event
of each kind per referral, whatever the retries. The friend's email is never sent: these land on
the advocate's profile."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from loyalty.models import EarningHistoryEntry, Referral
from loyalty.outbox.claims import ClaimedIntent

SENT = "referral_sent"
COMPLETED = "referral_completed"
EVENTS = (SENT, COMPLETED)


async def referrals_of(
    shop_id: int, intents: Sequence[ClaimedIntent]
) -> dict[str, tuple[Referral, int | None]]:
    """The intents' referrals by public id, each with the advocate's points (when paid)."""
    public_ids = {
        str(i.payload.get("referral_id")) for i in intents if i.payload.get("event") in EVENTS
    }
    if not public_ids:
        return {}
    found = await Referral.filter(shop_id=shop_id, public_id__in=public_ids).select_related(
        "friend_reward"
    )
    entries = [r.advocate_entry_id for r in found if r.advocate_entry_id]
    points = dict(
        await EarningHistoryEntry.filter(shop_id=shop_id, public_id__in=entries).values_list(
            "public_id", "points"
        )
        if entries
        else []
    )
    return {r.public_id: (r, points.get(r.advocate_entry_id)) for r in found}


def referral_event(
    intent: ClaimedIntent, found: dict[str, tuple[Referral, int | None]]
) -> tuple[str, str, datetime, dict[str, Any]] | None:
    """(kind, key id, when, properties) of the intent's referral event, or None."""
    which = intent.payload.get("event")
    hit = found.get(str(intent.payload.get("referral_id")))
    if which not in EVENTS or hit is None:
        return None
    referral, points = hit
    properties: dict[str, Any] = {"referral_id": referral.public_id}
    if which == SENT:
        reward = referral.friend_reward if referral.friend_reward_id else None
        properties["friend_reward"] = reward.name if reward else None
        return SENT, referral.public_id, _utc(referral.created_at), properties
    properties["points"] = points or 0
    if referral.order_number:
        properties["order_number"] = referral.order_number
    when = referral.completed_at or referral.updated_at
    return COMPLETED, referral.public_id, _utc(when), properties


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
