"""Mirroring Shopify customers (loyalty.customers.mirror), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from loyalty.customers.mirror import (
    CustomerRecord,
    MirrorResult,
    exclusion_after_tags,
    has_tag,
    mirror_customer,
)
from loyalty.models import Activity, Customer, OutboxIntent, Shop
from tests.factories import create_customer, create_shop

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def record(
    customer_id: int = 900, *, updated_at: datetime = T1, **fields: object
) -> CustomerRecord:
    values: dict[str, object] = {
        "email": "Kim@Example.com",
        "first_name": "Kim",
        "last_name": "Park",
        "created_at": datetime(2023, 12, 31, 23, 30, tzinfo=UTC),
    }
    values.update(fields)
    return CustomerRecord(shopify_customer_id=customer_id, updated_at=updated_at, **values)  # type: ignore[arg-type]


async def mirror(shop: Shop, rec: CustomerRecord) -> MirrorResult:
    return await mirror_customer(shop=shop, record=rec, now=NOW, source="customers/update")


class TestTags:
    def test_the_tag_matches_whole_tags_ignoring_case_and_spaces(self) -> None:
        assert has_tag("vip,  No-Loyalty ,x", "no-loyalty")
        assert not has_tag("no-loyalty-later", "no-loyalty")
        assert not has_tag("anything", None) and not has_tag("anything", " ")

    def test_only_the_tag_undoes_what_the_tag_did(self) -> None:
        assert exclusion_after_tags(is_excluded=False, excluded_by=None, tagged=True) == (
            True,
            "tag",
        )
        assert exclusion_after_tags(is_excluded=True, excluded_by="tag", tagged=False) == (
            False,
            None,
        )
        for who in ("staff", "api", None):
            assert exclusion_after_tags(is_excluded=True, excluded_by=who, tagged=False) == (
                True,
                who,
            )


class TestMirrorCustomer:
    async def test_creates_a_customer_with_activity_and_sync_intents(self, db: str) -> None:
        shop = await create_shop(timezone="Asia/Tokyo")
        result = await mirror_customer(
            shop=shop, record=record(), now=NOW, source="customers/create"
        )
        customer = await Customer.get(shopify_customer_id=900)
        assert result.created and result.customer_id == customer.id and result.jobs
        assert (customer.email, customer.email_key, customer.first_name) == (
            "Kim@Example.com",
            "kim@example.com",
            "Kim",
        )
        assert customer.shopify_updated_at == T1
        # 23:30 UTC on 31 December is already 1 January in Tokyo.
        assert customer.anniversary_date == date(2024, 1, 1)
        assert await Activity.filter(customer_id=customer.id, kind="customer_created").exists()
        assert await OutboxIntent.filter(customer_id=customer.id).exists()

    async def test_concurrent_creates_make_one_row(self, db: str) -> None:
        shop = await create_shop()
        results = await asyncio.gather(*(mirror(shop, record()) for _ in range(6)))
        assert sum(r.created for r in results) == 1
        assert await Customer.all().count() == 1

    async def test_a_newer_update_changes_the_mirrored_fields(self, db: str) -> None:
        shop = await create_shop()
        await mirror(shop, record())
        result = await mirror(shop, record(last_name="Park-Lee", updated_at=T2))
        customer = await Customer.get(shopify_customer_id=900)
        assert customer.last_name == "Park-Lee" and customer.shopify_updated_at == T2
        assert result.changed == ("last_name",)
        updated = await Activity.get(customer_id=customer.id, kind="customer_updated")
        assert updated.data == {"source": "customers/update", "fields": ["last_name"]}

    async def test_withheld_fields_do_not_erase_what_we_hold(self, db: str) -> None:
        """Without protected-customer-data approval Shopify sends names and email as null:
        that is not a change. An empty string is."""
        shop = await create_shop()
        await mirror(shop, record())
        withheld = CustomerRecord(
            shopify_customer_id=900, email=None, first_name=None, last_name="", updated_at=T2
        )
        result = await mirror(shop, withheld)
        customer = await Customer.get(shopify_customer_id=900)
        assert (customer.email, customer.first_name, customer.last_name) == (
            "Kim@Example.com",
            "Kim",
            "",
        )
        assert result.changed == ("last_name",)

    async def test_an_older_update_changes_nothing(self, db: str) -> None:
        shop = await create_shop()
        await mirror(shop, record(first_name="New", updated_at=T2))
        result = await mirror(shop, record(first_name="Old", updated_at=T1))
        customer = await Customer.get(shopify_customer_id=900)
        assert result.stale and customer.first_name == "New"
        assert customer.shopify_updated_at == T2

    async def test_an_unchanged_customer_owes_no_sync(self, db: str) -> None:
        """Our own metafield writes make Shopify send customers/update: nothing we mirror
        changed, so no intents, which ends the loop."""
        shop = await create_shop()
        await mirror(shop, record())
        intents = await OutboxIntent.all().count()
        result = await mirror(shop, record(updated_at=T2))
        assert result.jobs == []
        assert await OutboxIntent.all().count() == intents
        assert (await Customer.get(shopify_customer_id=900)).shopify_updated_at == T2

    async def test_an_update_never_touches_tags_or_exclusion(self, db: str) -> None:
        """Bodies carry no tags since 2025-01: a customer staff included although they carry
        the exclusion tag stays included, and one the tag excluded stays excluded."""
        shop = await create_shop(exclusion_tag="wholesale")
        included = await create_customer(shop, shopify_customer_id=900, tags="wholesale")
        excluded = await create_customer(
            shop, shopify_customer_id=901, is_excluded=True, excluded_by="tag", tags="wholesale"
        )
        for customer in (included, excluded):
            result = await mirror(
                shop, record(customer.shopify_customer_id, first_name="New", updated_at=T2)
            )
            assert "first_name" in result.changed and "tags" not in result.changed
        await included.refresh_from_db()
        await excluded.refresh_from_db()
        assert (included.is_excluded, included.excluded_by, included.tags) == (
            False,
            None,
            "wholesale",
        )
        assert (excluded.is_excluded, excluded.excluded_by, excluded.tags) == (
            True,
            "tag",
            "wholesale",
        )
        kinds = {a.kind async for a in Activity.filter(shop_id=shop.id)}
        assert kinds == {"customer_updated"}

    async def test_a_new_customer_starts_without_tags_and_included(self, db: str) -> None:
        """Nothing in a customer body says they carry the tag: only a tag event can exclude."""
        shop = await create_shop(exclusion_tag="wholesale")
        await mirror(shop, record())
        customer = await Customer.get(shopify_customer_id=900)
        assert (customer.tags, customer.is_excluded, customer.tag_versions) == ("", False, None)

    async def test_create_only_leaves_an_existing_customer_alone(self, db: str) -> None:
        shop = await create_shop()
        await mirror(shop, record(first_name="Kim"))
        result = await mirror_customer(
            shop=shop,
            record=record(first_name="Other", updated_at=T2),
            now=NOW,
            source="orders/paid",
            create_only=True,
        )
        assert not result.created and result.jobs == []
        assert (await Customer.get(shopify_customer_id=900)).first_name == "Kim"
