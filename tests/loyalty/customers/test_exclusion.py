"""Excluding and including customers, by staff and by the shop's exclusion tag (Shopify's tag
events): idempotent under concurrency and out-of-order delivery, on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from loyalty.customers.exclusion import set_excluded
from loyalty.customers.tags import REMOVED_TAG_MEMORY, TagEvent, Tags, apply_tag_event
from loyalty.errors import CustomerNotFoundError
from loyalty.models import Activity, Customer, OutboxIntent, Shop
from tests.factories import create_customer, create_shop


@pytest.fixture
async def shop(db: str) -> Shop:
    return await create_shop()


class TestSetExcluded:
    async def test_concurrent_excludes_log_once(self, shop: Shop) -> None:
        """Ten simultaneous excludes flip the flag once: one activity row, one set of intents."""
        customer = await create_customer(shop)
        results = await asyncio.gather(
            *(
                set_excluded(
                    shop=shop,
                    shopify_customer_id=str(customer.shopify_customer_id),
                    excluded=True,
                    staff_user_id="42",
                )
                for _ in range(10)
            )
        )
        assert sum(r.changed for r in results) == 1
        assert await Activity.filter(customer_id=customer.id).count() == 1
        assert await OutboxIntent.filter(customer_id=customer.id).count() == 1

    async def test_another_shops_customer_is_not_found(self, shop: Shop) -> None:
        """Customer ids are scoped to the shop."""
        theirs = await create_customer(await create_shop())
        with pytest.raises(CustomerNotFoundError):
            await set_excluded(
                shop=shop,
                shopify_customer_id=str(theirs.shopify_customer_id),
                excluded=True,
                staff_user_id="42",
            )


T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def event(*tags: str, added: bool = True, at: datetime = T0, customer: int = 700) -> TagEvent:
    return TagEvent(shopify_customer_id=customer, tags=tags, added=added, occurred_at=at)


def applied(tags: Tags, *events: TagEvent) -> Tags:
    for e in events:
        tags, _ = tags.after(e)
    return tags


class TestTagsAfter:
    def test_the_newest_event_per_tag_wins_whatever_the_order(self) -> None:
        """Added at 10:00, removed at 11:00: without the tag, in either order of arrival."""
        add, remove = event("vip"), event("vip", added=False, at=T0 + timedelta(hours=1))
        assert applied(Tags("", {}), add, remove).text == ""
        assert applied(Tags("", {}), remove, add).text == ""
        assert (
            applied(Tags("", {}), remove, add).versions
            == applied(Tags("", {}), add, remove).versions
        )

    def test_a_repeat_changes_nothing(self) -> None:
        once, changed = Tags("", {}).after(event("vip"))
        twice, again = once.after(event("vip"))
        assert changed == {"vip"} and again == frozenset() and twice is once

    def test_versions_are_per_tag(self) -> None:
        """An older event about one tag still applies after a newer one about another."""
        tags = applied(
            Tags("", {}), event("a", added=False, at=T0 + timedelta(hours=1)), event("b")
        )
        assert tags.text == "b" and set(tags.versions) == {"a", "b"}

    def test_tags_compare_ignoring_case_and_keep_their_spelling(self) -> None:
        tags = applied(Tags("VIP, x", {}), event(" vip "), event(""))
        assert tags.text == "VIP, x" and set(tags.versions) == {"vip"}
        assert applied(tags, event("Vip", added=False, at=T0 + timedelta(1))).text == "x"

    def test_removed_tags_are_forgotten_after_a_while_present_ones_never(self) -> None:
        tags = applied(Tags("", {}), event("kept"), event("gone", added=False))
        later = T0 + REMOVED_TAG_MEMORY + timedelta(seconds=1)
        assert set(applied(tags, event("new", at=later)).versions) == {"kept", "new"}


class TestApplyTagEvent:
    async def test_concurrent_repeats_for_an_unknown_customer_create_and_exclude_once(
        self, db: str
    ) -> None:
        """Six deliveries of one event at once: one row, excluded once, one set of intents."""
        shop = await create_shop(exclusion_tag="no-loyalty")
        results = await asyncio.gather(
            *(
                apply_tag_event(shop=shop, event=event("no-loyalty"), now=NOW, source="t")
                for _ in range(6)
            )
        )
        assert sum(r.created for r in results) == 1
        customer = await Customer.get(shop=shop, shopify_customer_id=700)
        assert (customer.is_excluded, customer.excluded_by, customer.tags) == (
            True,
            "tag",
            "no-loyalty",
        )
        kinds = [a.kind async for a in Activity.filter(customer_id=customer.id).order_by("id")]
        assert kinds == ["customer_created", "customer_excluded"]
        assert await OutboxIntent.filter(customer_id=customer.id).count() == 1

    async def test_an_exclusion_change_owes_syncs_and_a_tag_change_alone_none(
        self, db: str
    ) -> None:
        """Tags are synced nowhere; exclusion is (the status metafield, the platforms)."""
        shop = await create_shop(exclusion_tag="no-loyalty")
        customer = await create_customer(shop, shopify_customer_id=700)
        tagged = await apply_tag_event(shop=shop, event=event("vip"), now=NOW, source="t")
        assert tagged.jobs == [] and not tagged.exclusion_changed
        assert await OutboxIntent.filter(customer_id=customer.id).count() == 0
        excluded = await apply_tag_event(
            shop=shop, event=event("no-loyalty", at=T0 + timedelta(1)), now=NOW, source="t"
        )
        assert excluded.exclusion_changed and excluded.jobs
        intents = await OutboxIntent.filter(customer_id=customer.id)
        assert [i.payload for i in intents] == [{"reason": "customer_excluded"}]
        await customer.refresh_from_db()
        assert customer.tags == "vip, no-loyalty" and customer.updated_at == NOW

    async def test_only_an_event_naming_the_exclusion_tag_moves_exclusion(self, db: str) -> None:
        """The shop changed its tag after this customer was excluded by the old one: an
        unrelated tag event leaves them excluded."""
        shop = await create_shop(exclusion_tag="no-loyalty")
        customer = await create_customer(
            shop, shopify_customer_id=700, is_excluded=True, excluded_by="tag", tags="old-tag"
        )
        await apply_tag_event(shop=shop, event=event("vip"), now=NOW, source="t")
        await customer.refresh_from_db()
        assert (customer.is_excluded, customer.excluded_by, customer.tags) == (
            True,
            "tag",
            "old-tag, vip",
        )

    async def test_removing_the_tag_never_includes_an_api_exclusion(self, db: str) -> None:
        shop = await create_shop(exclusion_tag="no-loyalty")
        customer = await create_customer(
            shop, shopify_customer_id=700, is_excluded=True, excluded_by="api", tags="no-loyalty"
        )
        result = await apply_tag_event(
            shop=shop, event=event("no-loyalty", added=False), now=NOW, source="t"
        )
        await customer.refresh_from_db()
        assert (customer.is_excluded, customer.excluded_by, customer.tags) == (True, "api", "")
        assert not result.exclusion_changed and result.jobs == []

    async def test_another_shops_customer_is_not_touched(self, db: str) -> None:
        """The same Shopify id in another shop is another customer."""
        shop = await create_shop(exclusion_tag="no-loyalty")
        theirs = await create_customer(await create_shop(), shopify_customer_id=700)
        await apply_tag_event(shop=shop, event=event("no-loyalty"), now=NOW, source="t")
        await theirs.refresh_from_db()
        assert (theirs.is_excluded, theirs.tags) == (False, "")
        assert await Customer.filter(shopify_customer_id=700).count() == 2
