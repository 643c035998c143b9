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
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from tortoise.transactions import in_transaction

from loyalty import ids
from loyalty.clock import utcnow
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.balances import debit
from loyalty.ledger.entries import NewEntry, insert_entry, reject_pending, taking_back
from loyalty.ledger.lots import spend_lot
from loyalty.models import Customer, EarningHistoryEntry, EarningStatus, Shop
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


async def reverse_entry(
    *, shop: Shop, entry_pk: int, reversal: OrderReversal, now: datetime | None = None
) -> ReversalResult:
    """Take back one entry whole because of an order it does not carry itself (a referral's
    points for the friend's order, loyalty.referrals): pending, it is rejected; approved, what
    is left of it is reversed (`reversal`'s kind and ids key the reversal entry, so it happens
    once), never below a zero balance. The entry carries no order subtotal, so a refund (with
    a positive `refunded_subtotal`) takes it back whole too. Already taken back: nothing
    changes."""
    now = now or utcnow()
    result = ReversalResult()
    async with in_transaction():
        entry = (
            await EarningHistoryEntry.filter(
                id=entry_pk,
                shop_id=shop.id,
                reversed_entry_id__isnull=True,
                status__in=[EarningStatus.PENDING, EarningStatus.APPROVED],
            )
            .select_for_update(no_key=True)
            .first()
        )
        if entry is None:
            return result
        taken_back = await _taken_back([entry])
        jobs = await _reverse_for_customer(
            shop, entry.customer_id, [entry], taken_back, reversal, now, result
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
    activities: list[ActivityRow] = []
    for entry in entries:
        if entry.status is EarningStatus.PENDING:
            if _takes_nothing(reversal):  # e.g. a shipping-only refund: the lines earned it
                continue
            if await _reject(entry, reversal, now):
                pending_removed += entry.points
                result.rejected.append(entry.public_id)
                data = {"entry_id": entry.public_id, "points": entry.points}
                activities.append(_activity(shop, customer_id, "points_rejected", now, data))
            continue
        amount = _amount(entry, taken_back, reversal)
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
        data = {
            "entry_id": reversed_entry.public_id,
            "reversed_entry_id": entry.public_id,
            "points": -points,
            "taken_back": amount,
            "shortfall": reversed_entry.shortfall,
        }
        activities.append(_activity(shop, customer_id, "points_reversed", now, data))
    if not activities:
        return []
    await debit(
        customer_id=customer_id,
        balance=balance_removed,
        lifetime=lifetime_removed,
        pending=pending_removed,
        now=now,
    )
    await record(*(_with_reason(row, reversal) for row in activities))
    return await write_customer_sync_intents(
        shop_id=shop.id,
        customer_id=customer_id,
        reason={"reason": _ACTIONS[reversal.reason], "order_id": reversal.order_id},
        now=now,
    )


def _amount(entry: EarningHistoryEntry, taken_back: dict[int, int], reversal: OrderReversal) -> int:
    """What the reversal takes back from an approved entry: a cancellation what is left, a
    refund its share, never more than is left."""
    remaining = entry.points - taken_back.get(entry.id, 0)
    if reversal.reason == "cancel":
        return remaining
    return min(
        remaining, refund_share(entry.points, reversal.refunded_subtotal, entry.order_subtotal)
    )


def _takes_nothing(reversal: OrderReversal) -> bool:
    return reversal.reason == "refund" and reversal.refunded_subtotal <= 0


async def _reject(entry: EarningHistoryEntry, reversal: OrderReversal, now: datetime) -> bool:
    note = (
        "Rejected: the order was cancelled"
        if reversal.reason == "cancel"
        else f"Rejected: the order was refunded (refund {reversal.refund_id})"
    )
    return await reject_pending(entry.id, note=note, now=now) is not None


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
    inserted = await insert_entry(
        NewEntry(
            public_id=public_id,
            shop_id=shop.id,
            customer_id=entry.customer_id,
            rule_id=entry.rule_id,
            action=_ACTIONS[reversal.reason],
            base_points=-amount,
            points=-points,
            timing=taking_back(now),
            dedupe_key=dedupe_key,
            created_at=now,
            points_remaining=0,
            note=note,
            order_id=entry.order_id,
            order_number=entry.order_number,
            reversed_entry_id=entry.id,
        )
    )
    if inserted is None:
        return None
    # What left the balance leaves the lot too, so expiry never takes it a second time.
    await spend_lot(entry.id, points)
    return ReversedEntry(public_id, entry.public_id, amount, points, shortfall)


def _with_reason(row: ActivityRow, reversal: OrderReversal) -> ActivityRow:
    data: dict[str, Any] = {"reason": _ACTIONS[reversal.reason], "order_id": reversal.order_id}
    if reversal.refund_id is not None:
        data["refund_id"] = reversal.refund_id
    return replace(row, data={**row.data, **data})


def _activity(
    shop: Shop, customer_id: int, kind: str, now: datetime, data: dict[str, Any]
) -> ActivityRow:
    return ActivityRow(shop.id, customer_id, kind, now, data)
