"""loyalty.tiers.preview: customers per tier, counted on a small shop and, on PostgreSQL past
EXACT_UP_TO customers, estimated from a repeatable sample of the table's pages, scaled to the
shop's exact count; on SQLite always counted."""

from __future__ import annotations

import pytest

from loyalty.db import dialect
from loyalty.tiers import preview
from tests.factories import create_customer, create_shop, create_tier
from tests.loyalty.test_big_shop_indexes import sent


async def a_spread_shop():  # type: ignore[no-untyped-def]
    shop, other = await create_shop(), await create_shop()
    silver = await create_tier(shop, name="Silver", points_required=500)
    gold = await create_tier(shop, name="Gold", points_required=2000)
    for lifetime in (0, 0, 600, 1200, 2500, 9000):
        await create_customer(shop, lifetime_points=lifetime)
    await create_customer(other, lifetime_points=5000)
    return shop, silver, gold


class TestPreviewTiers:
    async def test_a_small_shop_is_counted(self, db: str) -> None:
        shop, silver, gold = await a_spread_shop()
        with sent() as statements:
            found = await preview.preview_tiers(shop=shop)
        assert [(row.tier_id, row.customers) for row in found.tiers] == [
            (silver.public_id, 2),
            (gold.public_id, 2),
        ]
        assert (found.without_tier, found.estimated) == (2, False)
        assert not any("TABLESAMPLE" in query for query, _ in statements)

    async def test_a_big_shop_is_estimated_from_a_sample_on_postgres(
        self, db: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Past EXACT_UP_TO the counts come from a page sample scaled to the shop's count (here
        the sample is every page, so the estimate is exact); SQLite still counts."""
        monkeypatch.setattr(preview, "EXACT_UP_TO", 3)
        shop, silver, gold = await a_spread_shop()
        with sent() as statements:
            found = await preview.preview_tiers(
                shop=shop, tier_id=gold.public_id, points_required=1000
            )
        postgres = dialect() == "postgres"
        assert found.estimated is postgres
        assert any("TABLESAMPLE" in query for query, _ in statements) is postgres
        assert [(row.tier_id, row.customers) for row in found.tiers] == [
            (silver.public_id, 1),
            (gold.public_id, 3),
        ]
        assert found.without_tier == 2

    async def test_estimates_add_up_to_the_shops_count(
        self, db: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """However few pages a sample reads, the tiers and those below them are the shop's
        exact customer count, and no tier is negative."""
        monkeypatch.setattr(preview, "EXACT_UP_TO", 3)
        monkeypatch.setattr(preview, "SAMPLE_ROWS", 1)
        shop, _, _ = await a_spread_shop()
        found = await preview.preview_tiers(shop=shop)
        assert sum(row.customers for row in found.tiers) + found.without_tier == 6
        assert all(row.customers >= 0 for row in found.tiers)
