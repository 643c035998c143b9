"""loyalty.customers.directory.list_customers with a search: a page that holds the last match
is its own count (one statement); a full page counts the matches up to SEARCH_COUNT_LIMIT (or
the page's end) and says when there are more; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from loyalty.customers import directory
from tests.factories import create_customer, create_shop
from tests.loyalty.test_big_shop_indexes import sent


async def searched(shop, offset: int, limit: int):  # type: ignore[no-untyped-def]
    with sent() as statements:
        page = await directory.list_customers(
            shop=shop, search="finder", offset=offset, limit=limit
        )
    counted = [query for query, _ in statements if query.startswith('SELECT "id"')]
    return page, len(counted)


class TestSearchTotals:
    async def test_a_page_with_the_last_match_is_not_counted_again(
        self, db: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(directory, "SEARCH_COUNT_LIMIT", 4)
        shop = await create_shop()
        for n in range(7):
            await create_customer(shop, email=f"finder{n}@example.com")
        await create_customer(shop, email="someone@example.com")

        page, counts = await searched(shop, 0, 10)  # all seven on the page
        assert (len(page.customers), page.total, page.more, counts) == (7, 7, False, 0)
        page, counts = await searched(shop, 4, 4)  # the last three on page 2
        assert (len(page.customers), page.total, page.more, counts) == (3, 7, False, 0)

    async def test_a_full_page_counts_to_the_limit(
        self, db: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(directory, "SEARCH_COUNT_LIMIT", 4)
        shop = await create_shop()
        for n in range(7):
            await create_customer(shop, email=f"finder{n}@example.com")

        page, counts = await searched(shop, 0, 2)
        assert (len(page.customers), page.total, page.more, counts) == (2, 4, True, 1)
        page, counts = await searched(shop, 4, 2)  # past the limit: counted to the page's end
        assert (len(page.customers), page.total, page.more, counts) == (2, 6, True, 1)
        page, counts = await searched(shop, 5, 2)
        assert (len(page.customers), page.total, page.more, counts) == (2, 7, False, 1)
        page, counts = await searched(shop, 20, 2)  # past the end: counted
        assert (len(page.customers), page.total, page.more, counts) == (0, 7, False, 1)
