"""Factories for the lifecycle tests: earning-history entries in the states the jobs act on."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.expressions import F

from loyalty import ids
from loyalty.models import Customer, EarningHistoryEntry, EarningStatus


async def create_entry(customer: Customer, **overrides: Any) -> EarningHistoryEntry:
    """An approved lot of 100 points unless told otherwise; the customer's balances follow."""
    fields: dict[str, Any] = {
        "public_id": ids.new_public_id(ids.EARNING_ENTRY),
        "shop_id": customer.shop_id,  # type: ignore[attr-defined]
        "customer": customer,
        "action": "follow_on_instagram",
        "base_points": 100,
        "points_multiplier": Decimal("1.00"),
        "points": 100,
        "status": EarningStatus.APPROVED,
        "dedupe_key": ids.new_public_id("k"),
    }
    fields.update(overrides)
    if fields["status"] is EarningStatus.APPROVED:
        fields.setdefault("points_remaining", fields["points"])
    entry = await EarningHistoryEntry.create(**fields)
    if entry.status is EarningStatus.PENDING:
        await Customer.filter(id=customer.id).update(
            pending_points=F("pending_points") + entry.points
        )
    elif entry.status is EarningStatus.APPROVED:
        await Customer.filter(id=customer.id).update(
            points_balance=F("points_balance") + entry.points,
            lifetime_points=F("lifetime_points") + entry.points,
        )
    return entry


async def pending_entry(customer: Customer, *, due: datetime, points: int = 100) -> Any:
    return await create_entry(
        customer,
        status=EarningStatus.PENDING,
        points=points,
        base_points=points,
        points_due_at=due,
        points_remaining=0,
    )


async def lot(customer: Customer, *, expires: datetime, points: int = 100) -> Any:
    return await create_entry(
        customer,
        points=points,
        base_points=points,
        points_given_at=expires.replace(year=expires.year - 1),
        points_expiry_at=expires,
    )
