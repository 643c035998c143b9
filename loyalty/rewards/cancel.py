"""The merchant cancels a redemption: only an active, unused one.

One transaction: the status moves `active` → `cancelled` by a conditional update (a code used,
expired or cancelled meanwhile is refused, `redemption_not_cancellable`), a
`redemption_cancelled` activity row, and an intent for the job (loyalty.rewards.codes):
- a discount code: the points return now (loyalty.rewards.refunds) and the intent deactivates
  the discount in Shopify (if the code was never created, the job simply never creates it);
- store credit: the intent debits the credit first, and the points return only once Shopify
  took it back. If the customer already spent the credit, Shopify refuses the debit and the
  redemption becomes active again (an activity row says why): points never come back for
  credit the customer keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.earning.award import Actor
from loyalty.errors import RedemptionNotCancellableError, RedemptionNotFoundError
from loyalty.jobs import JobName
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import ActorType, Customer, Redemption, RedemptionStatus, RewardKind
from loyalty.outbox.intents import write_customer_intent
from loyalty.rewards.refunds import return_redemption_points
from loyalty.rewards.views import RedemptionView, view

MAX_REASON = 255

MERCHANT = Actor(ActorType.STAFF)  # the default actor


@dataclass(frozen=True, slots=True)
class Cancelled:
    redemption: RedemptionView
    points_returned: int  # now (0 for store credit: after the debit)
    jobs: list[str]


async def find_redemption(*, shop_id: int, redemption_id: str) -> Redemption:
    """The shop's redemption by public id, with its reward and customer."""
    redemption = (
        await Redemption.filter(shop_id=shop_id, public_id=redemption_id)
        .select_related("reward", "customer")
        .first()
    )
    if redemption is None:
        raise RedemptionNotFoundError("No redemption with that id exists")
    return redemption


async def cancel_redemption(
    *,
    shop_id: int,
    redemption_id: str,
    reason: str | None = None,
    actor: Actor = MERCHANT,
    now: datetime | None = None,
) -> Cancelled:
    """Cancel the shop's redemption `redemption_id` (public id). Raises
    RedemptionNotFoundError, RedemptionNotCancellableError."""
    now = now or utcnow()
    found = await find_redemption(shop_id=shop_id, redemption_id=redemption_id)
    note = (reason or "cancelled by the merchant")[:MAX_REASON]
    async with in_transaction():
        # The customer first: every path that moves a redemption and its points locks in
        # this order (loyalty.rewards.refunds), so two of them never wait on each other.
        await Customer.filter(id=found.customer_id).select_for_update().first()
        moved = await Redemption.filter(
            id=found.id, status=RedemptionStatus.ACTIVE, used_at__isnull=True
        ).update(status=RedemptionStatus.CANCELLED, cancel_reason=note, updated_at=now)
        if not moved:
            raise RedemptionNotCancellableError(
                f"Only an active, unused redemption can be cancelled (this one is {found.status})"
            )
        data = {"redemption_id": found.public_id, "reason": note}
        actor_row = (actor.type, actor.id)
        await record(
            ActivityRow(shop_id, found.customer_id, "redemption_cancelled", now, data, *actor_row)
        )
        store_credit = found.kind == RewardKind.STORE_CREDIT
        jobs = {
            await write_customer_intent(
                shop_id=shop_id,
                customer_id=found.customer_id,
                job=JobName.SYNC_REWARD_CODES,
                payload={
                    "redemption_id": found.public_id,
                    "action": "debit" if store_credit else "deactivate",
                },
                now=now,
            )
        }
        returned = 0
        if not store_credit:
            refund = await return_redemption_points(
                found.id, reason="cancelled", now=now, actor_type=actor.type, actor_id=actor.id
            )
            if refund is not None:
                returned = refund.points
                jobs.update(refund.jobs)
    return Cancelled(
        view(await find_redemption(shop_id=shop_id, redemption_id=redemption_id)),
        returned,
        sorted(jobs),
    )
