"""A lifecycle round over many customers at once (PostgreSQL: one statement set per round,
loyalty.ledger.expiry_pg and approvals_pg; SQLite: per customer): the same ledger,
balances, tiers, activity rows and intents either way, each lot expired and each entry approved
exactly once, whatever runs twice or meets a concurrent spend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from loyalty.ledger.ceiling import MAX_BALANCE
from loyalty.lifecycle.approvals import approve_due
from loyalty.lifecycle.expiry import expire_due, notify_expiring_soon
from loyalty.models import (
    Activity,
    Customer,
    EarningHistoryEntry,
    EarningStatus,
    OutboxIntent,
)
from tests.factories import create_customer, create_shop, create_tier
from tests.loyalty.lifecycle.entries import lot, pending_entry

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POSTGRES_ONLY = pytest.mark.parametrize("database", ["postgres"], indirect=True)


async def activity_of(customer: Customer) -> list[tuple[str, dict[str, Any]]]:
    rows = await Activity.filter(customer_id=customer.id).order_by("id")
    return [(row.kind, row.data) for row in rows]


async def intents_of(customer: Customer) -> list[tuple[str, dict[str, Any]]]:
    rows = await OutboxIntent.filter(customer_id=customer.id).order_by("id")
    return [(row.job, row.payload) for row in rows]


async def drain(round_: Any) -> int:
    done = 0
    while True:
        run = await round_()
        done += run.done
        if not run.more:
            return done


class TestExpiryRounds:
    async def test_a_round_spanning_many_customers(self, db: str) -> None:
        """30 customers, three lots each (two due), some with points already spent: every due
        lot gets its entry, activity row and intents; balances never below zero; the rounds
        cut across customers (limit 7) and a later round takes the rest."""
        shop = await create_shop()
        customers, lots = [], {}
        for n in range(30):
            customer = await create_customer(shop)
            older = await lot(customer, expires=NOW - timedelta(days=2, minutes=n), points=50)
            newer = await lot(customer, expires=NOW - timedelta(hours=1, minutes=n), points=30)
            await lot(customer, expires=NOW + timedelta(days=30), points=20)
            if n % 3 == 0:  # 70 of the 100 were spent without drawing on the lots
                await Customer.filter(id=customer.id).update(points_balance=30)
            customers.append(customer)
            lots[customer.id] = (older, newer)

        done = await drain(lambda: expire_due(shop_id=shop.id, now=NOW, limit=7))

        assert done == 60
        for n, customer in enumerate(customers):
            older, newer = lots[customer.id]
            entries = await EarningHistoryEntry.filter(
                customer_id=customer.id, action="points_expired"
            ).order_by("id")
            spent = n % 3 == 0
            expected = [
                (older.id, -50, -30 if spent else -50),
                (newer.id, -30, 0 if spent else -30),
            ]
            assert [
                (e.reversed_entry_id, e.base_points, e.points)  # type: ignore[attr-defined]
                for e in entries
            ] == expected
            fresh = await Customer.get(id=customer.id)
            assert fresh.points_balance == (0 if spent else 20)
            assert fresh.lifetime_points == 100
            assert [
                (kind, data["expired_entry_id"], data["points"], data["expired"])
                for kind, data in await activity_of(customer)
            ] == [
                ("points_expired", older.public_id, expected[0][2], 50),
                ("points_expired", newer.public_id, expected[1][2], 30),
            ]
            assert [
                (job, payload["event"], payload["expired_entry_id"])
                for job, payload in await intents_of(customer)
            ] == [
                ("sync_shopify_metafields", "points_expired", older.public_id),
                ("sync_shopify_metafields", "points_expired", newer.public_id),
            ]
            assert {e.public_id for e in entries} == {
                payload["entry_id"] for _, payload in await intents_of(customer)
            }
            for spent_lot in (older, newer):
                assert (await EarningHistoryEntry.get(id=spent_lot.id)).points_remaining == 0

    async def test_rerun_and_concurrent_runs_expire_each_lot_once(self, db: str) -> None:
        shop = await create_shop()
        customers = [await create_customer(shop) for _ in range(12)]
        for customer in customers:
            await lot(customer, expires=NOW - timedelta(days=1), points=40)
            await lot(customer, expires=NOW - timedelta(hours=2), points=60)

        runs = await asyncio.gather(*(expire_due(shop_id=shop.id, now=NOW) for _ in range(3)))
        again = await expire_due(shop_id=shop.id, now=NOW + timedelta(minutes=5))

        assert sum(run.done for run in runs) == 24
        assert again.done == 0
        assert await EarningHistoryEntry.filter(action="points_expired").count() == 24
        assert await Activity.filter(kind="points_expired").count() == 24
        assert await OutboxIntent.filter(job="sync_shopify_metafields").count() == 24
        for customer in customers:
            assert (await Customer.get(id=customer.id)).points_balance == 0

    @POSTGRES_ONLY
    async def test_a_lot_spent_by_a_concurrent_redemption_is_not_expired(self, db: str) -> None:
        """The round reads a lot, then a redemption holding the customer spends it and commits:
        the round, which locks the customer before writing, expires only what is left."""
        shop = await create_shop()
        customer = await create_customer(shop)
        spent = await lot(customer, expires=NOW - timedelta(days=2), points=100)
        partly = await lot(customer, expires=NOW - timedelta(days=1), points=50)
        other = await create_customer(shop)
        await lot(other, expires=NOW - timedelta(days=1), points=10)

        conn = await asyncpg.connect(db.replace("postgres://", "postgresql://").split("?")[0])
        try:
            redemption = conn.transaction()
            await redemption.start()
            await conn.execute("SELECT id FROM customer WHERE id = $1 FOR UPDATE", customer.id)
            round_ = asyncio.create_task(expire_due(shop_id=shop.id, now=NOW))
            await asyncio.sleep(0.5)
            assert not round_.done()  # it waits for the customer
            # The redemption spends 120 points, oldest lot first.
            await conn.execute(
                "UPDATE earning_history_entry SET points_remaining = 0 WHERE id = $1", spent.id
            )
            await conn.execute(
                "UPDATE earning_history_entry SET points_remaining = 30 WHERE id = $1", partly.id
            )
            await conn.execute(
                "UPDATE customer SET points_balance = points_balance - 120 WHERE id = $1",
                customer.id,
            )
            await redemption.commit()
            run = await round_
        finally:
            await conn.close()

        assert run.done == 2  # the other customer's lot, and what was left of `partly`
        [entry] = await EarningHistoryEntry.filter(customer_id=customer.id, action="points_expired")
        assert (entry.reversed_entry_id, entry.base_points, entry.points) == (  # type: ignore[attr-defined]
            partly.id,
            -30,
            -30,
        )
        assert entry.note is None
        assert (await Customer.get(id=customer.id)).points_balance == 0

    async def test_notices_for_many_customers_once(self, db: str) -> None:
        shop = await create_shop(timezone="America/New_York")
        customers = [await create_customer(shop) for _ in range(15)]
        for n, customer in enumerate(customers):
            await lot(customer, expires=NOW + timedelta(days=3), points=10 + n)
            await lot(customer, expires=NOW + timedelta(days=5), points=5)
        excluded = await create_customer(shop, is_excluded=True)
        await lot(excluded, expires=NOW + timedelta(days=3))

        runs = await asyncio.gather(
            *(notify_expiring_soon(shop_id=shop.id, now=NOW, limit=4) for _ in range(2))
        )
        done = sum(run.done for run in runs) + await drain(
            lambda: notify_expiring_soon(shop_id=shop.id, now=NOW, limit=4)
        )

        assert done == 15
        for n, customer in enumerate(customers):
            [(kind, data)] = await activity_of(customer)
            notice = {
                "points": 15 + n,
                "expires_at": "2026-06-04",
                "days_until_expiry": 3,
                "notice": "2026-06-01T12:00:00.000Z",
            }
            assert (kind, data) == ("points_expiring_soon", notice)
            assert await intents_of(customer) == [
                ("sync_shopify_metafields", {"event": "points_expiring_soon", **notice})
            ]
        assert await activity_of(excluded) == []


class TestApprovalRounds:
    async def test_a_round_spanning_many_customers_moves_tiers_step_by_step(self, db: str) -> None:
        """Each customer's entries are approved in due order and the tier follows each one, as
        recalculating after every entry would: two steps, two `vip_tier_changed` rows."""
        shop = await create_shop()
        silver = await create_tier(shop, name="Silver", points_required=100)
        gold = await create_tier(shop, name="Gold", points_required=250)
        customers, entries = [], {}
        for n in range(25):
            customer = await create_customer(shop)
            first = await pending_entry(
                customer, due=NOW - timedelta(hours=2, seconds=n), points=120
            )
            second = await pending_entry(
                customer, due=NOW - timedelta(hours=1, seconds=n), points=150
            )
            await pending_entry(customer, due=NOW + timedelta(days=1), points=7)  # not yet
            customers.append(customer)
            entries[customer.id] = (first, second)

        done = await drain(lambda: approve_due(shop_id=shop.id, now=NOW, limit=9))

        assert done == 50
        steps = [
            {"from_tier_id": None, "to_tier_id": silver.id, "from_tier": None, "to_tier": "Silver"},
            {
                "from_tier_id": silver.id,
                "to_tier_id": gold.id,
                "from_tier": "Silver",
                "to_tier": "Gold",
            },
        ]
        for customer in customers:
            first, second = entries[customer.id]
            fresh = await Customer.get(id=customer.id)
            assert (fresh.points_balance, fresh.lifetime_points, fresh.pending_points) == (
                270,
                270,
                7,
            )
            assert fresh.vip_tier_id == gold.id
            assert await activity_of(customer) == [
                ("points_approved", {"entry_id": first.public_id, "points": 120}),
                ("vip_tier_changed", {**steps[0], "reason": "points_approved"}),
                ("points_approved", {"entry_id": second.public_id, "points": 150}),
                ("vip_tier_changed", {**steps[1], "reason": "points_approved"}),
            ]
            events = [
                (job, payload.get("event"), payload.get("entry_id"), payload.get("to_tier"))
                for job, payload in await intents_of(customer)
            ]
            assert sorted(events, key=str) == sorted(
                [
                    (job, "vip_tier_changed", None, "Silver")
                    for job in ("send_flow_triggers", "sync_shopify_metafields")
                ]
                + [
                    (job, "points_approved", first.public_id, None)
                    for job in ("send_flow_triggers", "sync_shopify_metafields")
                ]
                + [
                    (job, "vip_tier_changed", None, "Gold")
                    for job in ("send_flow_triggers", "sync_shopify_metafields")
                ]
                + [
                    (job, "points_approved", second.public_id, None)
                    for job in ("send_flow_triggers", "sync_shopify_metafields")
                ],
                key=str,
            )
            for entry in (first, second):
                approved = await EarningHistoryEntry.get(id=entry.id)
                assert approved.status is EarningStatus.APPROVED
                assert approved.points_remaining == approved.points
                assert approved.points_given_at == NOW

    async def test_rerun_and_concurrent_runs_approve_each_entry_once(self, db: str) -> None:
        shop = await create_shop()
        customers = [await create_customer(shop) for _ in range(10)]
        for customer in customers:
            for n in range(3):
                await pending_entry(customer, due=NOW - timedelta(minutes=n + 1), points=10)

        runs = await asyncio.gather(*(approve_due(shop_id=shop.id, now=NOW) for _ in range(3)))
        again = await approve_due(shop_id=shop.id, now=NOW + timedelta(minutes=5))

        assert sum(run.done for run in runs) == 30
        assert again.done == 0
        assert await Activity.filter(kind="points_approved").count() == 30
        for customer in customers:
            fresh = await Customer.get(id=customer.id)
            assert (fresh.points_balance, fresh.lifetime_points, fresh.pending_points) == (
                30,
                30,
                0,
            )

    async def test_a_customer_at_the_ceiling_is_refused_alone(self, db: str) -> None:
        """In a round with others, the customer the credit would take past the ceiling has
        that entry refused (per entry: the smaller one that still fits is approved)."""
        shop = await create_shop()
        full = await create_customer(shop)
        big = await pending_entry(full, due=NOW - timedelta(hours=2), points=100)
        small = await pending_entry(full, due=NOW - timedelta(hours=1), points=5)
        await Customer.filter(id=full.id).update(
            points_balance=MAX_BALANCE - 50, lifetime_points=MAX_BALANCE - 50
        )
        others = [await create_customer(shop) for _ in range(4)]
        for customer in others:
            await pending_entry(customer, due=NOW - timedelta(hours=1), points=10)

        run = await approve_due(shop_id=shop.id, now=NOW)

        assert run.done == 5
        assert (await EarningHistoryEntry.get(id=big.id)).status is EarningStatus.REJECTED
        assert (await EarningHistoryEntry.get(id=small.id)).status is EarningStatus.APPROVED
        fresh = await Customer.get(id=full.id)
        assert (fresh.points_balance, fresh.pending_points) == (MAX_BALANCE - 45, 0)
        assert [kind for kind, _ in await activity_of(full)] == [
            "points_refused",
            "points_approved",
        ]
        for customer in others:
            assert (await Customer.get(id=customer.id)).points_balance == 10
