"""orders/paid, orders/cancelled and refunds/create: points for purchases, and taking them back;
reward codes used at checkout, and given back when the order is undone; a referred friend's
first paid order converting their referral, and its reversal (loyalty.referrals).

Idempotent per order (`order:<id>:rule:<rule>`), per cancellation
(`reversal:cancel:<order>:<entry>`) and per refund (`reversal:refund:<refund>:<entry>`); see
`loyalty.earning.purchases` and `loyalty.earning.reversals`. Reward codes move by conditional
updates on their status (loyalty.rewards.usage), so a repeat changes nothing.
"""

from __future__ import annotations

from loyalty.earning.purchases import PaidOrder, award_purchase
from loyalty.earning.reversals import OrderReversal, reverse_order
from loyalty.referrals.conversion import ReferralOrder, on_order_paid
from loyalty.referrals.reversal import on_order_undone
from loyalty.rewards.usage import mark_used, reactivate_for_order
from loyalty.webhooks.event import WebhookContext
from loyalty.webhooks.payloads import OrderCancelledPayload, OrderPaidPayload, RefundPayload


async def handle_order_paid(ctx: WebhookContext) -> list[str]:
    order = ctx.body_as(OrderPaidPayload)
    paid = PaidOrder(
        order_id=order.id,
        order_number=order.number(),
        subtotal=order.subtotal(),
        email=order.email or order.contact_email,
        customer=order.customer.record() if order.customer else None,
        cancelled=order.cancelled_at is not None,
    )
    jobs = (await award_purchase(shop=ctx.shop, order=paid, now=ctx.now)).jobs
    used = await mark_used(
        shop_id=ctx.shop.id,
        codes=[line.code for line in order.discount_codes],
        order_id=order.id,
        order_subtotal=paid.subtotal,
        now=ctx.now,
    )
    referred = (
        []
        if paid.cancelled
        else await on_order_paid(shop=ctx.shop, order=_referral_order(order, paid), now=ctx.now)
    )
    return sorted({*jobs, *used, *referred})


def _referral_order(order: OrderPaidPayload, paid: PaidOrder) -> ReferralOrder:
    customer = order.customer
    return ReferralOrder(
        order_id=order.id,
        order_number=paid.order_number,
        subtotal=paid.subtotal,
        email=paid.email or (customer.email if customer else None),
        shopify_customer_id=customer.id if customer else None,
        customer_created_at=customer.record().created_at if customer else None,
        orders_count=customer.orders_count if customer else None,
        discount_codes=tuple(line.code for line in order.discount_codes),
        phones=tuple(
            phone
            for phone in (
                order.phone,
                customer.phone if customer else None,
                (order.shipping_address or {}).get("phone"),
            )
            if phone
        ),
        addresses=tuple(
            address
            for address in (order.shipping_address, customer.default_address if customer else None)
            if address
        ),
    )


async def handle_order_cancelled(ctx: WebhookContext) -> list[str]:
    order = ctx.body_as(OrderCancelledPayload)
    reversal = OrderReversal(order_id=order.id, reason="cancel")
    jobs = (await reverse_order(shop=ctx.shop, reversal=reversal, now=ctx.now)).jobs
    codes = await reactivate_for_order(shop=ctx.shop, order_id=order.id, now=ctx.now)
    referred = await on_order_undone(shop=ctx.shop, order_id=order.id, cancelled=True, now=ctx.now)
    return sorted({*jobs, *codes, *referred})


async def handle_refund_created(ctx: WebhookContext) -> list[str]:
    refund = ctx.body_as(RefundPayload)
    reversal = OrderReversal(
        order_id=refund.order_id,
        reason="refund",
        refund_id=refund.id,
        refunded_subtotal=refund.refunded_subtotal(),
    )
    jobs = (await reverse_order(shop=ctx.shop, reversal=reversal, now=ctx.now)).jobs
    codes = await reactivate_for_order(
        shop=ctx.shop,
        order_id=refund.order_id,
        refunded_subtotal=refund.refunded_subtotal(),
        now=ctx.now,
    )
    referred = await on_order_undone(
        shop=ctx.shop,
        order_id=refund.order_id,
        cancelled=False,
        refund_id=refund.id,
        refunded_subtotal=refund.refunded_subtotal(),
        now=ctx.now,
    )
    return sorted({*jobs, *codes, *referred})
