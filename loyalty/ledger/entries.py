"""Earning-history entries: inserting them, and moving a pending one to approved or rejected.

Guarantees:
- Exactly once per (customer, dedupe key): every insert is `ON CONFLICT (customer_id,
  dedupe_key) DO NOTHING`, so a duplicate (a redelivered webhook, a concurrent request) meets
  the unique index and inserts nothing; `insert_entry` says whether it inserted.
- One statement for both dialects (`$n` placeholders, loyalty.sql); values are bound as each
  driver takes them (`db_decimal`, metadata as JSON text).
- Approving and rejecting are conditional on `status = 'pending'`: a second run, or a
  concurrent one, changes nothing.

Balances and activity are not written here (loyalty.ledger.balances, loyalty.ledger.activity):
the caller writes them in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty import sql
from loyalty.db import dialect
from loyalty.ledger.timing import EntryTiming
from loyalty.models import EarningStatus

ONE = Decimal("1.00")


@dataclass(frozen=True, slots=True)
class NewEntry:
    """One entry as it is inserted; `timing` gives its status and dates."""

    public_id: str
    shop_id: int
    customer_id: int
    rule_id: int | None
    action: str
    base_points: int
    points: int
    timing: EntryTiming
    dedupe_key: str
    created_at: datetime
    points_multiplier: Decimal = ONE
    points_remaining: int | None = None  # None: the timing's lot (`EntryTiming.remaining`)
    note: str | None = None
    order_id: int | None = None
    order_number: str | None = None
    order_subtotal: Decimal | None = None
    metadata: dict[str, Any] | None = None
    reversed_entry_id: int | None = None


INSERT_SQL = """
INSERT INTO earning_history_entry (
    public_id, shop_id, customer_id, rule_id, action, base_points, points_multiplier, points,
    status, points_given_at, points_due_at, points_expiry_at, dedupe_key, note, order_id,
    order_number, order_subtotal, metadata, reversed_entry_id, created_at, updated_at,
    points_remaining)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $20, $21)
ON CONFLICT (customer_id, dedupe_key) DO NOTHING
RETURNING id
"""


def db_decimal(value: Decimal) -> Decimal | str:
    """asyncpg binds Decimal to numeric; sqlite3 cannot bind Decimal (Tortoise stores text)."""
    return value if dialect() == "postgres" else str(value)


def insert_values(entry: NewEntry, bind_decimal: Callable[[Decimal], Any]) -> list[Any]:
    """`INSERT_SQL`'s values for `entry` (`bind_decimal`: as the driver takes a Decimal). Pure,
    so that the SQLite batch award (loyalty.ledger.award_batch_sqlite) binds them the same way
    from the connection's own thread."""
    timing = entry.timing
    remaining = (
        timing.remaining(entry.points) if entry.points_remaining is None else entry.points_remaining
    )
    return [
        entry.public_id,
        entry.shop_id,
        entry.customer_id,
        entry.rule_id,
        entry.action,
        entry.base_points,
        bind_decimal(entry.points_multiplier),
        entry.points,
        str(timing.status),
        timing.points_given_at,
        timing.points_due_at,
        timing.points_expiry_at,
        entry.dedupe_key,
        entry.note,
        entry.order_id,
        entry.order_number,
        None if entry.order_subtotal is None else bind_decimal(entry.order_subtotal),
        None if entry.metadata is None else json.dumps(entry.metadata),
        entry.reversed_entry_id,
        entry.created_at,
        remaining,
    ]


async def insert_entry(entry: NewEntry) -> int | None:
    """Insert the entry; its primary key, or None when the customer already has an entry under
    its dedupe key (nothing was written)."""
    inserted = await sql.fetch_one(INSERT_SQL, *insert_values(entry, db_decimal))
    return None if inserted is None else int(inserted["id"])


def taking_back(now: datetime) -> EntryTiming:
    """The timing of an entry that takes points away (a reversal, an expiry, a debit): approved
    and given now, never a lot of its own."""
    return EntryTiming(EarningStatus.APPROVED, now, None, None)


_APPROVE_SQL = """
UPDATE earning_history_entry
SET status = 'approved', points_given_at = $2, points_remaining = points,
    points_expiry_at = $3, updated_at = $2
WHERE id = $1 AND status = 'pending'
RETURNING public_id, shop_id, customer_id, points
"""

_REJECT_SQL = """
UPDATE earning_history_entry SET status = 'rejected', note = $3, updated_at = $2
WHERE id = $1 AND status = 'pending'
RETURNING public_id, shop_id, customer_id, points
"""


async def approve_pending(
    entry_id: int, *, now: datetime, expires_at: datetime | None
) -> dict[str, Any] | None:
    """Approve a pending entry: given now, a lot of its points, expiring at `expires_at`.
    Its (public_id, shop_id, customer_id, points), or None when it was no longer pending."""
    return await sql.fetch_one(_APPROVE_SQL, entry_id, now, expires_at)


async def reject_pending(entry_id: int, *, note: str, now: datetime) -> dict[str, Any] | None:
    """Reject a pending entry with `note`. Its (public_id, shop_id, customer_id, points), or
    None when it was no longer pending."""
    return await sql.fetch_one(_REJECT_SQL, entry_id, now, note)
