"""One customer's VIP tier, recalculated from their lifetime points after any change to them.

A customer's tier is the highest tier whose `points_required` their lifetime points reach (or
none). Runs inside the caller's transaction; when the tier moves it writes a
`vip_tier_changed` activity row and owes the customer syncs, whose payload carries the
`vip_tier_changed` event for the marketing platforms. (Awards only ever upgrade, inside their
own statement; everything else that moves lifetime points calls this.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.models import Activity, ActorType, Customer, VipTier
from loyalty.outbox.intents import write_customer_sync_intents

_TARGET_SQL = """
SELECT t.id FROM vip_tier t
WHERE t.shop_id = $1 AND t.points_required <= $2
ORDER BY t.points_required DESC LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class TierChange:
    customer_id: int
    from_tier_id: int | None
    to_tier_id: int | None
    jobs: list[str]  # customer-sync jobs owed; notify the dispatcher after commit


async def recalculate_tier(
    *,
    customer_id: int,
    actor_type: ActorType = ActorType.SYSTEM,
    actor_id: str | None = None,
    reason: str,
    now: datetime | None = None,
) -> TierChange | None:
    """Move the customer to the tier their lifetime points earn; None when it is unchanged.
    Call inside the transaction that changed their points, after the change."""
    now = now or utcnow()
    customer = await Customer.filter(id=customer_id).select_for_update().first()
    if customer is None:
        return None
    row = await sql.fetch_one(_TARGET_SQL, customer.shop_id, customer.lifetime_points)
    target = int(row["id"]) if row else None
    if target == customer.vip_tier_id:
        return None
    moved = await Customer.filter(id=customer_id, vip_tier_id=customer.vip_tier_id).update(
        vip_tier_id=target, updated_at=now
    )
    if not moved:  # changed under us (SQLite has no row lock): the other writer decided
        return None
    names = dict(
        await VipTier.filter(id__in=[t for t in (customer.vip_tier_id, target) if t]).values_list(
            "id", "name"
        )
    )
    data = {
        "from_tier_id": customer.vip_tier_id,
        "to_tier_id": target,
        "from_tier": names.get(customer.vip_tier_id) if customer.vip_tier_id else None,
        "to_tier": names.get(target) if target else None,
        "reason": reason,
    }
    await Activity.create(
        shop_id=customer.shop_id,
        customer_id=customer_id,
        kind="vip_tier_changed",
        actor_type=actor_type,
        actor_id=actor_id,
        data=data,
        created_at=now,
    )
    jobs = await write_customer_sync_intents(
        shop_id=customer.shop_id,
        customer_id=customer_id,
        reason={"event": "vip_tier_changed", **data},
        now=now,
    )
    return TierChange(customer_id, customer.vip_tier_id, target, jobs)
