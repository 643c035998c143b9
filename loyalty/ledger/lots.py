"""Lots: what is left of an approved entry (`points_remaining`) to spend, expire or take back.
Spending draws on a customer's lots oldest first, so expiry never takes the same points again.
"""

from __future__ import annotations

from datetime import datetime

from loyalty import sql
from loyalty.models import EarningHistoryEntry, EarningStatus

_LOT_BATCH = 100

_SPEND_LOT_SQL = """
UPDATE earning_history_entry
SET points_remaining = CASE WHEN points_remaining > $2 THEN points_remaining - $2 ELSE 0 END
WHERE id = $1
"""

_EMPTY_LOT_SQL = """
UPDATE earning_history_entry SET points_remaining = 0, updated_at = $2
WHERE id = $1 AND points_remaining > 0
"""


async def spend_lots(customer_id: int, points: int) -> list[tuple[int, int]]:
    """Take `points` from the customer's approved lots, oldest first; what each lot gave, as
    (entry id, points), in the order taken (less than `points` in all when the lots hold less
    than the balance, e.g. imported balances)."""
    taken: list[tuple[int, int]] = []
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
            return taken  # the lots hold less than the balance: done
        for lot_id, remaining in lots:
            take = min(points, int(remaining))
            await EarningHistoryEntry.filter(id=lot_id).update(
                points_remaining=int(remaining) - take
            )
            taken.append((int(lot_id), take))
            points -= take
            if points == 0:
                return taken
    return taken


async def spend_lot(entry_id: int, points: int) -> None:
    """Take up to `points` from one lot (never below zero)."""
    await sql.execute(_SPEND_LOT_SQL, entry_id, points)


async def empty_lot(entry_id: int, now: datetime) -> None:
    """Nothing is left of the lot (it expired)."""
    await sql.execute(_EMPTY_LOT_SQL, entry_id, now)
