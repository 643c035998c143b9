"""A customer's counters: `points_balance` (spendable), `pending_points` (awaiting approval) and
`lifetime_points` (ever earned, what tiers are judged on). The only code that moves them.

Guarantees:
- Every move is an atomic `x = x ± n` in one UPDATE, so concurrent moves to the same customer
  add up instead of overwriting each other.
- A credit never takes a counter past the ceiling (loyalty.ledger.ceiling): the check is in the
  UPDATE's own WHERE clause, and a credit that does not fit moves nothing and says so (None /
  False); the caller refuses it (422, or a recorded refusal on background paths).
- A credit upgrades the tier to the highest one the new lifetime points reach, never down
  (`credit`); downgrades, and moves by other changes of lifetime points, are
  loyalty.ledger.tiers' recalculation.
- Debits never go below zero on lifetime or pending points; the caller caps a balance debit at
  the balance it holds locked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty import sql
from loyalty.ledger.activity import ActivityRow
from loyalty.ledger.ceiling import fits_sql


@dataclass(frozen=True, slots=True)
class Credited:
    """A credit that moved the counters, and the tier it left the customer on."""

    from_tier_id: int | None
    to_tier_id: int | None

    def tier_change(
        self, *, shop_id: int, customer_id: int, entry_id: str, now: datetime
    ) -> ActivityRow | None:
        """The `vip_tier_changed` row the credit's upgrade owes (None: no upgrade)."""
        if self.to_tier_id == self.from_tier_id:
            return None
        data = {"from_tier_id": self.from_tier_id, "to_tier_id": self.to_tier_id}
        return ActivityRow(
            shop_id, customer_id, "vip_tier_changed", now, {**data, "entry_id": entry_id}
        )


# Move the balances and upgrade the tier to the highest one the new lifetime points reach (never
# down). Written for both dialects: the sub-selects name the updated table, since SQLite does
# not resolve an UPDATE alias there. No row returned: the credit would pass the ceiling.
CREDIT_SQL = f"""
UPDATE customer SET
    points_balance = points_balance + $3,
    lifetime_points = lifetime_points + $3,
    pending_points = pending_points + $4,
    vip_tier_id = COALESCE((
        SELECT t.id FROM vip_tier t
        WHERE t.shop_id = $1 AND t.points_required <= customer.lifetime_points + $3
          AND t.points_required > COALESCE(
                (SELECT cur.points_required FROM vip_tier cur WHERE cur.id = customer.vip_tier_id),
                -1)
        ORDER BY t.points_required DESC LIMIT 1
    ), vip_tier_id),
    updated_at = $5
WHERE id = $2 AND {fits_sql("$3", "$4")}
RETURNING vip_tier_id
"""

# The same move without touching the tier (the caller recalculates it). No row: past the ceiling.
_CREDIT_ONLY_SQL = f"""
UPDATE customer SET
    points_balance = points_balance + $2,
    lifetime_points = lifetime_points + $2,
    pending_points = pending_points + $3,
    updated_at = $4
WHERE id = $1 AND {fits_sql("$2", "$3")}
RETURNING id
"""

# Pending points fall due: they leave the pending balance for the current and lifetime ones.
_APPROVE_SQL = f"""
UPDATE customer SET
    points_balance = points_balance + $2,
    lifetime_points = lifetime_points + $2,
    pending_points = CASE WHEN pending_points > $2 THEN pending_points - $2 ELSE 0 END,
    updated_at = $3
WHERE id = $1 AND {fits_sql("$2")}
RETURNING id
"""

_RELEASE_PENDING_SQL = """
UPDATE customer SET
    pending_points = CASE WHEN pending_points > $2 THEN pending_points - $2 ELSE 0 END,
    updated_at = $3
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

_ADJUST_SQL = """
UPDATE customer SET
    points_balance = points_balance + $2,
    lifetime_points = lifetime_points + $3,
    updated_at = $4
WHERE id = $1
"""


async def credit(
    *,
    shop_id: int,
    customer_id: int,
    approved: int,
    pending: int,
    from_tier_id: int | None,
    now: datetime,
) -> Credited | None:
    """Credit `approved` points (current and lifetime) and `pending` points, upgrading the tier
    (`from_tier_id`: the tier the caller read, under its lock). None: past the ceiling, nothing
    moved."""
    moved = await sql.fetch_one(CREDIT_SQL, shop_id, customer_id, approved, pending, now)
    if moved is None:
        return None
    return Credited(from_tier_id, moved["vip_tier_id"])


async def credit_keeping_tier(
    *, customer_id: int, approved: int, pending: int, now: datetime
) -> bool:
    """`credit` without the tier upgrade. False: past the ceiling, nothing moved."""
    moved = await sql.fetch_one(_CREDIT_ONLY_SQL, customer_id, approved, pending, now)
    return moved is not None


async def approve_pending_points(*, customer_id: int, points: int, now: datetime) -> bool:
    """Move `points` from pending to current and lifetime. False: past the ceiling."""
    return await sql.fetch_one(_APPROVE_SQL, customer_id, points, now) is not None


async def release_pending_points(*, customer_id: int, points: int, now: datetime) -> None:
    """`points` leave the pending balance (their entry was rejected)."""
    await sql.execute(_RELEASE_PENDING_SQL, customer_id, points, now)


async def debit(
    *, customer_id: int, balance: int, lifetime: int = 0, pending: int = 0, now: datetime
) -> None:
    """Take `balance` (at most what the balance holds: the caller checks, under the row lock),
    `lifetime` and `pending` points (each never below zero)."""
    await sql.execute(_DEBIT_SQL, customer_id, balance, lifetime, pending, now)


async def adjust(*, customer_id: int, balance: int, lifetime: int, now: datetime) -> None:
    """Move the balance and lifetime points by signed amounts the caller has already bounded
    (a manual adjustment: never below zero, within the ceiling)."""
    await sql.execute(_ADJUST_SQL, customer_id, balance, lifetime, now)
