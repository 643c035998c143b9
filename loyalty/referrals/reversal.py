"""Undoing a converted referral: its converting order cancelled (orders/cancelled) or fully
refunded (refunds/create, the refunds' line subtotals reaching the order's subtotal).

The advocate's points are taken back whole (loyalty.earning.reversals.reverse_entry: a pending
entry is rejected, an approved one reversed, never below a zero balance), the referral becomes
`reversed`, and an activity row says why. Once: each refund is counted once by its id (kept on
the referral, under its row lock), and only a `completed` or `friend_converted` referral moves.
A partial refund takes nothing back. An advocate reward already given is left alone (its code
may be spent; the merchant can cancel it).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tortoise.transactions import in_transaction

from loyalty.earning.reversals import OrderReversal, reverse_entry
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import EarningHistoryEntry, Referral, ReferralStatus, Shop
from loyalty.referrals.payout import dedupe_key

_PAID = (ReferralStatus.COMPLETED, ReferralStatus.FRIEND_CONVERTED)


async def on_order_undone(
    *,
    shop: Shop,
    order_id: int,
    cancelled: bool,
    refund_id: int | None = None,
    refunded_subtotal: Decimal = Decimal(0),
    now: datetime,
) -> list[str]:
    """Reverse the referral this order converted, if the order is now cancelled or fully
    refunded (see the module); the jobs owed after commit."""
    async with in_transaction():
        referral = (
            await Referral.filter(shop_id=shop.id, order_id=order_id).select_for_update().first()
        )
        if referral is None:
            return []
        refunded = Decimal(0)
        if not cancelled:
            refunded = await _refunded_total(referral, refund_id, refunded_subtotal)
            if not _covers(referral, refunded):
                return []
        if referral.status not in _PAID:
            return []
        entry = await EarningHistoryEntry.get_or_none(
            customer_id=referral.advocate_id, dedupe_key=dedupe_key(referral)
        )
        jobs: list[str] = []
        if entry is not None:
            reversal = (
                OrderReversal(order_id=order_id, reason="cancel")
                if cancelled
                else OrderReversal(
                    order_id=order_id,
                    reason="refund",
                    refund_id=refund_id,
                    refunded_subtotal=refunded,
                )
            )
            reversed_ = await reverse_entry(
                shop=shop, entry_pk=entry.id, reversal=reversal, now=now
            )
            jobs = reversed_.jobs
        await Referral.filter(id=referral.id, status__in=_PAID).update(
            status=ReferralStatus.REVERSED, reversed_at=now, updated_at=now
        )
        data = {
            "referral_id": referral.public_id,
            "order_id": order_id,
            "reason": "order_cancelled" if cancelled else "order_refunded",
        }
        await record(ActivityRow(shop.id, referral.advocate_id, "referral_reversed", now, data))
    return jobs


async def _refunded_total(referral: Referral, refund_id: int | None, amount: Decimal) -> Decimal:
    """Count this refund once; what the order's refunds add up to now."""
    refunds = dict(referral.refunds or {})
    if refund_id is not None and str(refund_id) not in refunds:
        refunds[str(refund_id)] = str(max(amount, Decimal(0)))
        await Referral.filter(id=referral.id).update(refunds=refunds)
    return sum((Decimal(value) for value in refunds.values()), Decimal(0))


def _covers(referral: Referral, refunded: Decimal) -> bool:
    subtotal = referral.order_subtotal
    return subtotal is not None and refunded > 0 and refunded >= Decimal(subtotal)
