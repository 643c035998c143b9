"""Codes used at checkout, and given back when the order is undone.

- `mark_used` (orders/paid, inside the webhook's transaction): each of the order's discount
  codes that is one of the shop's active redemptions becomes `used`, with `used_at`, the order
  and its subtotal. A conditional update (`status = 'active'`), so a repeated delivery, or the
  same order sent under two webhook ids, changes nothing.
- `reactivate_for_order` (orders/cancelled, and refunds/create refunding the whole subtotal
  the code was used on), only when the shop's `reactivate_codes_on_refund` is on: each
  redemption used on the order becomes active again with a **new** code (Shopify's code is
  spent: `usageLimit` 1), created by the code job; the old code is kept in `metadata`. A code
  whose `expires_at` has passed gets a fresh validity from now. A conditional update on
  `status = 'used'` and the order, so it happens once per use.

Shopify compares codes case-insensitively; ours are upper case, so codes are matched so.
A series of partial refunds that together refund the whole order is not recognised (each
refunds/create is judged alone).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from loyalty.jobs import JobName
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import CodeStatus, Customer, Redemption, RedemptionStatus, Reward, Shop
from loyalty.outbox.intents import write_customer_intent, write_customer_sync_intents
from loyalty.rewards.redeem import new_code


async def mark_used(
    *,
    shop_id: int,
    codes: Iterable[str],
    order_id: int,
    order_subtotal: Decimal | None,
    now: datetime,
) -> list[str]:
    """Mark the shop's active redemptions with these codes used on the order; the customer
    syncs owed. Call inside the order's transaction."""
    wanted = sorted({code.strip().upper() for code in codes if code and code.strip()})
    if not wanted:
        return []
    jobs: set[str] = set()
    found = await Redemption.filter(
        shop_id=shop_id, code__in=wanted, status=RedemptionStatus.ACTIVE
    ).values_list("id", "public_id", "customer_id")
    for redemption_id, public_id, customer_id in found:
        moved = await Redemption.filter(id=redemption_id, status=RedemptionStatus.ACTIVE).update(
            status=RedemptionStatus.USED,
            used_at=now,
            used_order_id=order_id,
            used_order_subtotal=order_subtotal,
            updated_at=now,
        )
        if not moved:
            continue
        data = {"redemption_id": public_id, "order_id": order_id}
        await record(ActivityRow(shop_id, customer_id, "reward_used", now, data))
        jobs.update(
            await write_customer_sync_intents(
                shop_id=shop_id,
                customer_id=customer_id,
                reason={"redemption_id": public_id, "used": True},
                now=now,
            )
        )
    return sorted(jobs)


def fully_refunded(refunded_subtotal: Decimal, used_on_subtotal: Decimal | None) -> bool:
    """Did one refund give back the whole subtotal the code was used on?"""
    return used_on_subtotal is not None and refunded_subtotal >= Decimal(used_on_subtotal) > 0


async def reactivate_for_order(
    *, shop: Shop, order_id: int, refunded_subtotal: Decimal | None = None, now: datetime
) -> list[str]:
    """Give back the codes used on a cancelled order (`refunded_subtotal` None) or on a fully
    refunded one, when the shop says so. Call inside the order's transaction; returns the
    jobs owed (the code job, the customer syncs)."""
    if not shop.reactivate_codes_on_refund:
        return []
    used = await Redemption.filter(
        shop_id=shop.id, used_order_id=order_id, status=RedemptionStatus.USED
    )
    jobs: set[str] = set()
    for redemption in used:
        if refunded_subtotal is not None and not fully_refunded(
            refunded_subtotal, redemption.used_order_subtotal
        ):
            continue
        jobs.update(await _reactivate(shop.id, redemption, order_id, now))
    return sorted(jobs)


async def _reactivate(
    shop_id: int, redemption: Redemption, order_id: int, now: datetime
) -> list[str]:
    await Customer.filter(id=redemption.customer_id).select_for_update().first()
    code = new_code()
    expires_at = redemption.expires_at
    if expires_at is not None and expires_at <= now:
        reward = await Reward.get(id=redemption.reward_id)
        expires_at = now + timedelta(days=reward.code_validity_days or 1)
    earlier = dict(redemption.metadata or {})
    earlier["previous_codes"] = [*earlier.get("previous_codes", []), redemption.code]
    moved = await Redemption.filter(
        id=redemption.id, status=RedemptionStatus.USED, used_order_id=order_id
    ).update(
        status=RedemptionStatus.ACTIVE,
        code=code,
        shopify_status=CodeStatus.PENDING,
        shopify_discount_gid=None,
        used_at=None,
        used_order_id=None,
        used_order_subtotal=None,
        expires_at=expires_at,
        metadata=earlier,
        updated_at=now,
    )
    if not moved:
        return []
    data = {"redemption_id": redemption.public_id, "order_id": order_id, "code": code}
    await record(ActivityRow(shop_id, redemption.customer_id, "reward_code_reactivated", now, data))
    payload = {"redemption_id": redemption.public_id, "action": "create"}
    job = await write_customer_intent(
        shop_id=shop_id,
        customer_id=redemption.customer_id,
        job=JobName.SYNC_REWARD_CODES,
        payload=payload,
        now=now,
    )
    syncs = await write_customer_sync_intents(
        shop_id=shop_id,
        customer_id=redemption.customer_id,
        reason={"redemption_id": redemption.public_id, "reactivated": True},
        now=now,
    )
    return [job, *syncs]
