"""Shopify Flow triggers, sent with `flowTriggerReceive` from the shop's `send_flow_triggers`
intents (written in each event's transaction: loyalty.outbox.flow_triggers).

Which triggers an intent carries:
- points earned: the intent's entry announced as earned, or approved (loyalty.sync.events:
  points a customer can spend; pending points trigger when they are approved);
- tier changed and reward redeemed: the tier-change and redemption events of the intent;
- anything owed with `enqueue_flow_trigger` (a completed referral): its trigger as written.

Guarantees (the run is a loyalty.sync.batch.SyncRun: one run per customer at a time):
- each trigger is recorded by its event's key the moment Flow accepts it (loyalty.outbox.
  deliveries, platform `shopify_flow`) and never sent again, so a job that runs twice, or a
  retry after another customer's failure, sends nothing twice;
- at least once, not exactly once: `flowTriggerReceive` takes no idempotency key and Flow does
  not dedupe, so a trigger whose answer was lost (Shopify unreachable after the client's
  retries, or the process dying between Flow's answer and the record) is sent again later and
  a workflow may run twice for it. Every trigger carries `Event id` (the event's key), equal
  on both copies, for a workflow that must tell;
- sent to every connected shop: Flow ignores a trigger no workflow uses. Shopify's trigger
  lifecycle callback (which says when a shop enables a workflow using a trigger) would save
  those calls; it is not used yet (README, "Shopify Flow");
- a trigger Flow refuses (`userErrors`: a payload that does not match the deployed
  extension) dead-letters that customer's intents; Shopify unavailable, throttled past the
  client's patience, or needing re-authorisation holds the shop's work, as the metafield sync
  does (loyalty.sync.metafields.hold_for_shopify); an uninstalled shop skips everything.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/flowTriggerReceive
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import DeliveryStatus, Shop, SkipReason
from loyalty.outages import INTEGRATIONS, SHOPIFY
from loyalty.outbox import deliveries
from loyalty.outbox.claims import ClaimedIntent
from loyalty.outbox.flow_triggers import FlowTrigger, Value, trigger_payload
from loyalty.outbox.reconnect import once_more_if_disconnected
from loyalty.shopify.admin_api import AdminApi, ShopifyApiError
from loyalty.shopify.operations import FLOW_TRIGGER_RECEIVE
from loyalty.sync.batch import IMMEDIATE, RUN_BUDGET_SECONDS, RunResult, SyncRun, skip_all
from loyalty.sync.deps import JobDeps
from loyalty.sync.events import EventKind, LoyaltyEvent, events_for_intents
from loyalty.sync.metafields import hold_for_shopify
from loyalty.sync.shop_runs import open_run
from loyalty.sync.state import CustomerState, load_states

log = logging.getLogger(__name__)

FLOW = "shopify_flow"  # event_delivery's platform for the triggers Flow accepted


@dataclass(frozen=True, slots=True)
class Trigger:
    """One trigger to send: which, its event's key, and its custom fields."""

    trigger: FlowTrigger
    key: str
    fields: dict[str, Value]


def triggers_of(
    intent: ClaimedIntent, events: list[LoyaltyEvent], state: CustomerState
) -> list[Trigger]:
    """The triggers one intent carries (see the module docstring)."""
    found = [t for event in events if (t := _from_event(event, state)) is not None]
    owed = intent.payload.get("flow_trigger")
    if owed is not None:
        fields = intent.payload.get("fields") or {}
        found.append(Trigger(FlowTrigger(owed), str(intent.payload["key"]), dict(fields)))
    return found


def _from_event(event: LoyaltyEvent, state: CustomerState) -> Trigger | None:
    props = event.properties
    if event.kind in (EventKind.POINTS_EARNED, EventKind.POINTS_APPROVED):
        reason = props.get("earning_rule") or str(props.get("action") or "").replace("_", " ")
        return Trigger(
            FlowTrigger.POINTS_EARNED,
            event.key,
            {
                "Points": int(props["points"]),
                "Points balance": state.points_balance,
                "Reason": _line(reason),
            },
        )
    if event.kind is EventKind.VIP_TIER_CHANGED:
        return Trigger(
            FlowTrigger.TIER_CHANGED,
            event.key,
            {
                "Previous tier": _line(props.get("previous_tier")),
                "New tier": _line(props.get("new_tier")),
                "Direction": str(props.get("direction") or ""),
            },
        )
    if event.kind is EventKind.POINTS_REDEEMED:
        return Trigger(
            FlowTrigger.REWARD_REDEEMED,
            event.key,
            {
                "Reward": _line(props.get("reward")),
                "Points spent": int(props["points"]),
                "Discount code": _line(props.get("code")),
            },
        )
    return None


