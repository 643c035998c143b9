"""Giving a redemption's points back, exactly once: the one home of that rule, used when the
merchant cancels a redemption, when Shopify refuses its code for good, when a store-credit
debit went through, and when a code expires in a shop that returns expired points.

`return_redemption_points` runs inside the caller's transaction. It locks the customer's row
first (the order every balance move takes: redemptions, adjustments and expiry lock the
customer before touching lots), then sets `points_refunded_at` only if it is not yet set: a
second call, or a concurrent one, returns None and moves nothing. The ledger puts each share
back into the lot it came from while that lot is live (loyalty.ledger.redemptions), writes a
`reward_points_returned` activity row saying why, and the customer syncs are owed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.redemptions import return_points
from loyalty.models import ActorType, Customer, Redemption
from loyalty.outbox.intents import write_customer_sync_intents


@dataclass(frozen=True, slots=True)
class PointsReturned:
    points: int  # back in the balance
    lapsed: int  # not returned: their lots expired since the redemption
    jobs: list[str] = field(default_factory=list)


async def return_redemption_points(
    redemption_id: int,
    *,
    reason: str,
    now: datetime,
    actor_type: ActorType = ActorType.SYSTEM,
    actor_id: str | None = None,
) -> PointsReturned | None:
    """Give back what the redemption (primary key) spent, once; None if it already was.
    `reason` (e.g. `cancelled`, `shopify_refused`, `code_expired`) is kept on the activity row."""
    found = await Redemption.filter(id=redemption_id).values("customer_id")
    if not found:
        return None
    customer_id = int(found[0]["customer_id"])
    await Customer.filter(id=customer_id).select_for_update().first()
    guarded = await Redemption.filter(id=redemption_id, points_refunded_at__isnull=True).update(
        points_refunded_at=now
    )
    if not guarded:
        return None
    redemption = await Redemption.get(id=redemption_id)
    returned = await return_points(
        customer_id=customer_id, lots=list(redemption.spent_lots), now=now
    )
    data = {
        "redemption_id": redemption.public_id,
        "reason": reason,
        "points": returned.points,
        "lapsed": returned.lapsed,
    }
    row = ActivityRow(
        redemption.shop_id, customer_id, "reward_points_returned", now, data, actor_type, actor_id
    )
    await record(row)
    jobs = await write_customer_sync_intents(
        shop_id=redemption.shop_id,
        customer_id=customer_id,
        reason={"redemption_id": redemption.public_id, "points_returned": returned.points},
        now=now,
    )
    return PointsReturned(returned.points, returned.lapsed, jobs)
