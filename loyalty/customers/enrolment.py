"""Enrolling a Shopify customer in the programme through the public API (POST /customers).

Idempotent by the unique (shop, Shopify id): enrolling twice, or at the same moment, creates
one member; the second caller learns it already was one. A new member starts with zero
balances on the entry tier (the tier their zero lifetime points earn), with a
`customer_created` activity row (source `api`) and the customer syncs owed. The name and email
the caller sends are a first draft: Shopify's customers/create and customers/update webhooks
(loyalty.customers.mirror) keep them in step with Shopify from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.customers.members import Member, get_member
from loyalty.customers.mirror import CustomerRecord, mirror_customer
from loyalty.errors import NotFoundError
from loyalty.models import Shop
from loyalty.tiers.placement import recalculate_tier

SOURCE = "api"


@dataclass(frozen=True, slots=True)
class Enrolment:
    member: Member
    created: bool  # False: they already were a member (nothing changed)
    jobs: list[str]  # customer-sync jobs owed; notify after commit


async def enroll_customer(
    *,
    shop_id: int,
    shopify_customer_id: int,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    now: datetime | None = None,
) -> Enrolment:
    """Enroll the customer unless they already are a member (then nothing changes)."""
    now = now or utcnow()
    shop = await Shop.get_or_none(id=shop_id)
    if shop is None:  # the key was verified a moment ago; only a deleted shop gets here
        raise NotFoundError("The shop no longer exists")
    record = CustomerRecord(
        shopify_customer_id=shopify_customer_id,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    jobs: set[str] = set()
    async with in_transaction():
        mirrored = await mirror_customer(
            shop=shop, record=record, now=now, source=SOURCE, create_only=True
        )
        if mirrored.created:
            jobs.update(mirrored.jobs)
            placed = await recalculate_tier(
                customer_id=mirrored.customer_id, reason="enrolled", now=now
            )
            if placed is not None:
                jobs.update(placed.jobs)
    member = await get_member(shop_id=shop_id, identifier=str(shopify_customer_id))
    return Enrolment(member, mirrored.created, sorted(jobs))
