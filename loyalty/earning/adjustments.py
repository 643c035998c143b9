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

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from loyalty import ids
from loyalty.clock import utcnow
from loyalty.customers.members import find_member
from loyalty.errors import CustomerExcludedError
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.balances import adjust
from loyalty.ledger.ceiling import balance_limit_error, fits
from loyalty.ledger.entries import NewEntry, insert_entry
from loyalty.ledger.lots import spend_lots
from loyalty.ledger.tiers import recalculate_tier
from loyalty.ledger.timing import entry_timing
from loyalty.models import ActorType, Customer
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.shops.api_keys import ShopContext

ACTION = "manual_adjustment"
MAX_ADJUSTMENT = 1_000_000  # per call (LoyaltyLion's cap too)


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
    request = _Request(shop, adjustment, note, update_lifetime_points, actor_type, api_key_id, now)
    async with in_transaction():
        customer = await Customer.filter(id=found.id).select_for_update().first()
        assert customer is not None  # customers are never deleted, only redacted
        if customer.is_excluded:
            raise CustomerExcludedError("Customer is excluded from the loyalty program")
        return await _adjust(request, customer)


@dataclass(frozen=True, slots=True)
class _Request:
    shop: ShopContext
    adjustment: int
    note: str | None
    update_lifetime_points: bool
    actor_type: ActorType
    actor_id: str
    now: datetime


async def _adjust(req: _Request, customer: Customer) -> Adjustment:
    """The adjustment, written through the ledger under the customer's row lock."""
    now, before = req.now, customer.points_balance
    applied = req.adjustment if req.adjustment > 0 else -min(-req.adjustment, before)
    lifetime_delta = 0
    if req.update_lifetime_points:
        lifetime_delta = max(applied, -customer.lifetime_points)
    if not fits(before + applied, customer.lifetime_points + lifetime_delta):
        raise balance_limit_error(pointer="/adjustment")
    entry_id = ids.new_time_ordered_id(ids.EARNING_ENTRY)
    expiry_days = req.shop.points_expiry_days if applied > 0 else None
    await insert_entry(
        NewEntry(
            public_id=entry_id,
            shop_id=req.shop.id,
            customer_id=customer.id,
            rule_id=None,
            action=ACTION,
            base_points=req.adjustment,
            points=applied,
            timing=entry_timing(now=now, approval_days=0, expiry_days=expiry_days),
            dedupe_key=f"adjustment:{entry_id}",
            created_at=now,
            points_remaining=max(applied, 0),
            note=req.note,
            metadata={"actor_type": str(req.actor_type), "actor_id": req.actor_id},
        )
    )
    if applied < 0:
        await spend_lots(customer.id, -applied)
    await adjust(customer_id=customer.id, balance=applied, lifetime=lifetime_delta, now=now)
    data = {
        "entry_id": entry_id,
        "adjustment": req.adjustment,
        "points": applied,
        "update_lifetime_points": req.update_lifetime_points,
    }
    actor = (req.actor_type, req.actor_id)
    await record(ActivityRow(req.shop.id, customer.id, "points_adjusted", now, data, *actor))
    jobs: set[str] = set()
    if lifetime_delta:
        moved = await recalculate_tier(
            customer_id=customer.id,
            actor_type=req.actor_type,
            actor_id=req.actor_id,
            reason="points_adjusted",
            now=now,
        )
        if moved is not None:
            jobs.update(moved.jobs)
    jobs.update(
        await write_customer_sync_intents(
            shop_id=req.shop.id, customer_id=customer.id, reason={"entry_id": entry_id}, now=now
        )
    )
    return Adjustment(
        shopify_customer_id=customer.shopify_customer_id,
        adjustment=req.adjustment,
        applied=applied,
        points_before=before,
        points_after=before + applied,
        lifetime_points=customer.lifetime_points + lifetime_delta,
        note=req.note,
        entry_id=entry_id,
        created_at=now,
        jobs=sorted(jobs),
    )
