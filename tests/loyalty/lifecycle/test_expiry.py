"""expire_due and notify_expiring_soon: lots expire at their date, oldest first, never below
zero, with a ledger entry each; an "expiring soon" notice at most once per 7 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loyalty.lifecycle.expiry import expire_due, notify_expiring_soon
from loyalty.models import Activity, Customer, EarningHistoryEntry, OutboxIntent
from tests.factories import create_customer, create_shop
from tests.loyalty.lifecycle.entries import lot

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def expiry_entries(customer: Customer) -> list[EarningHistoryEntry]:
    return await EarningHistoryEntry.filter(
        customer_id=customer.id, action="points_expired"
    ).order_by("id")


class TestExpireDue:
    async def test_each_lot_past_its_date_expires_with_a_ledger_entry(self, db: str) -> None:
        """Two lots past their date, oldest first; a lot not yet due keeps its points."""
        shop = await create_shop()
        customer = await create_customer(shop)
        newer = await lot(customer, expires=NOW - timedelta(hours=1), points=30)
        older = await lot(customer, expires=NOW - timedelta(days=2), points=50)
        keeps = await lot(customer, expires=NOW + timedelta(days=30), points=20)

        run = await expire_due(shop_id=shop.id, now=NOW)

        assert run.done == 2
        entries = await expiry_entries(customer)
        assert [(e.reversed_entry_id, e.points) for e in entries] == [  # type: ignore[attr-defined]
            (older.id, -50),
            (newer.id, -30),
        ]
        assert {e.dedupe_key for e in entries} == {
            f"expiry:{older.public_id}",
            f"expiry:{newer.public_id}",
        }
        fresh = await Customer.get(id=customer.id)
        assert fresh.points_balance == 20
        assert fresh.lifetime_points == 100  # lifetime counts what was ever earned
        assert (await EarningHistoryEntry.get(id=keeps.id)).points_remaining == 20
        assert (await EarningHistoryEntry.get(id=older.id)).points_remaining == 0
        assert await Activity.filter(customer_id=customer.id, kind="points_expired").count() == 2
        events = await OutboxIntent.filter(customer_id=customer.id).values_list(
            "payload", flat=True
        )
        assert sorted(p["expired_entry_id"] for p in events) == sorted(  # type: ignore[index]
            [older.public_id, newer.public_id]
        )

    async def test_never_below_zero(self, db: str) -> None:
        """Points already spent are not taken twice: the entry takes what the balance holds."""
        shop = await create_shop()
        customer = await create_customer(shop)
        await lot(customer, expires=NOW - timedelta(days=1), points=100)
        await Customer.filter(id=customer.id).update(points_balance=40)  # 60 were spent

        await expire_due(shop_id=shop.id, now=NOW)

        [entry] = await expiry_entries(customer)
        assert (entry.base_points, entry.points) == (-100, -40)
        assert entry.note and "already spent" in entry.note
        assert (await Customer.get(id=customer.id)).points_balance == 0

    async def test_running_twice_expires_once(self, db: str) -> None:
        shop = await create_shop()
        customer = await create_customer(shop)
        await lot(customer, expires=NOW - timedelta(days=1), points=100)
        await lot(customer, expires=NOW + timedelta(days=100), points=100)

        first = await expire_due(shop_id=shop.id, now=NOW)
        second = await expire_due(shop_id=shop.id, now=NOW + timedelta(minutes=15))

        assert (first.done, second.done) == (1, 0)
        assert len(await expiry_entries(customer)) == 1
        assert (await Customer.get(id=customer.id)).points_balance == 100

    async def test_an_uninstalled_shop_is_not_touched(self, db: str) -> None:
        shop = await create_shop(uninstalled_at=NOW)
        customer = await create_customer(shop)
        await lot(customer, expires=NOW - timedelta(days=1))
        assert (await expire_due(shop_id=shop.id, now=NOW)).done == 0
        assert (await Customer.get(id=customer.id)).points_balance == 100


class TestExpiringSoon:
    async def test_one_notice_per_customer_per_seven_days(self, db: str) -> None:
        """Points expiring within 7 days: one notice; again a day later, none; after 7 days,
        another."""
        shop = await create_shop(timezone="America/New_York")
        customer = await create_customer(shop)
        await lot(customer, expires=NOW + timedelta(days=3), points=80)
        await lot(customer, expires=NOW + timedelta(days=5), points=20)
        await lot(customer, expires=NOW + timedelta(days=60), points=500)  # not soon

        first = await notify_expiring_soon(shop_id=shop.id, now=NOW)
        next_day = await notify_expiring_soon(shop_id=shop.id, now=NOW + timedelta(days=1))

        assert (first.done, next_day.done) == (1, 0)
        [intent] = await OutboxIntent.filter(customer_id=customer.id)
        assert intent.payload["event"] == "points_expiring_soon"
        assert intent.payload["points"] == 100
        assert intent.payload["expires_at"] == "2026-06-04"  # the shop's date (New York)
        assert intent.payload["days_until_expiry"] == 3

        await lot(customer, expires=NOW + timedelta(days=12), points=10)
        week_later = await notify_expiring_soon(shop_id=shop.id, now=NOW + timedelta(days=7))
        assert week_later.done == 1

    async def test_concurrent_runs_send_one_notice(self, db: str) -> None:
        import asyncio

        shop = await create_shop()
        customer = await create_customer(shop)
        await lot(customer, expires=NOW + timedelta(days=2))
        runs = await asyncio.gather(
            *(notify_expiring_soon(shop_id=shop.id, now=NOW) for _ in range(3))
        )
        assert sum(r.done for r in runs) == 1
        assert await Activity.filter(kind="points_expiring_soon").count() == 1

    async def test_excluded_customers_get_no_notice(self, db: str) -> None:
        shop = await create_shop()
        customer = await create_customer(shop, is_excluded=True)
        await lot(customer, expires=NOW + timedelta(days=2))
        assert (await notify_expiring_soon(shop_id=shop.id, now=NOW)).done == 0
