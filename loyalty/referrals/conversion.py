"""A paid order (orders/paid) and referrals: the friend's FIRST paid order converts their
referral and pays the advocate; every paid order teaches us its buyer's phone and address.

The referral is found by the friend's code among the order's discount codes, else by the
order's email (normalised by loyalty.customers.referral_emails). Only a `pending` referral
moves: its row is locked (PostgreSQL; SQLite has one writer) and re-read, so of 20 first orders (or
deliveries) racing for one referral exactly one converts it; the others find it moved on and do
nothing. The order-time fraud rules (loyalty.referrals.checks) may block it, with the order
recorded so a merchant's approval can pay it later. Otherwise `friend_converted`, then the
advocate is paid (loyalty.referrals.payout) and it is `completed`, in one transaction.

While the shop's whole programme is off nothing converts (as no purchase earns); switching only
referrals off stops new referrals, and those already pending still convert, so a friend who was
given a code does not leave their advocate unpaid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from loyalty.customers.identifiers import normalize_email
from loyalty.customers.referral_emails import referral_email_key
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import Customer, Referral, ReferralStatus, Shop
from loyalty.referrals import fingerprints
from loyalty.referrals.checks import Buyer, at_order
from loyalty.referrals.payout import pay_advocate
from loyalty.referrals.programme import get_programme


@dataclass(frozen=True, slots=True)
class ReferralOrder:
    """What of a paid order the referral rules read (from the orders/paid payload)."""

    order_id: int
    order_number: str | None
    subtotal: Decimal
    email: str | None
    shopify_customer_id: int | None  # None for a guest checkout
    customer_created_at: datetime | None = None  # the buyer's Shopify account
    orders_count: int | None = None  # the buyer's, when the payload carries it
    discount_codes: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    addresses: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)


async def on_order_paid(*, shop: Shop, order: ReferralOrder, now: datetime) -> list[str]:
    """Convert the friend's referral if this is their first paid order (see the module); the
    jobs owed after commit. Call for orders that are not cancelled."""
    async with in_transaction():
        buyer_row = await _buyer(shop.id, order)
        phones = fingerprints.phone_digests(order.phones)
        addresses = fingerprints.address_digests(order.addresses)
        jobs = await _convert(shop, order, buyer_row, phones, addresses, now)
        if buyer_row is not None:
            await fingerprints.remember(
                shop_id=shop.id,
                customer_id=buyer_row.id,
                phones=phones,
                addresses=addresses,
                now=now,
            )
    return jobs


async def _convert(
    shop: Shop,
    order: ReferralOrder,
    buyer_row: Customer | None,
    phones: frozenset[str],
    addresses: frozenset[str],
    now: datetime,
) -> list[str]:
    if not shop.programme_enabled:
        return []  # the programme is off: nothing is awarded, the referral stays pending
    found = await _referral_for(shop.id, order)
    if found is None:
        return []
    referral, by_code = found
    if referral.status != ReferralStatus.PENDING:
        return []  # converted, blocked, expired or reversed already: only a first order counts
    advocate = await Customer.get(id=referral.advocate_id)
    buyer = Buyer(
        order_id=order.order_id,
        customer_id=buyer_row.id if buyer_row else None,
        email=order.email,
        matched_by_code=by_code,
        shopify_created_at=order.customer_created_at
        or (buyer_row.shopify_created_at if buyer_row else None),
        backfilled=bool(buyer_row and buyer_row.backfilled_at),
        orders_count=order.orders_count,
        phones=phones,
        addresses=addresses,
    )
    reason = await at_order(referral, advocate, buyer, await get_programme(shop_id=shop.id))
    status = ReferralStatus.BLOCKED if reason else ReferralStatus.FRIEND_CONVERTED
    await Referral.filter(id=referral.id, status=ReferralStatus.PENDING).update(
        status=status,
        block_reason=reason,
        friend_customer_id=buyer.customer_id,
        order_id=order.order_id,
        order_number=order.order_number,
        order_subtotal=order.subtotal,
        converted_at=None if reason else now,
        updated_at=now,
    )
    data = {
        "referral_id": referral.public_id,
        "status": str(status),
        "block_reason": str(reason) if reason else None,
        "order_id": order.order_id,
    }
    await record(ActivityRow(shop.id, advocate.id, "referral_converted", now, data))
    if reason:
        return []
    referral.status = status
    return await pay_advocate(shop=shop, referral=referral, now=now)


async def _referral_for(shop_id: int, order: ReferralOrder) -> tuple[Referral, bool] | None:
    """The order's referral, locked, and whether the friend's code found it."""
    codes = sorted({code.strip().upper() for code in order.discount_codes if code.strip()})
    if codes:
        by_code = (
            await Referral.filter(shop_id=shop_id, friend_code__in=codes)
            .order_by("id")
            .select_for_update()
            .first()
        )
        if by_code is not None:
            return by_code, True
    key = referral_email_key(order.email)
    if key is None:
        return None
    by_email = (
        await Referral.filter(shop_id=shop_id, friend_email_key=key).select_for_update().first()
    )
    return (by_email, False) if by_email is not None else None


async def _buyer(shop_id: int, order: ReferralOrder) -> Customer | None:
    if order.shopify_customer_id is not None:
        found = await Customer.get_or_none(
            shop_id=shop_id, shopify_customer_id=order.shopify_customer_id
        )
        if found is not None:
            return found
    key = normalize_email(order.email)
    if key is None:
        return None
    return await Customer.filter(shop_id=shop_id, email_key=key).order_by("id").first()
