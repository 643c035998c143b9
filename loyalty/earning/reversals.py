"""Taking back what an order earned when Shopify cancels it (orders/cancelled) or refunds part of
it (refunds/create).

- Pending entries of the order are rejected and leave the pending balance. A refund of any
  line inside the approval window rejects them: the window exists so returns settle before
  points count. (A refund of shipping or an adjustment alone takes nothing back.)
- Approved entries are taken back by a reversal entry in the ledger (status approved,
  `reversed_entry` = the original). A cancellation takes whatever is left; a refund takes the
  refunded share (refunded line subtotals ÷ the subtotal the points were computed from) of the
  entry's points, rounded half up, never more than is left.
- Never below zero: a reversal takes at most the customer's current balance. Its `base_points`
  is what it takes back from the entry (negative), `points` what it took from the balance; the
  difference (points already spent) is written in the note and the activity row, and the entry
  still counts as taken back, so a later cancellation takes only the true remainder. Lifetime
  points drop by what was taken back, never below 0.
- Tiers are left alone: a reversal never downgrades a customer (tier reassessment on lost
  points is a policy of its own, not a side effect of one refund).
- Once each: reversal entries are keyed `reversal:cancel:<order_id>:<entry_id>` and
  `reversal:refund:<refund_id>:<entry_id>` (unique per customer, `ON CONFLICT DO NOTHING`);
  rejecting is a conditional update on `status = 'pending'`. The order's entries and the
  customer are locked (PostgreSQL) so a refund and a cancellation processed at once see each
  other.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.clock import utcnow
from loyalty.earning.purchases import db_decimal
from loyalty.models import Activity, ActorType, Customer, EarningHistoryEntry, EarningStatus, Shop
from loyalty.outbox.intents import write_customer_sync_intents

ReversalReason = Literal["cancel", "refund"]
_ACTIONS = {"cancel": "order_cancelled", "refund": "order_refunded"}


@dataclass(frozen=True, slots=True)
class OrderReversal:
    order_id: int
    reason: ReversalReason
    refund_id: int | None = None  # refunds only
    refunded_subtotal: Decimal = Decimal(0)  # refunds only: the refunded lines' subtotal


@dataclass(frozen=True, slots=True)
class ReversedEntry:
    public_id: str  # the reversal entry
    reversed_entry_id: str  # the original entry
    taken_back: int  # from the entry (and from lifetime points)
    points: int  # from the balance: taken_back less the shortfall
    shortfall: int


@dataclass(frozen=True, slots=True)
class ReversalResult:
    rejected: list[str] = field(default_factory=list)  # pending entries rejected (public ids)
    reversed: list[ReversedEntry] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)  # customer-sync jobs owed after commit


def refund_share(points: int, refunded: Decimal, order_subtotal: Decimal | None) -> int:
    """The points a refund of `refunded` takes back from an entry worth `points`."""
    if order_subtotal is None or order_subtotal <= 0:
        return points  # nothing to prorate against: the refund takes the entry back whole
    share = Decimal(points) * max(refunded, Decimal(0)) / order_subtotal
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def reverse_order(
    *, shop: Shop, reversal: OrderReversal, now: datetime | None = None
) -> ReversalResult:
    """Take back what the order earned, as described in the module docstring. An order that
    earned nothing, or was already taken back, changes nothing."""
    now = now or utcnow()
    result = ReversalResult()
    async with in_transaction():
        originals = (
            await EarningHistoryEntry.filter(
                shop_id=shop.id,
                order_id=reversal.order_id,
                reversed_entry_id__isnull=True,
                status__in=[EarningStatus.PENDING, EarningStatus.APPROVED],
            )
            .order_by("id")
            .select_for_update(no_key=True)
        )
        if not originals:
            return result
        taken_back = await _taken_back(originals)
        by_customer: dict[int, list[EarningHistoryEntry]] = defaultdict(list)
        for entry in originals:
            by_customer[entry.customer_id].append(entry)
        jobs: set[str] = set()
        for customer_id, entries in by_customer.items():
            jobs.update(
                await _reverse_for_customer(
                    shop, customer_id, entries, taken_back, reversal, now, result
                )
            )
        result.jobs.extend(sorted(jobs))
    return result


async def _taken_back(originals: list[EarningHistoryEntry]) -> dict[int, int]:
    """Points already taken back from each original by earlier reversals (positive)."""
    rows = await EarningHistoryEntry.filter(
        reversed_entry_id__in=[entry.id for entry in originals]
    ).values_list("reversed_entry_id", "base_points")
    taken: dict[int, int] = defaultdict(int)
    for original_id, base_points in rows:
        taken[int(original_id)] -= int(base_points)
    return taken


async def _reverse_for_customer(
    shop: Shop,
    customer_id: int,
    entries: list[EarningHistoryEntry],
    taken_back: dict[int, int],
    reversal: OrderReversal,
    now: datetime,
    result: ReversalResult,
) -> list[str]:
    customer = await Customer.filter(id=customer_id).select_for_update(no_key=True).first()
    if customer is None:
        return []
    balance = max(customer.points_balance, 0)
    pending_removed = lifetime_removed = balance_removed = 0
    activities: list[Activity] = []
    for entry in entries:
        if entry.status is EarningStatus.PENDING:
            if _takes_nothing(reversal):  # e.g. a shipping-only refund: the lines earned it
                continue
            if await _reject(entry, reversal, now):
                pending_removed += entry.points
                result.rejected.append(entry.public_id)
                activities.append(
                    _activity(
                        shop,
                        customer_id,
                        "points_rejected",
                        now,
                        {
                            "entry_id": entry.public_id,
                            "points": entry.points,
                            **_reason_data(reversal),
                        },
                    )
                )
            continue
        remaining = entry.points - taken_back.get(entry.id, 0)
        wanted = (
            remaining
            if reversal.reason == "cancel"
            else refund_share(entry.points, reversal.refunded_subtotal, entry.order_subtotal)
        )
        amount = min(remaining, wanted)
        if amount <= 0:
            continue
        points = min(balance, amount)
        reversed_entry = await _insert_reversal(shop, entry, reversal, amount, points, now)
        if reversed_entry is None:  # this refund or cancellation already took it back
            continue
        balance -= points
        balance_removed += points
        lifetime_removed += amount
        result.reversed.append(reversed_entry)
        activities.append(
            _activity(
                shop,
                customer_id,
                "points_reversed",
                now,
                {
                    "entry_id": reversed_entry.public_id,
                    "reversed_entry_id": entry.public_id,
                    "points": -points,
                    "taken_back": amount,
                    "shortfall": reversed_entry.shortfall,
                    **_reason_data(reversal),
                },
            )
        )
    if not activities:
        return []
    await sql.execute(
        _DEBIT_SQL, customer_id, balance_removed, lifetime_removed, pending_removed, now
    )
    await Activity.bulk_create(activities)
    return await write_customer_sync_intents(
        shop_id=shop.id,
        customer_id=customer_id,
        reason={"reason": _ACTIONS[reversal.reason], "order_id": reversal.order_id},
        now=now,
    )


def _takes_nothing(reversal: OrderReversal) -> bool:
    return reversal.reason == "refund" and reversal.refunded_subtotal <= 0


async def _reject(entry: EarningHistoryEntry, reversal: OrderReversal, now: datetime) -> bool:
    note = (
        "Rejected: the order was cancelled"
        if reversal.reason == "cancel"
        else f"Rejected: the order was refunded (refund {reversal.refund_id})"
    )
    rejected = await EarningHistoryEntry.filter(id=entry.id, status=EarningStatus.PENDING).update(
        status=EarningStatus.REJECTED, note=note, updated_at=now
    )
    return bool(rejected)


_INSERT_REVERSAL_SQL = """
INSERT INTO earning_history_entry (
    public_id, shop_id, customer_id, rule_id, action, base_points, points_multiplier, points,
    status, points_given_at, dedupe_key, note, order_id, order_number, reversed_entry_id,
    created_at, updated_at, points_remaining)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $10, $10, 0)
