"""loyalty.reports.customer_counts: the counts, redeemed and pending points read from the rows
of changes always equal a count over the customer table itself, through creations (one and
many in a statement), exclusion and inclusion, redemptions and their cancellation, awards
(approved ones write no row; held ones, their approval and release one each), redaction,
folding and the shop's erasure; the lists' totals and the dashboard use them; on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.customers import members
from loyalty.customers.compliance import redact_customer, redact_shop
from loyalty.customers.directory import list_customers
from loyalty.customers.exclusion import set_excluded
from loyalty.jobs.names import JobName
from loyalty.jobs.registry import JOBS
from loyalty.ledger.balances import (
    approve_pending_points,
    credit,
    credit_keeping_tier,
    release_pending_points,
)
from loyalty.models import Customer, CustomerCount, Shop
from loyalty.reports import customer_counts, dashboard
from loyalty.reports.customer_counts import CustomerCounts
from loyalty.rewards.cancel import cancel_redemption
from tests.factories import create_customer
from tests.loyalty.rewards.helpers import connected_shop, customer_with_lots
from tests.loyalty.rewards.test_redemption_life import redeemed


async def truth(shop: Shop) -> CustomerCounts:
    """Counted over every customer row, in Python."""
    rows = await Customer.filter(shop_id=shop.id)
    live = [c for c in rows if c.redacted_at is None]
    return CustomerCounts(
        members=sum(1 for c in live if not c.is_excluded),
        excluded=sum(1 for c in live if c.is_excluded),
        redacted_members=sum(1 for c in rows if c.redacted_at and not c.is_excluded),
        redacted_excluded=sum(1 for c in rows if c.redacted_at and c.is_excluded),
        redeemed=sum(c.redeemed_points for c in live),
        pending=sum(c.pending_points for c in live),
    )


async def exclude(shop: Shop, customer: Customer, *, excluded: bool) -> None:
    await set_excluded(
        shop=shop,
        shopify_customer_id=str(customer.shopify_customer_id),
        excluded=excluded,
        staff_user_id="1",
    )


async def counts(shop: Shop) -> CustomerCounts:
    return await customer_counts.customer_counts(shop_id=shop.id)


async def insert_many(shop: Shop, first: int, count: int) -> None:
    """Customers inserted by one statement, as the install-time import writes them."""
    now = utcnow()
    values = ", ".join(
        f"($1, {first + n}, 'many{first + n}@example.com', 'many{first + n}@example.com', "
        f"'M', 'Any', '', {'TRUE' if n % 3 == 0 else 'FALSE'}, 0, 0, 0, {50 * n}, $2, $2)"
        for n in range(count)
    )
    await sql.execute(
        "INSERT INTO customer (shop_id, shopify_customer_id, email, email_key, first_name, "
        "last_name, tags, is_excluded, points_balance, pending_points, lifetime_points, "
        f"redeemed_points, created_at, updated_at) VALUES {values}",
        shop.id,
        now,
    )


class TestCustomerCounts:
    async def test_agree_with_the_customers_through_every_change(self, db: str) -> None:
        shop, other = await connected_shop(), await connected_shop()
        await create_customer(other)
        assert await counts(shop) == await truth(shop) == CustomerCounts(0, 0, 0, 0, 0)
        ada = await customer_with_lots(shop, (300, None), (400, None))
        bob = await create_customer(shop, is_excluded=True, redeemed_points=70)
        await insert_many(shop, 9_000_000, 7)
        assert await counts(shop) == await truth(shop)

        await exclude(shop, ada, excluded=True)
        await exclude(shop, bob, excluded=False)
        assert await counts(shop) == await truth(shop)
        await exclude(shop, ada, excluded=False)
        before = (await counts(shop)).redeemed
        redemption = await redeemed(shop, ada)
        assert (await counts(shop)).redeemed == (await truth(shop)).redeemed == before + 500
        rows = await CustomerCount.filter(shop_id=shop.id).count()
        await credit(  # an approved award's balance update writes no row
            shop_id=shop.id,
            customer_id=ada.id,
            approved=25,
            pending=0,
            from_tier_id=None,
            now=utcnow(),
        )
        assert await CustomerCount.filter(shop_id=shop.id).count() == rows
        assert await counts(shop) == await truth(shop)
        await credit(  # a held one writes one row of differences
            shop_id=shop.id,
            customer_id=ada.id,
            approved=5,
            pending=10,
            from_tier_id=None,
            now=utcnow(),
        )
        await credit_keeping_tier(customer_id=bob.id, approved=0, pending=7, now=utcnow())
        assert await CustomerCount.filter(shop_id=shop.id).count() == rows + 2
        assert (await counts(shop)).pending == (await truth(shop)).pending == 17
        await approve_pending_points(customer_id=ada.id, points=4, now=utcnow())
        await release_pending_points(customer_id=ada.id, points=6, now=utcnow())
        assert await counts(shop) == await truth(shop)
        assert (await counts(shop)).pending == 7
        await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)
        assert await counts(shop) == await truth(shop)
        await redact_customer(
            shop=shop, shopify_customer_id=bob.shopify_customer_id, email=None, now=utcnow()
        )
        await redact_customer(shop=shop, shopify_customer_id=9_000_000, email=None, now=utcnow())
        assert await counts(shop) == await truth(shop)
        assert (await counts(shop)).redacted_members == 1
        assert (await counts(shop)).redacted_excluded == 1
        await Customer.filter(id=ada.id).delete()
        assert await counts(shop) == await truth(shop)
        assert await counts(other) == await truth(other)

    async def test_folding_keeps_the_sums(self, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """Past FOLD_AT rows a read folds them into one per kind; the sums do not move."""
        monkeypatch.setattr(customer_counts, "FOLD_AT", 12)
        shop = await connected_shop()
        for n in range(4):
            await insert_many(shop, 8_000_000 + 100 * n, 20)
        many = [await create_customer(shop) for _ in range(5)]
        for customer in many:
            await Customer.filter(id=customer.id).update(is_excluded=True)
        before = await CustomerCount.filter(shop_id=shop.id).count()
        assert await counts(shop) == await truth(shop)
        assert await CustomerCount.filter(shop_id=shop.id).count() < before
        assert await CustomerCount.filter(shop_id=shop.id).count() <= 4
        assert await counts(shop) == await truth(shop)

    async def test_the_periodic_job_folds_shops_nobody_reads(
        self, db: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The job folds every shop past FOLD_AT without a read, and only those; the sums do
        not move, and a second pass has nothing to do."""
        monkeypatch.setattr(customer_counts, "FOLD_AT", 12)
        crowded, quiet = await connected_shop(), await connected_shop()
        for n in range(4):
            await insert_many(crowded, 7_000_000 + 100 * n, 20)
        for customer in [await create_customer(crowded) for _ in range(10)]:
            await Customer.filter(id=customer.id).update(is_excluded=True)
        await insert_many(quiet, 7_100_000, 5)
        rows = {s.id: await CustomerCount.filter(shop_id=s.id).count() for s in (crowded, quiet)}
        assert rows[crowded.id] >= 12 > rows[quiet.id]

        assert await JOBS[JobName.FOLD_CUSTOMER_COUNTS](None, None) == 1  # type: ignore[arg-type]
        assert await CustomerCount.filter(shop_id=crowded.id).count() <= 4
        assert await CustomerCount.filter(shop_id=quiet.id).count() == rows[quiet.id]
        assert await counts(crowded) == await truth(crowded)
        assert await counts(quiet) == await truth(quiet)
        assert await customer_counts.fold_crowded_shops() == 0

    async def test_the_lists_and_the_dashboard_use_them(self, db: str) -> None:
        """Totals of the public API's list (each status) and the admin's, and the home page's
        members, excluded and redeemed, match the customers."""
        shop = await connected_shop()
        await insert_many(shop, 7_000_000, 9)
        await create_customer(shop, redeemed_points=40)
        await redact_customer(shop=shop, shopify_customer_id=7_000_001, email=None, now=utcnow())
        everyone = await Customer.filter(shop_id=shop.id).count()
        assert (await members.list_members(shop_id=shop.id)).total == everyone
        for status, excluded in (("member", False), ("excluded", True)):
            found = await members.list_members(shop_id=shop.id, loyalty_status=status)
            assert (
                found.total == await Customer.filter(shop_id=shop.id, is_excluded=excluded).count()
            )
        assert (await list_customers(shop=shop)).total == everyone
        await Customer.filter(shopify_customer_id=7_000_002).update(pending_points=30)
        await Customer.filter(shopify_customer_id=7_000_001).update(pending_points=900)
        stats = await dashboard.programme_stats(shop=shop)
        live = await truth(shop)
        assert (stats.members, stats.excluded, stats.points_redeemed, stats.points_pending) == (
            live.members,
            live.excluded,
            live.redeemed,
            live.pending,
        )
        assert stats.points_pending == 30  # the redacted customer's 900 are not counted

    async def test_the_shops_erasure_leaves_none(self, db: str) -> None:
        shop = await connected_shop()
        await insert_many(shop, 6_000_000, 3)
        assert await redact_shop(shop_id=shop.id)
        assert await CustomerCount.filter(shop_id=shop.id).count() == 0
