"""loyalty.customers.directory.list_customers with a search: what a term matches (email, first
or last name, never across two of them, as a search of each field would); a page that holds the
last match is its own count (one statement); a full page counts the matches up to
SEARCH_COUNT_LIMIT (or the page's end) and says when there are more; on SQLite and PostgreSQL."""

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


async def found(shop, term: str) -> list[str]:  # type: ignore[no-untyped-def]
    page = await directory.list_customers(shop=shop, search=term)
    return [customer.last_name for customer in page.customers]


class TestWhatASearchMatches:
    """The search looks in email, first and last name joined into one text (one trigram index on
    PostgreSQL, migration 0021); it matches exactly what a search of each field would."""

    async def test_each_field_case_insensitively(self, db: str) -> None:
        shop = await create_shop()
        await create_customer(
            shop, email="olivia.smith@example.com", first_name="Olivia", last_name="Smith"
        )
        await create_customer(shop, email=None, first_name="Noemail", last_name="Jones")
        await create_customer(shop, email="x@example.org", first_name="Y", last_name="Brown-Ünal")

        assert await found(shop, "OLIVIA.S") == ["Smith"]  # in the email
        assert await found(shop, "noEMAIL") == ["Jones"]  # first name, no email at all
        assert await found(shop, "WN-Ün") == ["Brown-Ünal"]  # last name
        assert sorted(await found(shop, "example")) == ["Brown-Ünal", "Smith"]

    async def test_never_across_two_fields(self, db: str) -> None:
        """The joined text puts a newline between the fields: a term cannot match across one,
        with or without a newline of its own (that one is searched field by field)."""
        shop = await create_shop()
        await create_customer(shop, email="ann@example.com", first_name="Olivia", last_name="Smith")

        for term in ("com olivia", "comolivia", "example.com\nOlivia", "olivia\nsmith", "a\nS"):
            assert await found(shop, term) == [], term
        assert await found(shop, "livia") == ["Smith"]

    async def test_like_wildcards_are_plain_characters(self, db: str) -> None:
        shop = await create_shop()
        await create_customer(shop, email="a@example.com", first_name="Ann", last_name="One")
        await create_customer(shop, email="b@example.com", first_name="50%_off", last_name="Two")

        assert await found(shop, "%") == ["Two"]
        assert await found(shop, "_") == ["Two"]

    async def test_a_number_also_matches_the_shopify_id(self, db: str) -> None:
        shop = await create_shop()
        await create_customer(shop, shopify_customer_id=424242, last_name="ById")
        await create_customer(shop, email="order424242@example.com", last_name="ByEmail")

        assert sorted(await found(shop, "424242")) == ["ByEmail", "ById"]
