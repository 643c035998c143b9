"""Changing a member's editable fields through the public API (PUT /customers/{identifier}):
exclusion from the programme, date of birth and anniversary date.

One transaction: the fields that differ are written together with one activity row per kind of
change (`customer_excluded` / `customer_included` with `excluded_by="api"`, and
`customer_updated` naming the date fields) and the customer syncs owed; a request that changes
nothing writes nothing. Exclusion flips with a conditional update, so concurrent requests
record it once. Only the API (or staff) re-include a customer the API excluded; see
loyalty.customers.mirror for the exclusion tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypedDict

from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.customers.members import Member, find_member, get_member
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import ActorType, Customer
from loyalty.outbox.intents import write_customer_sync_intents

EXCLUDED_BY_API = "api"


class ProfileChanges(TypedDict, total=False):
    is_excluded: bool
    date_of_birth: date | None
    anniversary_date: date | None


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    member: Member
    changed: tuple[str, ...]  # the fields that changed
    jobs: list[str]  # customer-sync jobs owed; notify after commit


async def update_profile(
    *,
    shop_id: int,
    identifier: str,
    changes: ProfileChanges,
    api_key_id: str,
    now: datetime | None = None,
) -> ProfileUpdate:
    """Apply `changes` (only the fields sent). Raises CustomerNotFoundError."""
    now = now or utcnow()
    customer = await find_member(shop_id=shop_id, identifier=identifier, with_tier=False)
    changed: list[str] = []
    jobs: list[str] = []
    async with in_transaction():
        activities: list[ActivityRow] = []
        if "is_excluded" in changes:
            excluded = changes["is_excluded"]
            flipped = await Customer.filter(id=customer.id, is_excluded=not excluded).update(
                is_excluded=excluded,
                excluded_by=EXCLUDED_BY_API if excluded else None,
                updated_at=now,
            )
            if flipped:
                changed.append("is_excluded")
                kind = "customer_excluded" if excluded else "customer_included"
                why = {"excluded_by": EXCLUDED_BY_API} if excluded else {"reason": "api"}
                activities.append(_activity(customer, kind, api_key_id, why, now))
        dates: dict[str, Any] = {
            name: changes[name]
            for name in ("date_of_birth", "anniversary_date")
            if name in changes and getattr(customer, name) != changes[name]
        }
        if dates:
            await Customer.filter(id=customer.id).update(**dates, updated_at=now)
            changed.extend(sorted(dates))
            data: dict[str, Any] = {"fields": sorted(dates), "source": "api"}
            activities.append(_activity(customer, "customer_updated", api_key_id, data, now))
        if activities:
            await record(*activities)
            jobs = await write_customer_sync_intents(
                shop_id=shop_id, customer_id=customer.id, reason={"reason": "api_update"}, now=now
            )
    member = await get_member(shop_id=shop_id, identifier=str(customer.shopify_customer_id))
    return ProfileUpdate(member, tuple(changed), jobs)


def _activity(
    customer: Customer, kind: str, api_key_id: str, data: dict[str, Any], now: datetime
) -> ActivityRow:
    actor = (ActorType.API_KEY, api_key_id)
    return ActivityRow(customer.shop_id, customer.id, kind, now, data, *actor)
