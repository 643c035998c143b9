"""Excluding a customer from the programme, or including them again, by staff in the admin.

An excluded customer keeps their balances but cannot earn (the award API answers 403). Staff
exclusions are recorded as `excluded_by="staff"`, so removing the shop's exclusion tag never
re-includes them (see loyalty/customers/tags.py, which applies Shopify's tag events).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.customers.directory import find_customer
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import ActorType, Customer, Shop
from loyalty.outbox.intents import write_customer_sync_intents

EXCLUDED_BY_STAFF = "staff"


@dataclass(frozen=True, slots=True)
class ExclusionChange:
    customer: Customer  # with `vip_tier` fetched
    changed: bool  # False when the customer was already in the requested state
    jobs: list[str]  # customer-sync jobs owed, to notify after commit


async def set_excluded(
    *,
    shop: Shop,
    shopify_customer_id: str,
    excluded: bool,
    staff_user_id: str | None,
    now: datetime | None = None,
) -> ExclusionChange:
    """Exclude (`excluded=True`) or include the customer. Idempotent: the flag flips with a
    conditional update, so only the request that changes it writes the activity row
    (`customer_excluded` / `customer_included`, actor staff) and the sync intents, together in
    one transaction. Raises CustomerNotFoundError."""
    now = now or utcnow()
    customer = await find_customer(shop=shop, shopify_customer_id=shopify_customer_id)
    jobs: list[str] = []
    async with in_transaction():
        changed = bool(
            await Customer.filter(id=customer.id, is_excluded=not excluded).update(
                is_excluded=excluded,
                excluded_by=EXCLUDED_BY_STAFF if excluded else None,
                updated_at=now,
            )
        )
        if changed:
            kind = "customer_excluded" if excluded else "customer_included"
            why = {"excluded_by": EXCLUDED_BY_STAFF} if excluded else {"reason": "staff"}
            actor = (ActorType.STAFF, staff_user_id)
            await record(ActivityRow(shop.id, customer.id, kind, now, why, *actor))
            jobs = await write_customer_sync_intents(
                shop_id=shop.id, customer_id=customer.id, reason={"reason": kind}, now=now
            )
    if changed:
        customer.is_excluded = excluded
        customer.excluded_by = EXCLUDED_BY_STAFF if excluded else None
        customer.updated_at = now
    else:  # someone else got there first (or it already was so): show what is stored
        await customer.refresh_from_db()
    await customer.fetch_related("vip_tier")
    return ExclusionChange(customer=customer, changed=changed, jobs=jobs)
