"""The fraud rules, each on unless the shop switched it off, each recorded as the reason a
referral is blocked (the first that fires, in the order below).

When the friend gives their email (`at_start`):
- `same_customer`: that email is the advocate's own customer record;
- `same_email`: it is the advocate's email once case, and dots and `+tags` where the provider
  ignores them, are set aside (loyalty.customers.referral_emails);
- `friend_not_new`: it is another existing customer's email;
- `ip_limit` / `device_limit`: the IP address (device) already started `max_per_ip`
  (`max_per_device`) referrals in the shop within `window_hours`.
When the friend's first paid order arrives (`at_order`):
- `same_customer`: the order's customer is the advocate (the referral matched by the email);
- `advocate_order`: the order was placed by the advocate (its customer, or its email
  normalised, is the advocate's), e.g. the advocate using the friend's code;
- `same_phone` / `same_address`: a phone number or shipping address of the order was used by
  the advocate on one of their own paid orders (loyalty.referrals.fingerprints);
- `friend_not_new`: the buyer's Shopify account predates the referral, was imported by the
  install backfill, or has an earlier paid order (Shopify's count, or our ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from loyalty.customers.identifiers import normalize_email
from loyalty.customers.referral_emails import referral_email_key
from loyalty.models import (
    BlockReason,
    Customer,
    EarningHistoryEntry,
    FingerprintKind,
    Referral,
    ReferralFingerprint,
)
from loyalty.referrals.programme import ProgrammeView


@dataclass(frozen=True, slots=True)
class Arrival:
    shop_id: int
    advocate: Customer
    friend_email: str
    ip: str | None
    device_id: str | None
    now: datetime


async def at_start(arrival: Arrival, programme: ProgrammeView) -> BlockReason | None:
    """The first start-time rule that fires, or None."""
    exact = normalize_email(arrival.friend_email)
    known = await Customer.filter(shop_id=arrival.shop_id, email_key=exact).values_list(
        "id", flat=True
    )
    advocate = arrival.advocate
    if programme.check_on(BlockReason.SAME_CUSTOMER) and advocate.id in known:
        return BlockReason.SAME_CUSTOMER
    if programme.check_on(BlockReason.SAME_EMAIL) and referral_email_key(
        arrival.friend_email
    ) == referral_email_key(advocate.email):
        return BlockReason.SAME_EMAIL
    if programme.check_on(BlockReason.FRIEND_NOT_NEW) and any(c != advocate.id for c in known):
        return BlockReason.FRIEND_NOT_NEW
    since = arrival.now - timedelta(hours=programme.window_hours)
    recent = Referral.filter(shop_id=arrival.shop_id, created_at__gte=since)
    if (
        programme.check_on(BlockReason.IP_LIMIT)
        and arrival.ip
        and await recent.filter(ip=arrival.ip).count() >= programme.max_per_ip
    ):
        return BlockReason.IP_LIMIT
    if (
        programme.check_on(BlockReason.DEVICE_LIMIT)
        and arrival.device_id
        and await recent.filter(device_id=arrival.device_id).count() >= programme.max_per_device
    ):
        return BlockReason.DEVICE_LIMIT
    return None


@dataclass(frozen=True, slots=True)
class Buyer:
    """The friend's converting order, as the order-time rules see it."""

    order_id: int
    customer_id: int | None  # our customer row for the order's buyer, when known
    email: str | None
    matched_by_code: bool  # found through the friend's code (else through the email)
    shopify_created_at: datetime | None
    backfilled: bool
    orders_count: int | None  # Shopify's, when the payload says
    phones: frozenset[str]  # digests (loyalty.referrals.fingerprints)
    addresses: frozenset[str]


async def at_order(
    referral: Referral, advocate: Customer, buyer: Buyer, programme: ProgrammeView
) -> BlockReason | None:
    """The first order-time rule that fires, or None."""
    is_advocate = buyer.customer_id is not None and buyer.customer_id == advocate.id
    if programme.check_on(BlockReason.SAME_CUSTOMER) and is_advocate and not buyer.matched_by_code:
        return BlockReason.SAME_CUSTOMER
    same_email = buyer.email is not None and referral_email_key(buyer.email) == referral_email_key(
        advocate.email
    )
    if programme.check_on(BlockReason.ADVOCATE_ORDER) and (is_advocate or same_email):
        return BlockReason.ADVOCATE_ORDER
    for kind, digests, reason in (
        (FingerprintKind.PHONE, buyer.phones, BlockReason.SAME_PHONE),
        (FingerprintKind.ADDRESS, buyer.addresses, BlockReason.SAME_ADDRESS),
    ):
        if (
            programme.check_on(reason)
            and digests
            and await ReferralFingerprint.filter(
                shop_id=referral.shop_id,
                customer_id=advocate.id,
                kind=kind,
                digest__in=sorted(digests),
            ).exists()
        ):
            return reason
    if programme.check_on(BlockReason.FRIEND_NOT_NEW) and await _not_new(referral, buyer):
        return BlockReason.FRIEND_NOT_NEW
    return None


async def _not_new(referral: Referral, buyer: Buyer) -> bool:
    if buyer.backfilled or (buyer.orders_count is not None and buyer.orders_count > 1):
        return True
    created = buyer.shopify_created_at
    if created is not None and created < referral.created_at:
        return True
    if buyer.customer_id is None:
        return False
    return (
        await EarningHistoryEntry.filter(customer_id=buyer.customer_id, order_id__isnull=False)
        .exclude(order_id=buyer.order_id)
        .exists()
    )