ON CONFLICT (customer_id, dedupe_key) DO NOTHING
RETURNING id
"""


async def _insert_reversal(
    shop: Shop,
    entry: EarningHistoryEntry,
    reversal: OrderReversal,
    amount: int,
    points: int,
    now: datetime,
) -> ReversedEntry | None:
    shortfall = amount - points
    if reversal.reason == "cancel":
        dedupe_key = f"reversal:cancel:{reversal.order_id}:{entry.id}"
    else:
        dedupe_key = f"reversal:refund:{reversal.refund_id}:{entry.id}"
    note = (
        f"Took back {amount} points; the balance held only {points} (the other {shortfall} "
        "were already spent)"
        if shortfall
        else None
    )
    public_id = ids.new_public_id(ids.EARNING_ENTRY)
    inserted = await sql.fetch_one(
        _INSERT_REVERSAL_SQL,
        public_id,
        shop.id,
        entry.customer_id,
        entry.rule_id,
        _ACTIONS[reversal.reason],
        -amount,
        db_decimal(Decimal("1.00")),
        -points,
        str(EarningStatus.APPROVED),
        now,
        dedupe_key,
        note,
        entry.order_id,
        entry.order_number,
        entry.id,
    )
    if inserted is None:
        return None
    # What left the balance leaves the lot too, so expiry never takes it a second time.
    await sql.execute(_SPEND_LOT_SQL, entry.id, points)
    return ReversedEntry(public_id, entry.public_id, amount, points, shortfall)


_SPEND_LOT_SQL = """
UPDATE earning_history_entry
SET points_remaining = CASE WHEN points_remaining > $2 THEN points_remaining - $2 ELSE 0 END
WHERE id = $1
"""


# $2 is at most the balance (checked under the row lock), so the balance never goes below zero.
_DEBIT_SQL = """
UPDATE customer SET
    points_balance = points_balance - $2,
    lifetime_points = CASE WHEN lifetime_points > $3 THEN lifetime_points - $3 ELSE 0 END,
    pending_points = CASE WHEN pending_points > $4 THEN pending_points - $4 ELSE 0 END,
    updated_at = $5
WHERE id = $1
"""


def _reason_data(reversal: OrderReversal) -> dict[str, Any]:
    data: dict[str, Any] = {"reason": _ACTIONS[reversal.reason], "order_id": reversal.order_id}
    if reversal.refund_id is not None:
        data["refund_id"] = reversal.refund_id
    return data


def _activity(
    shop: Shop, customer_id: int, kind: str, now: datetime, data: dict[str, Any]
) -> Activity:
    return Activity(
        shop_id=shop.id,
        customer_id=customer_id,
        kind=kind,
        actor_type=ActorType.SYSTEM,
        actor_id=None,
        data=data,
        created_at=now,
    )
