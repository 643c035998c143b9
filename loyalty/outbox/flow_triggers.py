"""Shopify Flow triggers owed to a shop: outbox intents of the `send_flow_triggers` job,
written in the transaction of the event they announce, so none is lost (the job sends them
with `flowTriggerReceive`, loyalty.sync.flow_triggers).

Two ways an intent comes to carry a trigger:
- derived: points earned, tier changed and reward redeemed are read back from the rows the
  change committed (loyalty.sync.events), from the intent every customer change writes with
  `write_customer_sync_intents` when its reason can carry one (`owes_flow`);
- explicit: `enqueue_flow_trigger`, for an event with no ledger row to read back (a completed
  referral), with the trigger's fields in the payload.

The triggers and their fields are the app's `flow_trigger` extensions
(extensions/loyalty-*/shopify.extension.toml); `TRIGGER_FIELDS` repeats their custom fields
and a test holds the two together. Flow's payload keys are the fields' keys, with
`customer_id` for the customer reference.
https://shopify.dev/docs/apps/build/flow/triggers/reference
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from loyalty.jobs import JobName
from loyalty.models import OutboxIntent


class FlowTrigger(StrEnum):
    """Each trigger by its extension's handle (what `flowTriggerReceive` names)."""

    POINTS_EARNED = "loyalty-points-earned"
    TIER_CHANGED = "loyalty-tier-changed"
    REWARD_REDEEMED = "loyalty-reward-redeemed"
    REFERRAL_COMPLETED = "loyalty-referral-completed"


DECIMAL = "number_decimal"  # Flow triggers take no number_integer: points are decimals
TEXT = "single_line_text_field"
EVENT_ID = "Event id"  # every trigger's: the event's stable key, for a workflow to log or dedupe

# Each trigger's custom fields (key → type) besides its customer reference, as declared.
TRIGGER_FIELDS: dict[FlowTrigger, dict[str, str]] = {
    FlowTrigger.POINTS_EARNED: {
        "Points": DECIMAL,
        "Points balance": DECIMAL,
        "Reason": TEXT,
        EVENT_ID: TEXT,
    },
    FlowTrigger.TIER_CHANGED: {
        "Previous tier": TEXT,
        "New tier": TEXT,
        "Direction": TEXT,
        EVENT_ID: TEXT,
    },
    FlowTrigger.REWARD_REDEEMED: {
        "Reward": TEXT,
        "Points spent": DECIMAL,
        "Discount code": TEXT,
        EVENT_ID: TEXT,
    },
    FlowTrigger.REFERRAL_COMPLETED: {
        "Points": DECIMAL,
        "Referral id": TEXT,
        EVENT_ID: TEXT,
    },
}

# The intent reasons (write_customer_sync_intents) whose rows can announce a trigger: a new
# entry (earned, or pending), an approval, a redemption, a tier change. Other reasons (expiry,
# webhooks, exclusion, resyncs) owe Flow nothing, so they write no intent for it. The event
# names are loyalty.sync.events' (above this package; repeated here, held by a test).
FLOW_EVENTS = frozenset({"points_approved", "points_redeemed", "vip_tier_changed"})

Value = str | int | float | bool


def owes_flow(reason: Mapping[str, Any]) -> bool:
    """Whether a customer change with this intent reason may announce a Flow trigger."""
    event = reason.get("event")
    return event in FLOW_EVENTS or (event is None and "entry_id" in reason)


def trigger_payload(
    trigger: FlowTrigger, *, shopify_customer_id: int, key: str, fields: Mapping[str, Value]
) -> dict[str, Any]:
    """`flowTriggerReceive`'s `payload`: the customer reference and the trigger's fields.
    Raises ValueError for a field the trigger does not declare, or one of the wrong kind."""
    declared = TRIGGER_FIELDS[trigger]
    for name, value in fields.items():
        kind = declared.get(name)
        if kind is None or name == EVENT_ID:
            raise ValueError(f"{trigger} has no field {name!r} (it declares {sorted(declared)})")
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if (kind == DECIMAL) != numeric or (kind == TEXT and not isinstance(value, str)):
            raise ValueError(f"{trigger} field {name!r} is a {kind}, not {value!r}")
    return {"customer_id": shopify_customer_id, **fields, EVENT_ID: key}


async def enqueue_flow_trigger(
    *,
    shop_id: int,
    customer_id: int,
    trigger: FlowTrigger,
    key: str,
    fields: Mapping[str, Value],
    now: datetime,
) -> str:
    """Owe Flow one `trigger` about this customer (our id), with its custom `fields` (keys as
    in TRIGGER_FIELDS; `Event id` is `key`). Call inside the event's transaction and notify the
    returned job after commit. `key` must be stable and unique per event (`referral:<id>`):
    the trigger is sent once per key, however often the job runs. Raises ValueError for fields
    the trigger does not declare (checked now, not when the job sends it)."""
    trigger_payload(trigger, shopify_customer_id=0, key=key, fields=fields)
    await OutboxIntent.create(
        shop_id=shop_id,
        customer_id=customer_id,
        job=str(JobName.SEND_FLOW_TRIGGERS),
        payload={"flow_trigger": str(trigger), "key": key, "fields": dict(fields)},
        created_at=now,
    )
    return str(JobName.SEND_FLOW_TRIGGERS)