def _line(value: Any) -> str:
    """A single-line text value (Flow's single_line_text_field): never None, no line breaks."""
    return " ".join(str(value or "").split())


async def sync(deps: JobDeps, shop_id: int, *, budget: float = RUN_BUDGET_SECONDS) -> RunResult:
    """Send the shop's pending Flow triggers (see the module docstring)."""
    shop, _, run = await open_run(deps, JobName.SEND_FLOW_TRIGGERS, shop_id, budget=budget)
    if shop is None or shop.uninstalled_at is not None or not shop.access_token_enc:
        return await run(skip_all(SkipReason.NOT_CONNECTED), IMMEDIATE)
    if deps.admin is None:
        return await run(skip_all(SkipReason.NOT_CONFIGURED), IMMEDIATE)
    return await run(_Sender(deps.admin, shop).deliver, IMMEDIATE)


class _Sender:
    def __init__(self, admin: AdminApi, shop: Shop) -> None:
        self._admin = admin
        self._shop = shop

    async def deliver(self, run: SyncRun, customers: list[int]) -> None:
        """The leased customers' intents claimed, their states, events and recorded triggers
        read, each in one statement for them all; then each customer's triggers sent; the
        intents delivered completed together (before any failure is handled, so a failure
        never ends an intent whose triggers went out)."""
        groups = await run.claim(customers)
        if not groups:
            return
        states = await load_states(shop=self._shop, customer_ids=list(groups), now=utcnow())
        claimed = [intent for intents in groups.values() for intent in intents]
        events = await events_for_intents(shop_id=self._shop.id, intents=claimed)
        owed = {
            i.id: triggers_of(i, events.get(i.id, []), states[i.customer_id or 0])
            for i in claimed
            if (i.customer_id or 0) in states
        }
        keys = [t.key for triggers in owed.values() for t in triggers]
        done = await deliveries.recorded(shop_id=self._shop.id, platform=FLOW, keys=keys)
        delivered: list[ClaimedIntent] = []
        try:
            for customer, intents in groups.items():
                if run.out_of_time():
                    return  # what is left is due again at once: the follow-up run continues
                state = states.get(customer)
                if state is None or state.redacted:
                    reason = SkipReason.UNKNOWN_CUSTOMER if state is None else SkipReason.REDACTED
                    await run.skipped(intents, reason)
                    continue
                await run.renew()
                try:
                    for intent in intents:
                        for trigger in owed[intent.id]:
                            if trigger.key not in done:
                                await self._send(state, intent, trigger)
                                done.add(trigger.key)
                        delivered.append(intent)
                except ShopifyApiError as exc:
                    log.warning("Flow refused shop %s's trigger: %s", self._shop.domain, exc.detail)
                    await run.delivered(delivered)
                    delivered = []
                    await run.refused([i for i in intents if i.id in run.open], error=exc.detail)
        except Exception as exc:  # Shopify unavailable, re-authorise, gone: the shop's problem
            await run.delivered(delivered)
            delivered = []
            await hold_for_shopify(run, [i for i in intents if i.id in run.open], exc)
        finally:
            await run.delivered(delivered)

    async def _send(self, state: CustomerState, intent: ClaimedIntent, trigger: Trigger) -> None:
        payload = trigger_payload(
            trigger.trigger,
            shopify_customer_id=state.shopify_customer_id,
            key=trigger.key,
            fields=trigger.fields,
        )
        data = await self._admin.execute(
            self._shop.id,
            FLOW_TRIGGER_RECEIVE,
            {"handle": str(trigger.trigger), "payload": payload},
        )
        INTEGRATIONS.healthy(self._shop.domain, SHOPIFY)
        problems = (data.get("flowTriggerReceive") or {}).get("userErrors") or []
        if problems:
            messages = "; ".join(str(p.get("message")) for p in problems)
            raise ShopifyApiError(f"flowTriggerReceive {trigger.trigger}: {messages}")
        now = utcnow()
        # Recorded at once (and once more on a fresh connection): a trigger Flow accepted and
        # we did not record would be sent again by the retry.
        await once_more_if_disconnected(
            "recording a sent Flow trigger",
            lambda: deliveries.record(
                shop_id=self._shop.id,
                platform=FLOW,
                key=trigger.key,
                intent_id=intent.id,
                status=DeliveryStatus.ACCEPTED,
                now=now,
            ),
        )
