"""Spending points on a reward, and giving them back: the balance moves of a redemption.

Guarantees:
- The debit is one conditional atomic UPDATE (`points_balance >= n`): it moves the balance
  down and `redeemed_points` up by the same `n`, or nothing at all, so the balance never goes
  negative however many redemptions race (on PostgreSQL the row lock makes the losers
  re-check the condition against the winner's balance; SQLite has one writer).
- Points are taken from the customer's lots oldest first (loyalty.ledger.lots), and which lot
  gave what is returned to the caller to keep with the redemption (`Spent.lots`; points the
  lots did not hold are listed under lot 0).
- A refund puts each share back into the lot it came from while that lot is still live (not
  past its expiry date), so the next expiry is what it would have been without the
  redemption; a share whose lot has expired since is not returned (it would have expired),
  and says so (`Returned.lapsed`). Points no lot held come back to the balance alone.
  `redeemed_points` drops by everything spent, never below zero.

Callers guard a refund so it runs once per redemption (loyalty.rewards.refunds) and write the
activity row (loyalty.ledger.activity) in the same transaction. On PostgreSQL a redemption's
debit and lots are written by loyalty.ledger.redemptions_pg instead (the same rules, one
statement with the redemption's other rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty import sql
from loyalty.ledger.lots import spend_lots

NO_LOT = 0

_DEBIT_SQL = """
UPDATE customer SET
    points_balance = points_balance - $2,
    redeemed_points = redeemed_points + $2,
    updated_at = $3
WHERE id = $1 AND points_balance >= $2
RETURNING points_balance
"""

_RESTORE_LOT_SQL = """
UPDATE earning_history_entry SET points_remaining = points_remaining + $2, updated_at = $3
WHERE id = $1 AND status = 'approved' AND (points_expiry_at IS NULL OR points_expiry_at > $3)
RETURNING id
"""

_REFUND_SQL = """
UPDATE customer SET
    points_balance = points_balance + $2,
    redeemed_points = CASE WHEN redeemed_points > $3 THEN redeemed_points - $3 ELSE 0 END,
    updated_at = $4
WHERE id = $1
"""


@dataclass(frozen=True, slots=True)
class Spent:
    balance_after: int
    lots: list[list[int]]  # [[lot entry id (0: no lot), points], …] as stored on the redemption


@dataclass(frozen=True, slots=True)
class Returned:
    points: int  # back in the balance
    lapsed: int  # not returned: their lots expired since


async def spend_points(*, customer_id: int, points: int, now: datetime) -> Spent | None:
    """Debit `points` (> 0) for a redemption and draw them from the lots, oldest first.
    None: the balance holds less than `points`, and nothing moved."""
    moved = await sql.fetch_one(_DEBIT_SQL, customer_id, points, now)
    if moved is None:
        return None
    taken = await spend_lots(customer_id, points)
    lots = [[lot_id, share] for lot_id, share in taken]
    unheld = points - sum(share for _, share in taken)
    if unheld:
        lots.append([NO_LOT, unheld])
    return Spent(int(moved["points_balance"]), lots)


async def return_points(*, customer_id: int, lots: list[list[int]], now: datetime) -> Returned:
    """Give back what a redemption spent (`lots` as `spend_points` gave them): each share to
    its lot while the lot is live, to the balance; shares of lots expired since lapse."""
    returned = lapsed = 0
    for lot_id, share in lots:
        if lot_id == NO_LOT:
            returned += share
        elif await sql.fetch_one(_RESTORE_LOT_SQL, lot_id, share, now) is not None:
            returned += share
        else:
            lapsed += share
    await sql.execute(_REFUND_SQL, customer_id, returned, returned + lapsed, now)
    return Returned(returned, lapsed)
