"""Shopify Flow actions: "Award loyalty points" and "Award a loyalty custom action", for any
workflow (a review app's trigger, a quiz, a tag) to award points without code.

Each reuses the use case the public API runs: points are a credit through
loyalty.earning.adjustments (approved at once, the reason as the entry's note, lifetime points
and tier following), a custom action goes through loyalty.earning.custom_actions (the rule's
points × tier multiplier, its approval time, once-per-customer or its cap). The actor is
`system`, `shopify_flow`.

Exactly once per Flow run: Flow sends each run of an action with an `action_run_id` and sends
it again (same id) when it did not get a 200 in time. The run id is claimed as the shop's
idempotency key `flow:<action_run_id>` (loyalty.earning.idempotency: a unique (shop, key)) in
the award's own transaction, with the result stored beside it; a repeat gets that result back
(`replayed`) and awards nothing more, however many arrive at once. A refused award stores
nothing, so a repeat is judged again (and refused again).
https://shopify.dev/docs/apps/build/flow/actions/endpoints
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from loyalty.clock import isoformat_z, utcnow
from loyalty.earning import adjustments, custom_actions, idempotency
from loyalty.models import ActorType
from loyalty.shops.api_keys import ShopContext

ACTOR = "shopify_flow"  # the activity log's actor id (actor type `system`)
MAX_POINTS = adjustments.MAX_ADJUSTMENT


@dataclass(frozen=True, slots=True)
class FlowRun:
    """One run of a Flow action, as its verified request names it."""

    action_run_id: str
    shop: ShopContext

    @property
    def key(self) -> str:
        return f"flow:{self.action_run_id}"


@dataclass(frozen=True, slots=True)
class FlowActionResult:
    """What the run came to, as answered to Flow (stored for repeats), and the jobs to notify
    after commit."""

    document: dict[str, Any]
    replayed: bool
    jobs: list[str]


async def award_points(
    *,
    run: FlowRun,
    shopify_customer_id: int,
    points: int,
    reason: str,
    now: datetime | None = None,
) -> FlowActionResult:
    """Credit `points` (1 … MAX_POINTS) to the customer, once per run. Raises
    CustomerNotFoundError, CustomerExcludedError, ValidationError `balance_limit`."""
    now = now or utcnow()
    fingerprint = idempotency.fingerprint(
        {
            "action": "award_points",
            "customer": shopify_customer_id,
            "points": points,
            "reason": reason,
        }
    )
    async with in_transaction():
        claimed = await idempotency.claim(
            shop_id=run.shop.id, key=run.key, request_fingerprint=fingerprint, now=now
        )
        if isinstance(claimed, idempotency.StoredResponse):
            return FlowActionResult(_replayed(claimed.body), True, [])
        credit = await adjustments.adjust_points(
            shop=run.shop,
            identifier=str(shopify_customer_id),
            adjustment=points,
            note=reason,
            update_lifetime_points=True,
            api_key_id=ACTOR,
            actor_type=ActorType.SYSTEM,
            now=now,
        )
        document = _document(
            run,
            {
                "action": "award_points",
                "entry_id": credit.entry_id,
                "shopify_customer_id": str(credit.shopify_customer_id),
                "points": credit.applied,
                "status": "approved",
                "points_balance": credit.points_after,
                "created_at": isoformat_z(credit.created_at),
            },
        )
        await idempotency.store(record_id=claimed, status=200, body=document)
    return FlowActionResult(document, False, credit.jobs)


async def award_custom_action(
    *, run: FlowRun, shopify_customer_id: int, action_key: str, now: datetime | None = None
) -> FlowActionResult:
    """Award the shop's custom rule `action_key` to the customer, once per run. Raises what
    loyalty.earning.custom_actions raises (unknown or inactive action, unknown or excluded
    customer, already awarded, limit reached, balance limit)."""
    request = custom_actions.ActionRequest(
        action_key=action_key, shopify_customer_id=shopify_customer_id, idempotency_key=run.key
    )
    async with custom_actions.award_custom_action(
        shop=run.shop,
        request=request,
        api_key_id=ACTOR,
        actor_type=ActorType.SYSTEM,
        now=now,
    ) as outcome:
        if outcome.award is not None:
            award = outcome.award
            outcome.respond(
                _document(
                    run,
                    {
                        "action": "award_custom_action",
                        "action_key": award.action_key,
                        "entry_id": award.entry_id,
                        "shopify_customer_id": str(award.shopify_customer_id),
                        "points": award.points,
                        "status": str(award.status),
                        "points_balance": award.points_balance,
                        "created_at": isoformat_z(award.created_at),
                    },
                )
            )
    if outcome.replay is not None:
        return FlowActionResult(outcome.replay, True, [])
    assert outcome.document is not None
    return FlowActionResult(outcome.document, False, outcome.jobs)


def _document(run: FlowRun, attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "type": "flow_action_run",
            "id": run.action_run_id,
            "attributes": {**attributes, "replayed": False},
        }
    }


def _replayed(body: dict[str, Any]) -> dict[str, Any]:
    attributes = dict(body["data"]["attributes"], replayed=True)
    return {"data": {**body["data"], "attributes": attributes}}
