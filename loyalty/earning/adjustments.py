"""Manual points adjustments through the public API (POST /customers/{identifier}/points):
goodwill credits, migrations, corrections.

- One ledger entry per adjustment (action `manual_adjustment`, status approved, rule none, the
  note kept on the entry, the API key in its metadata) and one `points_adjusted` activity row
  with the API key as actor, in one transaction with the balance move and the syncs owed.
- A credit is a new lot (it can be spent and, when the shop expires points, it expires like
  any other). A debit is taken from the balance, never below zero (a debit larger than the
  balance takes the balance), and from the customer's lots oldest first, so expiry never takes
  the same points again.
- Lifetime points follow the adjustment unless `update_lifetime_points` is false (never below
  zero); when they move, the tier is recalculated (up or down).
- Excluded customers cannot be adjusted. The customer's row is locked (PostgreSQL; SQLite has
  one writer), so concurrent adjustments see each other's balance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.clock import utcnow
from loyalty.customers.members import find_member
from loyalty.earning.ceiling import balance_limit_error, fits
from loyalty.errors import CustomerExcludedError
from loyalty.models import ActorType, Customer, EarningHistoryEntry, EarningStatus
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.shops.api_keys import ShopContext
from loyalty.tiers.placement import recalculate_tier

ACTION = "manual_adjustment"
MAX_ADJUSTMENT = 1_000_000  # per call (LoyaltyLion's cap too)
_LOT_BATCH = 100


@dataclass(frozen=True, slots=True)
class Adjustment:
    shopify_customer_id: int
    adjustment: int  # as requested
    applied: int  # what moved the balance: a debit is capped at the balance
    points_before: int
    points_after: int
    lifetime_points: int
    note: str | None
    entry_id: str
    created_at: datetime
    jobs: list[str]  # customer-sync jobs owed; notify after commit


async def adjust_points(
    *,
    shop: ShopContext,
    identifier: str,
    adjustment: int,
    note: str | None,
    update_lifetime_points: bool,
    api_key_id: str,
    actor_type: ActorType = ActorType.API_KEY,
    now: datetime | None = None,
) -> Adjustment:
    """Move the customer's balance by `adjustment` (≠ 0). `api_key_id` is the actor's id: the
    API key's, or the staff user's with `actor_type=STAFF` (the embedded admin). Raises
    CustomerNotFoundError, CustomerExcludedError, or ValidationError `balance_limit` when a
    credit would take a balance past what it can hold."""
    now = now or utcnow()
    found = await find_member(shop_id=shop.id, identifier=identifier, with_tier=False)
    jobs: set[str] = set()
    async with in_transaction():
        customer = await Customer.filter(id=found.id).select_for_update().first()
        assert customer is not None  # customers are never deleted, only redacted
        if customer.is_excluded:
            raise CustomerExcludedError("Customer is excluded from the loyalty program")
        before = customer.points_balance
        applied = adjustment if adjustment > 0 else -min(-adjustment, before)
        lifetime_delta = 0
        if update_lifetime_points:
            lifetime_delta = max(applied, -customer.lifetime_points)
        if not fits(before + applied, customer.lifetime_points + lifetime_delta):
            raise balance_limit_error(pointer="/adjustment")
        entry_id = ids.new_time_ordered_id(ids.EARNING_ENTRY)
        expiry_at = (
            now + timedelta(days=shop.points_expiry_days)
            if applied > 0 and shop.points_expiry_days
            else None
        )
        await EarningHistoryEntry.create(
            public_id=entry_id,
            shop_id=shop.id,
            customer_id=customer.id,
            rule_id=None,
            action=ACTION,
            base_points=adjustment,
            points_multiplier=Decimal("1.00"),
            points=applied,
            status=EarningStatus.APPROVED,
            points_given_at=now,
            points_expiry_at=expiry_at,
            dedupe_key=f"adjustment:{entry_id}",
            note=note,
            points_remaining=max(applied, 0),
            metadata={"actor_type": str(actor_type), "actor_id": api_key_id},
            created_at=now,
            updated_at=now,
        )
        if applied < 0:
            await _spend_lots(customer.id, -applied)
        await sql.execute(_MOVE_SQL, customer.id, applied, lifetime_delta, now)
        await sql.execute(
            _ACTIVITY_SQL,
            shop.id,
            customer.id,
            "points_adjusted",
            str(actor_type),
            api_key_id,
            json.dumps(
                {
                    "entry_id": entry_id,
                    "adjustment": adjustment,
                    "points": applied,
                    "update_lifetime_points": update_lifetime_points,
                }
            ),
            now,
        )
        if lifetime_delta:
            moved = await recalculate_tier(
                customer_id=customer.id,
                actor_type=actor_type,
                actor_id=api_key_id,
                reason="points_adjusted",
                now=now,
            )
            if moved is not None:
                jobs.update(moved.jobs)
        jobs.update(
            await write_customer_sync_intents(
                shop_id=shop.id, customer_id=customer.id, reason={"entry_id": entry_id}, now=now
            )
        )
    return Adjustment(
        shopify_customer_id=customer.shopify_customer_id,
        adjustment=adjustment,
        applied=applied,
        points_before=before,
        points_after=before + applied,
        lifetime_points=customer.lifetime_points + lifetime_delta,
        note=note,
        entry_id=entry_id,
        created_at=now,
        jobs=sorted(jobs),
    )


async def _spend_lots(customer_id: int, points: int) -> None:
    """Take `points` from the customer's approved lots, oldest first."""
    while points > 0:
        lots = (
            await EarningHistoryEntry.filter(
                customer_id=customer_id, status=EarningStatus.APPROVED, points_remaining__gt=0
            )
            .order_by("points_given_at", "id")
            .limit(_LOT_BATCH)
            .values_list("id", "points_remaining")
        )
        if not lots:
            return  # the lots hold less than the balance (e.g. imported balances): done
        for lot_id, remaining in lots:
            take = min(points, int(remaining))
            await EarningHistoryEntry.filter(id=lot_id).update(
                points_remaining=int(remaining) - take
            )
            points -= take
            if points == 0:
                return


_MOVE_SQL = """
UPDATE customer SET
    points_balance = points_balance + $2,
    lifetime_points = lifetime_points + $3,
    updated_at = $4
WHERE id = $1
"""

_ACTIVITY_SQL = """
INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
