"""Points for a paid order (orders/paid): each active purchase rule of the shop, once per order.

Per rule: `base = floor(subtotal × rule.points)` (subtotal after discounts, shop currency,
Decimal throughout), then `points = round_half_up(base × the customer's tier multiplier)`;
pending until `points_due_at` when the rule has an approval time, otherwise approved with the
shop's expiry, exactly as the award API does.

Guarantees:
- Once per order and rule however often Shopify delivers it, concurrently or not: the entry's
  dedupe_key `order:<order_id>:rule:<rule_pk>` is unique per customer and inserted with
  `ON CONFLICT DO NOTHING`; only entries actually inserted move the balance.
- The entries, the balance move (atomic `x = x + n`), the tier upgrade, the activity rows and
  the customer-sync intents commit together, in the caller's transaction or one of its own.
- Nothing is awarded for a cancelled order, a shop whose programme is off, a guest order whose
  email matches no customer, an excluded customer, or a result of zero points.
- A sign-up rule set to wait for the customer's first paid order is awarded here, before the
  purchase rules (loyalty.earning.signup; once per customer, not taken back by a reversal).
- Nor when the points would take the customer past the balance ceiling
  (loyalty.ledger.ceiling): the order's entries roll back (a savepoint), one `points_refused`
  activity says why, `skipped` is `balance_limit`, and the webhook completes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.clock import utcnow
from loyalty.customers.identifiers import normalize_email
from loyalty.customers.mirror import CustomerRecord, mirror_customer
from loyalty.db import dialect
from loyalty.earning.signup import award_signup
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.balances import credit
from loyalty.ledger.ceiling import REASON, BalanceLimitReached, fits, record_refusal
from loyalty.ledger.entries import NewEntry, insert_entry
from loyalty.ledger.timing import entry_timing
from loyalty.models import EarningRule, EarningStatus, RuleCategory, Shop
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.points import as_multiplier, multiplied_points

SOURCE = "orders/paid"


@dataclass(frozen=True, slots=True)
class PaidOrder:
    order_id: int
    order_number: str | None
    subtotal: Decimal  # after discounts, in the shop's currency
    email: str | None  # for guest checkouts: matched against existing customers
    customer: CustomerRecord | None  # None for guest checkouts
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class OrderEntry:
    public_id: str
    rule_id: int
    base_points: int
    points: int
    status: EarningStatus


@dataclass(frozen=True, slots=True)
class PurchaseResult:
    customer_id: int | None
    entries: list[OrderEntry] = field(default_factory=list)  # inserted by this call
    jobs: list[str] = field(default_factory=list)  # customer-sync jobs owed after commit
    skipped: str | None = None  # why nothing was awarded, when nothing was


def order_points(subtotal: Decimal, rule_points: int, multiplier: Decimal) -> tuple[int, int]:
    """(base, points) for one purchase rule: floor(subtotal × rule points), × multiplier."""
    base = int((subtotal * rule_points).to_integral_value(rounding=ROUND_FLOOR))
    if base <= 0:
        return 0, 0
    return base, multiplied_points(base, multiplier)


async def award_purchase(
    *, shop: Shop, order: PaidOrder, now: datetime | None = None
) -> PurchaseResult:
    """Award the shop's active purchase rules for `order` to its customer (created from the
    order's customer object when first seen). Idempotent per order; never raises for a
    customer who cannot earn, it reports why in `skipped`."""
    now = now or utcnow()
    if order.cancelled:
        return PurchaseResult(None, skipped="order_cancelled")
    if not shop.programme_enabled:
        return PurchaseResult(None, skipped="programme_disabled")
    async with in_transaction():
        jobs: set[str] = set()
        if order.customer is not None:
            mirrored = await mirror_customer(
                shop=shop, record=order.customer, now=now, source=SOURCE, create_only=True
            )
            jobs.update(mirrored.jobs)
            customer_pk: int | None = mirrored.customer_id
        else:
            customer_pk = await _guest_customer(shop.id, order.email)
        if customer_pk is None:
            return PurchaseResult(None, skipped="guest_without_customer")
        # A sign-up rule that waits for the first paid order awards now (once per customer);
        # first, so the purchase below earns at the tier those points may reach.
        jobs.update(
            await award_signup(shop=shop, customer_id=customer_pk, now=now, at_first_order=True)
        )
        customer = await sql.fetch_one(_CUSTOMER_SQL[dialect()], customer_pk)
        assert customer is not None
        if customer["is_excluded"]:
            return PurchaseResult(customer_pk, jobs=sorted(jobs), skipped="customer_excluded")

        rules = await EarningRule.filter(
            shop_id=shop.id, category=RuleCategory.PURCHASE, is_active=True
        ).order_by("id")
        try:
            async with in_transaction():  # a savepoint: a refused credit rolls back alone
                entries = await _credit_order(shop, customer, rules, order, now, jobs)
        except BalanceLimitReached as refused:
            await record_refusal(
                shop_id=shop.id,
                customer_id=customer_pk,
                points=refused.points,
                data={"source": SOURCE, "order_id": order.order_id},
                now=now,
            )
            return PurchaseResult(customer_pk, jobs=sorted(jobs), skipped=REASON)
        if not entries:
            return PurchaseResult(customer_pk, jobs=sorted(jobs), skipped="nothing_to_award")
    return PurchaseResult(customer_pk, entries=entries, jobs=sorted(jobs))


async def _credit_order(
    shop: Shop,
    customer: dict[str, Any],
    rules: list[EarningRule],
    order: PaidOrder,
    now: datetime,
    jobs: set[str],
) -> list[OrderEntry]:
    """Insert the order's entries and credit them, with their activities and intents (adding
    the jobs owed to `jobs`). Raises BalanceLimitReached (the points refused) when the credit
    would take a counter past the ceiling: the caller's savepoint undoes the entries."""
    customer_pk = int(customer["id"])
    multiplier = as_multiplier(customer["multiplier"])
    entries = [
        entry
        for rule in rules
        if (entry := await _insert_entry(shop, customer_pk, rule, order, multiplier, now))
    ]
    if not entries:
        return entries
    approved = sum(e.points for e in entries if e.status is EarningStatus.APPROVED)
    pending = sum(e.points for e in entries if e.status is EarningStatus.PENDING)
    if not fits(approved, pending):  # past any counter whatever the balance (and the INT bind)
        raise BalanceLimitReached(approved + pending)
    credited = await credit(
        shop_id=shop.id,
        customer_id=customer_pk,
        approved=approved,
        pending=pending,
        from_tier_id=customer["vip_tier_id"],
        now=now,
    )
    if credited is None:
        raise BalanceLimitReached(approved + pending)
    rows = [
        ActivityRow(shop.id, customer_pk, "points_awarded", now, _award_data(entry, order, rules))
        for entry in entries
    ]
    upgraded = credited.tier_change(
        shop_id=shop.id, customer_id=customer_pk, entry_id=entries[0].public_id, now=now
    )
    await record(*rows, upgraded)
    jobs.update(
        await write_customer_sync_intents(
            shop_id=shop.id,
            customer_id=customer_pk,
            reason={"entry_id": entries[0].public_id, "order_id": order.order_id},
            now=now,
        )
    )
    return entries


