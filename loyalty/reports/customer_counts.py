"""A shop's customer counts (all, in the programme, excluded; redacted or not), the points its
customers have redeemed and those waiting for approval, summed from the rows of changes the
customer table's triggers write (loyalty.models.customer_count, migrations 0019 and 0020):
exact, and a few rows to read instead of a count or sum over every customer.

A read that finds many rows for the shop folds them into one per kind, in one transaction
(on PostgreSQL one statement, deleting and inserting; rows a concurrent writer adds are
outside its snapshot and stay). So does `fold_crowded_shops`, the periodic job's pass over
every shop: a shop whose admin nobody opens would otherwise gather a row per change forever.
Nothing else here writes; a fold never moves a sum, so any number may run at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.db import dialect

# Fold a shop's rows once there are this many (each read sums them all).
FOLD_AT = 200

_SUMS = """
SELECT is_excluded, redacted, SUM(customers) AS customers, SUM(redeemed) AS redeemed,
       SUM(pending) AS pending, COUNT(*) AS rows
FROM customer_count WHERE shop_id = $1 GROUP BY is_excluded, redacted
"""
_COLUMNS = "shop_id, is_excluded, redacted, customers, redeemed, pending"
_FOLD_PG = f"""
WITH gone AS (DELETE FROM customer_count WHERE shop_id = $1 RETURNING {_COLUMNS})
INSERT INTO customer_count ({_COLUMNS})
SELECT shop_id, is_excluded, redacted, SUM(customers), SUM(redeemed), SUM(pending) FROM gone
GROUP BY shop_id, is_excluded, redacted
"""
_FOLD_SQLITE = (
    f"INSERT INTO customer_count ({_COLUMNS}) "
    "SELECT shop_id, is_excluded, redacted, SUM(customers), SUM(redeemed), SUM(pending) "
    "FROM customer_count "
    "WHERE shop_id = $1 AND id <= $2 GROUP BY shop_id, is_excluded, redacted",
    "DELETE FROM customer_count WHERE shop_id = $1 AND id <= $2",
)


@dataclass(frozen=True, slots=True)
class CustomerCounts:
    members: int  # in the programme, not redacted
    excluded: int  # excluded, not redacted
    redacted_members: int
    redacted_excluded: int
    redeemed: int  # points redeemed by the customers not redacted
    pending: int = 0  # points waiting for approval, of the customers not redacted

    @property
    def everyone(self) -> int:
        """Every customer row of the shop, redacted ones included (what the lists show)."""
        return self.members + self.excluded + self.redacted_members + self.redacted_excluded

    def with_status(self, excluded: bool) -> int:
        """Customers in (False) or out of (True) the programme, redacted ones included."""
        if excluded:
            return self.excluded + self.redacted_excluded
        return self.members + self.redacted_members


async def customer_counts(*, shop_id: int) -> CustomerCounts:
    rows = await sql.fetch_all(_SUMS, shop_id)
    if sum(int(row["rows"]) for row in rows) >= FOLD_AT:
        await _fold(shop_id)
    found = {(bool(r["is_excluded"]), bool(r["redacted"])): r for r in rows}

    def value(excluded: bool, redacted: bool, column: str) -> int:
        row = found.get((excluded, redacted))
        return int(row[column] or 0) if row else 0

    return CustomerCounts(
        members=value(False, False, "customers"),
        excluded=value(True, False, "customers"),
        redacted_members=value(False, True, "customers"),
        redacted_excluded=value(True, True, "customers"),
        redeemed=value(False, False, "redeemed") + value(True, False, "redeemed"),
        pending=value(False, False, "pending") + value(True, False, "pending"),
    )


_CROWDED = "SELECT shop_id FROM customer_count GROUP BY shop_id HAVING COUNT(*) >= $1"


async def fold_crowded_shops() -> int:
    """Fold the rows of every shop that holds FOLD_AT or more, each shop in its own
    transaction; returns how many shops were folded."""
    crowded = [int(row["shop_id"]) for row in await sql.fetch_all(_CROWDED, FOLD_AT)]
    for shop_id in crowded:
        await _fold(shop_id)
    return len(crowded)


async def _fold(shop_id: int) -> None:
    if dialect() == "postgres":
        await sql.execute(_FOLD_PG, shop_id)
        return
    async with in_transaction():  # SQLite: one writer at a time; the id bound keeps it exact
        top = await sql.fetch_one(
            "SELECT MAX(id) AS top FROM customer_count WHERE shop_id = $1", shop_id
        )
        bound = int((top or {}).get("top") or 0)
        for statement in _FOLD_SQLITE:
            await sql.execute(statement, shop_id, bound)
