"""How many times each of a shop's rewards was redeemed (any status): the rewards page's and
the rewards API's counts. One pass over the shop's redemptions in the (shop_id, reward_id)
index (migration 0020), never the table: `COUNT(*)`, since a count of a column the index does
not hold (the ORM's `COUNT("id")`) reads every redemption's row."""

from __future__ import annotations

from loyalty import sql

_PER_REWARD = """
SELECT reward_id, COUNT(*) AS redemptions FROM redemption WHERE shop_id = $1 GROUP BY reward_id
"""


async def redemption_counts(*, shop_id: int) -> dict[int, int]:
    """Reward id → its redemptions; a reward never redeemed is absent."""
    rows = await sql.fetch_all(_PER_REWARD, shop_id)
    return {int(row["reward_id"]): int(row["redemptions"]) for row in rows}
