"""Taking back what an order earned (loyalty.earning.reversals), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from loyalty.customers.mirror import CustomerRecord
from loyalty.earning.purchases import PaidOrder, award_purchase
from loyalty.earning.reversals import OrderReversal, refund_share, reverse_order
from loyalty.models import (
    Activity,
    Customer,
    EarningHistoryEntry,
    EarningStatus,
    RuleCategory,
    Shop,
)
from tests.factories import create_customer, create_rule, create_shop, create_tier

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ORDER = 8001


def cancel(order_id: int = ORDER) -> OrderReversal:
    return OrderReversal(order_id=order_id, reason="cancel")


def refund(refund_id: int, amount: str, order_id: int = ORDER) -> OrderReversal:
    return OrderReversal(
        order_id=order_id, reason="refund", refund_id=refund_id, refunded_subtotal=Decimal(amount)
    )


async def earned(
    *, points: int = 1, subtotal: str = "100.00", approval_time_days: int = 0, **customer: object
) -> tuple[Shop, Customer]:
    """A shop with one purchase rule and a customer who earned from order ORDER."""
    shop = await create_shop()
    await create_rule(
        shop,
        category=RuleCategory.PURCHASE,
        action="place_order",
        points=points,
        approval_time_days=approval_time_days,
    )
    buyer = await create_customer(shop, **customer)
    order = PaidOrder(
        order_id=ORDER,
        order_number="#8001",
        subtotal=Decimal(subtotal),
        email=None,
        customer=CustomerRecord(shopify_customer_id=buyer.shopify_customer_id),
    )
    await award_purchase(shop=shop, order=order, now=NOW)
    await buyer.refresh_from_db()
    return shop, buyer


async def spend(customer: Customer, points: int) -> None:
    await Customer.filter(id=customer.id).update(
        points_balance=customer.points_balance - points,
        redeemed_points=customer.redeemed_points + points,
    )
    await customer.refresh_from_db()


class TestRefundShare:
    def test_proportional_and_rounded_half_up(self) -> None:
        assert refund_share(100, Decimal("25.00"), Decimal("100.00")) == 25
        assert refund_share(149, Decimal("16.66"), Decimal("49.99")) == 50  # 49.655… → 50
        assert refund_share(3, Decimal("50"), Decimal("100")) == 2  # 1.5 → 2

    def test_without_a_subtotal_the_whole_entry(self) -> None:
        assert refund_share(80, Decimal("1"), None) == 80


class TestCancellation:
    async def test_takes_back_approved_points_with_a_reversal_entry(self, db: str) -> None:
        """A reversal entry of -100 pointing at the original; balance and lifetime drop."""
        shop, customer = await earned()
        result = await reverse_order(shop=shop, reversal=cancel(), now=NOW)

        await customer.refresh_from_db()
        assert (customer.points_balance, customer.lifetime_points) == (0, 0)
        original = await EarningHistoryEntry.get(reversed_entry_id=None)
        reversal = await EarningHistoryEntry.get(reversed_entry_id=original.id)
        assert (reversal.points, reversal.base_points, reversal.status) == (
            -100,
            -100,
            EarningStatus.APPROVED,
        )
        assert reversal.dedupe_key == f"reversal:cancel:{ORDER}:{original.id}"
        assert (reversal.order_id, reversal.action) == (ORDER, "order_cancelled")
        assert [r.taken_back for r in result.reversed] == [100] and result.jobs
        assert await Activity.filter(customer_id=customer.id, kind="points_reversed").count() == 1

    async def test_rejects_pending_points(self, db: str) -> None:
        """Pending entries become rejected and leave the pending balance."""
        shop, customer = await earned(approval_time_days=14)
        assert customer.pending_points == 100
        result = await reverse_order(shop=shop, reversal=cancel(), now=NOW)
        await customer.refresh_from_db()
        assert (customer.pending_points, customer.points_balance) == (0, 0)
        entry = await EarningHistoryEntry.get()
        assert entry.status is EarningStatus.REJECTED and entry.note
        assert result.rejected == [entry.public_id]
        assert await EarningHistoryEntry.all().count() == 1  # no reversal entry for pending

    async def test_twice_takes_back_once(self, db: str) -> None:
        """A repeated cancellation (same order) reverses nothing more."""
        shop, _customer = await earned()
        await reverse_order(shop=shop, reversal=cancel(), now=NOW)
        again = await reverse_order(shop=shop, reversal=cancel(), now=NOW)
        assert again.reversed == [] and again.jobs == []
        assert await EarningHistoryEntry.filter(reversed_entry_id__isnull=False).count() == 1

    async def test_concurrent_cancellations_take_back_once(self, db: str) -> None:
        shop, customer = await earned()
        await asyncio.gather(
            *(reverse_order(shop=shop, reversal=cancel(), now=NOW) for _ in range(5))
        )
        await customer.refresh_from_db()
        assert customer.points_balance == 0
        assert await EarningHistoryEntry.filter(reversed_entry_id__isnull=False).count() == 1

    async def test_an_order_that_earned_nothing_changes_nothing(self, db: str) -> None:
        shop = await create_shop()
        result = await reverse_order(shop=shop, reversal=cancel(424242), now=NOW)
        assert (result.rejected, result.reversed, result.jobs) == ([], [], [])


class TestRefund:
    async def test_takes_back_the_refunded_share(self, db: str) -> None:
        """Refunding 30.00 of a 100.00 order takes back 30 of 100 points."""
        shop, customer = await earned()
        await reverse_order(shop=shop, reversal=refund(1, "30.00"), now=NOW)
        await customer.refresh_from_db()
        assert (customer.points_balance, customer.lifetime_points) == (70, 70)
        reversal = await EarningHistoryEntry.get(reversed_entry_id__isnull=False)
        assert reversal.dedupe_key.startswith("reversal:refund:1:")

    async def test_the_same_refund_delivered_again_takes_back_once(self, db: str) -> None:
        shop, customer = await earned()
        for _ in range(3):
            await reverse_order(shop=shop, reversal=refund(1, "30.00"), now=NOW)
        await customer.refresh_from_db()
        assert customer.points_balance == 70

    async def test_refunds_then_a_cancellation_never_take_more_than_was_earned(
        self, db: str
    ) -> None:
        """60 % + 60 % refunds take 60 then the remaining 40; a cancellation finds nothing."""
        shop, customer = await earned()
        await reverse_order(shop=shop, reversal=refund(1, "60.00"), now=NOW)
        await reverse_order(shop=shop, reversal=refund(2, "60.00"), now=NOW)
        final = await reverse_order(shop=shop, reversal=cancel(), now=NOW)
        await customer.refresh_from_db()
        assert (customer.points_balance, customer.lifetime_points) == (0, 0)
        assert final.reversed == []
        reversals = await EarningHistoryEntry.filter(reversed_entry_id__isnull=False).order_by("id")
        assert [r.points for r in reversals] == [-60, -40]

    async def test_a_refund_then_a_cancellation_takes_only_the_remainder(self, db: str) -> None:
        shop, _customer = await earned(points=2, subtotal="50.00")  # 100 points
        await reverse_order(shop=shop, reversal=refund(1, "12.50"), now=NOW)  # a quarter
        await reverse_order(shop=shop, reversal=cancel(), now=NOW)
        reversals = await EarningHistoryEntry.filter(reversed_entry_id__isnull=False).order_by("id")
        assert [r.points for r in reversals] == [-25, -75]

    async def test_spent_points_are_not_taken_below_zero(self, db: str) -> None:
        """Earned 100, spent 80: a full refund takes the 20 left, notes the 80 shortfall, and
        the entry counts as taken back (a later cancellation takes nothing)."""
        shop, customer = await earned()
        await spend(customer, 80)
        result = await reverse_order(shop=shop, reversal=refund(1, "100.00"), now=NOW)
        later = await reverse_order(shop=shop, reversal=cancel(), now=NOW)

        await customer.refresh_from_db()
        assert (customer.points_balance, customer.lifetime_points) == (0, 0)
        assert [(r.points, r.taken_back, r.shortfall) for r in result.reversed] == [(20, 100, 80)]
        reversal = await EarningHistoryEntry.get(reversed_entry_id__isnull=False)
        assert (reversal.points, reversal.base_points) == (-20, -100)
        assert reversal.note is not None and "80" in reversal.note
        activity = await Activity.get(customer_id=customer.id, kind="points_reversed")
        assert activity.data["shortfall"] == 80
        assert later.reversed == []

    async def test_a_refund_rejects_pending_points(self, db: str) -> None:
        shop, customer = await earned(approval_time_days=7)
        await reverse_order(shop=shop, reversal=refund(1, "10.00"), now=NOW)
        await customer.refresh_from_db()
        assert customer.pending_points == 0
        assert (await EarningHistoryEntry.get()).status is EarningStatus.REJECTED

    async def test_a_refund_of_no_lines_takes_nothing(self, db: str) -> None:
        """A shipping-only refund: the lines still earned their points, pending or not."""
        shop, customer = await earned(approval_time_days=7)
        result = await reverse_order(shop=shop, reversal=refund(1, "0"), now=NOW)
        await customer.refresh_from_db()
        assert customer.pending_points == 100 and result.rejected == []

    async def test_tiers_are_left_alone(self, db: str) -> None:
        """A reversal lowers lifetime points but never downgrades the tier."""
        shop = await create_shop()
        gold = await create_tier(shop, points_required=100, points_multiplier=Decimal("1.00"))
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        buyer = await create_customer(shop)
        order = PaidOrder(
            order_id=ORDER,
            order_number=None,
            subtotal=Decimal(100),
            email=None,
            customer=CustomerRecord(shopify_customer_id=buyer.shopify_customer_id),
        )
        await award_purchase(shop=shop, order=order, now=NOW)
        await reverse_order(shop=shop, reversal=cancel(), now=NOW)
        await buyer.refresh_from_db()
        assert (buyer.lifetime_points, buyer.vip_tier_id) == (0, gold.id)
