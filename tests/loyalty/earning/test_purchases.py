"""Points for paid orders (loyalty.earning.purchases), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from loyalty.customers.mirror import CustomerRecord
from loyalty.earning.purchases import PaidOrder, award_purchase, order_points
from loyalty.models import (
    Activity,
    Customer,
    EarningHistoryEntry,
    EarningStatus,
    OutboxIntent,
    RuleCategory,
    Shop,
)
from tests.factories import create_customer, create_rule, create_shop, create_tier

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def paid(
    order_id: int = 5001,
    *,
    subtotal: str = "100.00",
    customer: CustomerRecord | None = None,
    email: str | None = None,
    cancelled: bool = False,
) -> PaidOrder:
    return PaidOrder(
        order_id=order_id,
        order_number=f"#{order_id}",
        subtotal=Decimal(subtotal),
        email=email,
        customer=customer,
        cancelled=cancelled,
    )


async def purchase_shop(points: int = 1, **rule: object) -> Shop:
    shop = await create_shop()
    await create_rule(
        shop, category=RuleCategory.PURCHASE, action="place_order", points=points, **rule
    )
    return shop


class TestOrderPoints:
    def test_base_is_floored_then_the_multiplier_rounds_half_up(self) -> None:
        """49.99 × 3 = 149.97 → 149; × 1.25 = 186.25 → 186; 10.10 × 1 × 1.25 = 12.5 → 13."""
        assert order_points(Decimal("49.99"), 3, Decimal("1.25")) == (149, 186)
        assert order_points(Decimal("10.10"), 1, Decimal("1.25")) == (10, 13)

    def test_decimal_subtotals_never_suffer_float_error(self) -> None:
        """0.1 + 0.2 style amounts: 0.30 × 10 is exactly 3, not 2.9999…"""
        assert order_points(Decimal("0.30"), 10, Decimal("1.00")) == (3, 3)

    def test_nothing_for_a_zero_or_negative_subtotal(self) -> None:
        assert order_points(Decimal("0.99"), 1, Decimal("1.50")) == (0, 0)
        assert order_points(Decimal("-5"), 1, Decimal("1.00")) == (0, 0)


class TestAwardPurchase:
    async def test_awards_each_active_purchase_rule_once(self, db: str) -> None:
        """Two purchase rules earn; inactive and non-purchase rules do not; balances, activity
        and sync intents are written together."""
        shop = await purchase_shop(points=2)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=5)
        await create_rule(shop, category=RuleCategory.PURCHASE, points=9, is_active=False)
        await create_rule(shop, category=RuleCategory.SOCIAL, points=7)
        customer = await create_customer(shop)
        record = CustomerRecord(shopify_customer_id=customer.shopify_customer_id)

        result = await award_purchase(shop=shop, order=paid(customer=record), now=NOW)

        assert sorted(e.points for e in result.entries) == [200, 500]
        await customer.refresh_from_db()
        assert (customer.points_balance, customer.lifetime_points) == (700, 700)
        entries = await EarningHistoryEntry.filter(customer_id=customer.id).order_by("id")
        assert [e.dedupe_key for e in entries] == [
            f"order:5001:rule:{entry.rule_id}" for entry in entries
        ]
        assert {(e.order_id, e.order_number, e.order_subtotal) for e in entries} == {
            (5001, "#5001", Decimal("100.0000"))
        }
        assert all(e.status is EarningStatus.APPROVED and e.points_given_at for e in entries)
        assert await Activity.filter(customer_id=customer.id, kind="points_awarded").count() == 2
        jobs = await OutboxIntent.filter(customer_id=customer.id).values_list("job", flat=True)
        assert sorted(jobs) == ["send_flow_triggers", "sync_shopify_metafields"]

    async def test_a_repeat_awards_nothing_more(self, db: str) -> None:
        """The same order again: no entry, no balance move, no intents."""
        shop = await purchase_shop()
        record = CustomerRecord(shopify_customer_id=42, email="a@example.com")
        first = await award_purchase(shop=shop, order=paid(customer=record), now=NOW)
        again = await award_purchase(shop=shop, order=paid(customer=record), now=NOW)
        assert len(first.entries) == 1 and again.entries == []
        assert again.skipped == "nothing_to_award" and again.jobs == []
        customer = await Customer.get(shopify_customer_id=42)
        assert customer.points_balance == 100
        assert await EarningHistoryEntry.all().count() == 1

    async def test_concurrent_deliveries_award_once(self, db: str) -> None:
        """Eight simultaneous awards of one order: exactly one entry (the unique index decides)."""
        shop = await purchase_shop()
        customer = await create_customer(shop)
        record = CustomerRecord(shopify_customer_id=customer.shopify_customer_id)
        results = await asyncio.gather(
            *(award_purchase(shop=shop, order=paid(customer=record), now=NOW) for _ in range(8))
        )
        assert sum(len(r.entries) for r in results) == 1
        await customer.refresh_from_db()
        assert customer.points_balance == 100

    async def test_the_tier_multiplier_applies_and_lifetime_points_upgrade_the_tier(
        self, db: str
    ) -> None:
        """A ×1.5 member earns 150 for 100; crossing 500 lifetime points moves them up."""
        shop = await purchase_shop()
        silver = await create_tier(shop, points_required=0, points_multiplier=Decimal("1.50"))
        gold = await create_tier(shop, points_required=500, points_multiplier=Decimal("2.00"))
        customer = await create_customer(shop, vip_tier=silver, lifetime_points=400)
        record = CustomerRecord(shopify_customer_id=customer.shopify_customer_id)

        result = await award_purchase(shop=shop, order=paid(customer=record), now=NOW)

        assert [e.points for e in result.entries] == [150]
        await customer.refresh_from_db()
        assert (customer.lifetime_points, customer.vip_tier_id) == (550, gold.id)
        assert await Activity.filter(customer_id=customer.id, kind="vip_tier_changed").exists()

    async def test_a_rule_with_an_approval_time_awards_pending_points(self, db: str) -> None:
        """approval_time_days = 14: pending, due in 14 days, no expiry yet, pending balance."""
        shop = await purchase_shop(approval_time_days=14)
        await Shop.filter(id=shop.id).update(points_expiry_days=365)
        await shop.refresh_from_db()
        record = CustomerRecord(shopify_customer_id=43)
        await award_purchase(shop=shop, order=paid(customer=record), now=NOW)
        entry = await EarningHistoryEntry.get()
        assert entry.status is EarningStatus.PENDING
        assert entry.points_due_at == NOW + timedelta(days=14)
        assert (entry.points_given_at, entry.points_expiry_at) == (None, None)
        customer = await Customer.get(shopify_customer_id=43)
        assert (customer.points_balance, customer.pending_points) == (0, 100)

    async def test_approved_points_expire_per_the_shops_setting(self, db: str) -> None:
        shop = await purchase_shop()
        await Shop.filter(id=shop.id).update(points_expiry_days=30)
        await shop.refresh_from_db()
        await award_purchase(
            shop=shop, order=paid(customer=CustomerRecord(shopify_customer_id=44)), now=NOW
        )
        assert (await EarningHistoryEntry.get()).points_expiry_at == NOW + timedelta(days=30)

    async def test_a_new_customer_is_created_from_the_order(self, db: str) -> None:
        """Not seen before: created from the order's customer object, then awarded."""
        shop = await purchase_shop()
        record = CustomerRecord(
            shopify_customer_id=45, email="New@Example.com", first_name="Nia", last_name="Obi"
        )
        result = await award_purchase(shop=shop, order=paid(customer=record), now=NOW)
        customer = await Customer.get(shopify_customer_id=45)
        assert (customer.email_key, customer.first_name) == ("new@example.com", "Nia")
        assert result.customer_id == customer.id and customer.points_balance == 100

    async def test_an_existing_customer_is_not_overwritten_by_the_order_snapshot(
        self, db: str
    ) -> None:
        shop = await purchase_shop()
        customer = await create_customer(shop, first_name="Current")
        record = CustomerRecord(shopify_customer_id=customer.shopify_customer_id, first_name="Old")
        await award_purchase(shop=shop, order=paid(customer=record), now=NOW)
        await customer.refresh_from_db()
        assert customer.first_name == "Current"

    async def test_a_guest_order_earns_only_for_a_matching_email(self, db: str) -> None:
        shop = await purchase_shop()
        customer = await create_customer(shop, email="Guest@Example.com")
        unmatched = await award_purchase(
            shop=shop, order=paid(6001, email="stranger@example.com"), now=NOW
        )
        matched = await award_purchase(
            shop=shop, order=paid(6002, email=" guest@EXAMPLE.com "), now=NOW
        )
        assert unmatched.skipped == "guest_without_customer"
        assert matched.customer_id == customer.id
        assert await Customer.all().count() == 1

    async def test_nothing_for_excluded_customers_disabled_programmes_or_cancelled_orders(
        self, db: str
    ) -> None:
        shop = await purchase_shop()
        excluded = await create_customer(shop, is_excluded=True, excluded_by="staff")
        record = CustomerRecord(shopify_customer_id=excluded.shopify_customer_id)
        assert (await award_purchase(shop=shop, order=paid(customer=record), now=NOW)).skipped == (
            "customer_excluded"
        )
        included = CustomerRecord(shopify_customer_id=46)
        cancelled = await award_purchase(
            shop=shop, order=paid(7001, customer=included, cancelled=True), now=NOW
        )
        assert cancelled.skipped == "order_cancelled"
        shop.programme_enabled = False
        off = await award_purchase(shop=shop, order=paid(7002, customer=included), now=NOW)
        assert off.skipped == "programme_disabled"
        assert await EarningHistoryEntry.all().count() == 0

    async def test_a_zero_point_order_writes_nothing(self, db: str) -> None:
        shop = await purchase_shop()
        customer = await create_customer(shop)
        record = CustomerRecord(shopify_customer_id=customer.shopify_customer_id)
        result = await award_purchase(
            shop=shop, order=paid(customer=record, subtotal="0.50"), now=NOW
        )
        assert result.entries == [] and result.jobs == []
        assert await EarningHistoryEntry.all().count() == 0
        assert await Activity.all().count() == 0
