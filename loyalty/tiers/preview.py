"""How many customers each VIP tier holds, as the tiers stand or with one tier's threshold
changed (or a new tier added): what the admin shows beside the tiers and while one is edited.

A customer belongs to the highest tier their lifetime points reach (see
loyalty.ledger.tier_reassignment), so a tier holds the customers at or above its threshold and below
the next one's. Counted in one pass over the shop's customers; nothing is written.

A big shop's counts are estimated (issue 18): counting a million customers per threshold is a
scan of the whole table (0.7–1.4 s in bench/scale), and no index can serve it without ending
the award's HOT update (every award moves `lifetime_points`; see migration 0018). Past
EXACT_UP_TO customers (the shop's count, from loyalty.reports.customer_counts) PostgreSQL reads
a fixed sample of the table's pages (`TABLESAMPLE SYSTEM … REPEATABLE`: the same pages each
time, so the figures stay put while the merchant types a threshold), sized for about
SAMPLE_ROWS of the shop's customers, and scales each share to the shop's exact count. The
sample is a share of the whole table: sized for a shop that holds most of it (a self-hosted
install). SQLite always counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalty import sql
from loyalty.db import dialect
from loyalty.errors import VipTierNotFoundError
from loyalty.models import Shop, VipTier
from loyalty.reports import customer_counts

PROPOSED_NAME = "New tier"
EXACT_UP_TO = 100_000  # customers: a shop this size or smaller is counted, not estimated
SAMPLE_ROWS = 20_000  # customers of the shop a sample aims to read (±1 % on a tier's share)


@dataclass(frozen=True, slots=True)
class TierCount:
    tier_id: str | None  # None: the tier being created
    name: str
    points_required: int
    customers: int
    edited: bool  # the tier whose threshold is proposed


@dataclass(frozen=True, slots=True)
class TierPreview:
    tiers: list[TierCount]  # lowest threshold first
    without_tier: int  # customers below every threshold
    duplicate_threshold: bool  # the proposal collides with another tier's threshold
    estimated: bool = False  # from a sample of a big shop's customers (see the module)


async def preview_tiers(
    *,
    shop: Shop,
    tier_id: str | None = None,
    points_required: int | None = None,
    name: str | None = None,
) -> TierPreview:
    """Customers per tier. With `points_required`, as if tier `tier_id` (or, without one, a
    new tier) started there. Raises VipTierNotFoundError for an unknown `tier_id`."""
    tiers = await VipTier.filter(shop=shop).order_by("points_required", "id")
    rows: list[tuple[str | None, str, int, bool]] = [
        (t.public_id, t.name, t.points_required, False) for t in tiers
    ]
    duplicate = False
    if tier_id is not None and not any(t.public_id == tier_id for t in tiers):
        raise VipTierNotFoundError(f"No VIP tier {tier_id!r} exists for this shop")
    if points_required is not None:
        others = [row for row in rows if row[0] != tier_id]
        current = next((row for row in rows if row[0] == tier_id), None)
        duplicate = any(row[2] == points_required for row in others)
        label = name or (current[1] if current else PROPOSED_NAME)
        rows = [*others, (tier_id, label, points_required, True)]
        rows.sort(key=lambda row: (row[2], not row[3]))
    everyone, at_least, estimated = await _customers_at_or_above(shop.id, [row[2] for row in rows])
    counts = []
    for index, (public_id, label, threshold, edited) in enumerate(rows):
        above = at_least[index + 1] if index + 1 < len(rows) else 0
        counts.append(TierCount(public_id, label, threshold, at_least[index] - above, edited))
    return TierPreview(
        tiers=counts,
        without_tier=everyone - (at_least[0] if rows else 0),
        duplicate_threshold=duplicate,
        estimated=estimated,
    )


async def _customers_at_or_above(
    shop_id: int, thresholds: list[int]
) -> tuple[int, list[int], bool]:
    """All the shop's customers, for each threshold those whose lifetime points reach it, and
    whether these are estimates."""
    columns = ["COUNT(*) AS everyone"] + [
        f"SUM(CASE WHEN lifetime_points >= ${n + 2} THEN 1 ELSE 0 END) AS c{n}"
        for n in range(len(thresholds))
    ]
    source = "customer"
    everyone = 0
    if dialect() == "postgres":
        everyone = (await customer_counts.customer_counts(shop_id=shop_id)).everyone
        if everyone > EXACT_UP_TO:
            # Written into the statement: a number computed here, never input.
            percent = min(100.0, 100.0 * SAMPLE_ROWS / everyone)
            source = f"customer TABLESAMPLE SYSTEM ({percent:.6f}) REPEATABLE (18)"
    row = await sql.fetch_one(
        f"SELECT {', '.join(columns)} FROM {source} WHERE shop_id = $1", shop_id, *thresholds
    )
    assert row is not None
    counted = [int(row[f"c{n}"] or 0) for n in range(len(thresholds))]
    if source == "customer":
        return int(row["everyone"] or 0), counted, False
    sampled = max(int(row["everyone"] or 0), 1)
    return everyone, [min(everyone, round(c * everyone / sampled)) for c in counted], True
