"""approve_due: pending points become spendable when due, once, and never a rejected entry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from loyalty.jobs import JobName
from loyalty.lifecycle.approvals import approve_due
from loyalty.models import Activity, Customer, EarningHistoryEntry, EarningStatus, OutboxIntent
from tests.factories import create_customer, create_shop, create_tier
from tests.loyalty.lifecycle.entries import pending_entry

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class TestApproveDue:
    async def test_moves_due_points_from_pending_to_current_and_lifetime(self, db: str) -> None:
        """Due entries are approved and stamped; one not yet due stays pending."""
        shop = await create_shop(points_expiry_days=365)
        customer = await create_customer(shop)
        due = await pending_entry(customer, due=NOW - timedelta(minutes=1), points=150)
        later = await pending_entry(customer, due=NOW + timedelta(hours=1), points=40)

        run = await approve_due(shop_id=shop.id, now=NOW)

        assert run.done == 1 and not run.more
        assert JobName.SYNC_SHOPIFY_METAFIELDS in run.jobs
        approved = await EarningHistoryEntry.get(id=due.id)
        assert approved.status is EarningStatus.APPROVED
        assert approved.points_given_at == NOW
        assert approved.points_remaining == 150
        assert approved.points_expiry_at == NOW + timedelta(days=365)
        assert (await EarningHistoryEntry.get(id=later.id)).status is EarningStatus.PENDING
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.pending_points, fresh.lifetime_points) == (150, 40, 150)
        assert await Activity.filter(customer_id=customer.id, kind="points_approved").count() == 1
        intent = await OutboxIntent.get(customer_id=customer.id, job="sync_shopify_metafields")
        assert await OutboxIntent.filter(customer_id=customer.id, job="send_flow_triggers").exists()
        assert intent.payload == {"event": "points_approved", "entry_id": due.public_id}

    async def test_running_twice_changes_nothing(self, db: str) -> None:
        """A second run (or a concurrent one) approves nothing more and credits nothing more."""
        shop = await create_shop()
        customer = await create_customer(shop)
        await pending_entry(customer, due=NOW - timedelta(days=1), points=70)

        runs = await asyncio.gather(
            approve_due(shop_id=shop.id, now=NOW), approve_due(shop_id=shop.id, now=NOW)
        )
        again = await approve_due(shop_id=shop.id, now=NOW + timedelta(minutes=5))

        assert sorted(r.done for r in runs) == [0, 1] and again.done == 0
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.pending_points, fresh.lifetime_points) == (70, 0, 70)
        assert await Activity.filter(kind="points_approved").count() == 1
        # the metafields and Shopify Flow ("points earned"), once
        assert await OutboxIntent.filter(customer_id=customer.id).count() == 2

    async def test_a_rejected_entry_is_left_alone(self, db: str) -> None:
        """An order cancelled before approval rejected the entry: approval must not revive it."""
        shop = await create_shop()
        customer = await create_customer(shop)
        entry = await pending_entry(customer, due=NOW - timedelta(days=1))
        await EarningHistoryEntry.filter(id=entry.id).update(status=EarningStatus.REJECTED)
        await Customer.filter(id=customer.id).update(pending_points=0)

        run = await approve_due(shop_id=shop.id, now=NOW)

        assert run.done == 0
        assert (await EarningHistoryEntry.get(id=entry.id)).status is EarningStatus.REJECTED
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.lifetime_points) == (0, 0)

    async def test_approval_recalculates_the_tier(self, db: str) -> None:
        """Lifetime points crossing a threshold move the tier and record the change."""
        shop = await create_shop()
        gold = await create_tier(
            shop, name="Gold", points_required=100, points_multiplier=Decimal("2")
        )
        customer = await create_customer(shop)
        await pending_entry(customer, due=NOW - timedelta(seconds=1), points=120)

        await approve_due(shop_id=shop.id, now=NOW)

        assert (await Customer.get(id=customer.id)).vip_tier_id == gold.id
        assert await Activity.filter(customer_id=customer.id, kind="vip_tier_changed").count() == 1

    async def test_an_uninstalled_shop_is_not_touched(self, db: str) -> None:
        shop = await create_shop(uninstalled_at=NOW - timedelta(days=1))
        customer = await create_customer(shop)
        entry = await pending_entry(customer, due=NOW - timedelta(days=1))

        assert (await approve_due(shop_id=shop.id, now=NOW)).done == 0
        assert (await EarningHistoryEntry.get(id=entry.id)).status is EarningStatus.PENDING

    async def test_a_backlog_says_more_is_owed(self, db: str) -> None:
        shop = await create_shop()
        customer = await create_customer(shop)
        for n in range(3):
            await pending_entry(customer, due=NOW - timedelta(minutes=n + 1), points=10)

        first = await approve_due(shop_id=shop.id, now=NOW, limit=2)
        second = await approve_due(shop_id=shop.id, now=NOW, limit=2)

        assert (first.done, first.more) == (2, True)
        assert (second.done, second.more) == (1, False)
        assert (await Customer.get(id=customer.id)).points_balance == 30