async def _guest_customer(shop_id: int, email: str | None) -> int | None:
    key = normalize_email(email)
    if key is None:
        return None
    row = await sql.fetch_one(
        "SELECT id FROM customer WHERE shop_id = $1 AND email_key = $2 ORDER BY id LIMIT 1",
        shop_id,
        key,
    )
    return None if row is None else int(row["id"])


# The customer row is locked (PostgreSQL) so the tier read here is the one the credit moves from.
_CUSTOMER_SQL_BASE = """
SELECT c.id, c.is_excluded, c.vip_tier_id, t.points_multiplier AS multiplier
FROM customer c LEFT JOIN vip_tier t ON t.id = c.vip_tier_id
WHERE c.id = $1
"""
_CUSTOMER_SQL = {
    "postgres": _CUSTOMER_SQL_BASE + "FOR NO KEY UPDATE OF c",
    "sqlite": _CUSTOMER_SQL_BASE,
}


async def _insert_entry(
    shop: Shop,
    customer_pk: int,
    rule: EarningRule,
    order: PaidOrder,
    multiplier: Decimal,
    now: datetime,
) -> OrderEntry | None:
    base, points = order_points(order.subtotal, rule.points, multiplier)
    if points <= 0:
        return None
    if not fits(base, points):  # no counter could hold it (nor the entry's INT columns)
        raise BalanceLimitReached(points)
    timing = entry_timing(
        now=now, approval_days=rule.approval_time_days, expiry_days=shop.points_expiry_days
    )
    public_id = ids.new_public_id(ids.EARNING_ENTRY)
    inserted = await insert_entry(
        NewEntry(
            public_id=public_id,
            shop_id=shop.id,
            customer_id=customer_pk,
            rule_id=rule.id,
            action=rule.action,
            base_points=base,
            points_multiplier=multiplier,
            points=points,
            timing=timing,
            dedupe_key=f"order:{order.order_id}:rule:{rule.id}",
            created_at=now,
            order_id=order.order_id,
            order_number=order.order_number,
            order_subtotal=order.subtotal,
        )
    )
    if inserted is None:  # this order already earned this rule's points
        return None
    return OrderEntry(public_id, rule.id, base, points, timing.status)


def _award_data(entry: OrderEntry, order: PaidOrder, rules: list[EarningRule]) -> dict[str, Any]:
    rule_public_id = next((r.public_id for r in rules if r.id == entry.rule_id), None)
    return {
        "entry_id": entry.public_id,
        "rule_id": rule_public_id,
        "points": entry.points,
        "status": str(entry.status),
        "order_id": order.order_id,
        "order_number": order.order_number,
    }
