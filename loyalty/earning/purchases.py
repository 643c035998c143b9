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
- Nor when the points would take the customer past the balance ceiling
  (loyalty.ledger.ceiling): the order's entries roll back (a savepoint), one `points_refused`
  activity says why, `skipped` is `balance_limit`, and the webhook completes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.clock import utcnow
from loyalty.customers.identifiers import normalize_email
from loyalty.customers.mirror import CustomerRecord, mirror_customer
from loyalty.db import dialect
from loyalty.ledger.ceiling import REASON, BalanceLimitReached, fits, fits_sql, record_refusal
from loyalty.models import Activity, ActorType, EarningRule, EarningStatus, RuleCategory, Shop
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
    moved = await sql.fetch_one(CREDIT_SQL, shop.id, customer_pk, approved, pending, now)
    if moved is None:
        raise BalanceLimitReached(approved + pending)
    activities = [
        _activity(shop, customer_pk, "points_awarded", _award_data(entry, order, rules), now)
        for entry in entries
    ]
    if moved["vip_tier_id"] != customer["vip_tier_id"]:
        tier_data = {
            "from_tier_id": customer["vip_tier_id"],
            "to_tier_id": moved["vip_tier_id"],
            "entry_id": entries[0].public_id,
        }
        activities.append(_activity(shop, customer_pk, "vip_tier_changed", tier_data, now))
    await Activity.bulk_create(activities)
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

# Move the balances and upgrade the tier to the highest one the new lifetime points reach (never
# down: reversals and expiry own downgrades). Written for both dialects: the sub-selects name the
# updated table, since SQLite does not resolve an UPDATE alias there. No row returned: the credit
# would pass the balance ceiling (loyalty.ledger.ceiling), and nothing moved.
CREDIT_SQL = f"""
UPDATE customer SET
    points_balance = points_balance + $3,
    lifetime_points = lifetime_points + $3,
    pending_points = pending_points + $4,
    vip_tier_id = COALESCE((
        SELECT t.id FROM vip_tier t
        WHERE t.shop_id = $1 AND t.points_required <= customer.lifetime_points + $3
          AND t.points_required > COALESCE(
                (SELECT cur.points_required FROM vip_tier cur WHERE cur.id = customer.vip_tier_id),
                -1)
        ORDER BY t.points_required DESC LIMIT 1
    ), vip_tier_id),
    updated_at = $5
WHERE id = $2 AND {fits_sql("$3", "$4")}
RETURNING vip_tier_id
"""

_INSERT_ENTRY_SQL = """
INSERT INTO earning_history_entry (
    public_id, shop_id, customer_id, rule_id, action, base_points, points_multiplier, points,
    status, points_given_at, points_due_at, points_expiry_at, dedupe_key, order_id,
    order_number, order_subtotal, created_at, updated_at, points_remaining)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18)
ON CONFLICT (customer_id, dedupe_key) DO NOTHING
RETURNING id
"""


def db_decimal(value: Decimal) -> Decimal | str:
    """asyncpg binds Decimal to numeric; sqlite3 cannot bind Decimal (Tortoise stores text)."""
    return value if dialect() == "postgres" else str(value)


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
    pending = rule.approval_time_days > 0
    given_at = None if pending else now
    due_at = now + timedelta(days=rule.approval_time_days) if pending else None
    expiry_days = shop.points_expiry_days
    expiry_at = now + timedelta(days=expiry_days) if given_at and expiry_days else None
    status = EarningStatus.PENDING if pending else EarningStatus.APPROVED
    public_id = ids.new_public_id(ids.EARNING_ENTRY)
    inserted = await sql.fetch_one(
        _INSERT_ENTRY_SQL,
        public_id,
        shop.id,
        customer_pk,
        rule.id,
        rule.action,
        base,
        db_decimal(multiplier),
        points,
        str(status),
        given_at,
        due_at,
        expiry_at,
        f"order:{order.order_id}:rule:{rule.id}",
        order.order_id,
        order.order_number,
        db_decimal(order.subtotal),
        now,
        0 if pending else points,  # a lot to spend once given
    )
    if inserted is None:  # this order already earned this rule's points
        return None
    return OrderEntry(public_id, rule.id, base, points, status)


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


def _activity(
    shop: Shop, customer_id: int, kind: str, data: dict[str, Any], now: datetime
) -> Activity:
    return Activity(
        shop_id=shop.id,
        customer_id=customer_id,
        kind=kind,
        actor_type=ActorType.SYSTEM,
        actor_id=None,
        data=data,
        created_at=now,
    )
