"""Unused codes expire at their `expires_at`: the periodic `expire_reward_codes` job marks them.

Per redemption, one transaction (the customer's row locked first, as every redemption path
does): a conditional update `active` → `expired` (a code used, cancelled or already expired
meanwhile is left alone, so runs may overlap or repeat), a `reward_code_expired` activity row,
the customer syncs, and, only in a shop whose `refund_points_on_code_expiry` is on, the points
back (loyalty.rewards.refunds, once). Shopify needs nothing: the code was created with the
same `endsAt`. Store credit has no code and never expires here. Uninstalled shops are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import Customer, Redemption, RedemptionStatus, RewardKind, Shop
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.rewards.refunds import return_redemption_points


@dataclass(slots=True)
class ExpiryRun:
    done: int = 0
    jobs: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # by shop
    more: bool = False  # the batch was full: run again


async def expire_due(*, now: datetime | None = None, limit: int = 500) -> ExpiryRun:
    """Expire up to `limit` active codes past their date, in every installed shop."""
    now = now or utcnow()
    run = ExpiryRun()
    due = (
        await Redemption.filter(
            status=RedemptionStatus.ACTIVE,
            expires_at__lte=now,
            shop__uninstalled_at__isnull=True,
        )
        .exclude(kind=RewardKind.STORE_CREDIT)
        .order_by("expires_at", "id")
        .limit(limit)
        .values_list("id", "shop_id", "customer_id", "public_id")
    )
    refunding = set(
        await Shop.filter(
            id__in=sorted({shop_id for _, shop_id, _, _ in due}),
            refund_points_on_code_expiry=True,
        ).values_list("id", flat=True)
    )
    for redemption_id, shop_id, customer_id, public_id in due:
        async with in_transaction():
            await Customer.filter(id=customer_id).select_for_update().first()
            moved = await Redemption.filter(
                id=redemption_id, status=RedemptionStatus.ACTIVE
            ).update(status=RedemptionStatus.EXPIRED, updated_at=now)
            if not moved:
                continue
            run.done += 1
            refund = shop_id in refunding
            data = {"redemption_id": public_id, "points_returned": refund}
            await record(ActivityRow(shop_id, customer_id, "reward_code_expired", now, data))
            if refund:
                returned = await return_redemption_points(
                    redemption_id, reason="code_expired", now=now
                )
                run.jobs[shop_id].update(returned.jobs if returned else [])
            run.jobs[shop_id].update(
                await write_customer_sync_intents(
                    shop_id=shop_id,
                    customer_id=customer_id,
                    reason={"redemption_id": public_id, "expired": True},
                    now=now,
                )
            )
    run.more = len(due) == limit
    return run
