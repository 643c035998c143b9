"""Awarding a rule the platform itself decides on (birthdays, anniversaries, sign-up,
newsletter): the shop's active rule of a category, and granting it to one customer once under
a dedupe key.

- Once per (customer, dedupe key): the entry is inserted with `ON CONFLICT (customer_id,
  dedupe_key) DO NOTHING` (a unique index), so a repeat, or a concurrent duplicate, awards
  nothing; only an inserted entry moves the balance.
- Each award is the award API's: points = round_half_up(rule points × tier multiplier), pending
  when the rule has an approval time, the shop's expiry otherwise; balance and tier upgrade
  with atomic updates, activity rows and customer-sync intents (a "points earned" event), in
  the caller's transaction (or one of its own).
- Never to an excluded customer. Points that would take the customer past the balance ceiling
  (loyalty.ledger.ceiling) are not credited: the entry rolls back and one `points_refused`
  activity says why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.db import dialect
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.balances import credit
from loyalty.ledger.ceiling import BalanceLimitReached, fits, record_refusal
from loyalty.ledger.entries import NewEntry, insert_entry
from loyalty.ledger.timing import entry_timing
from loyalty.models import EarningRule, RuleCategory, Shop
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.points import as_multiplier, multiplied_points

_CUSTOMER_SQL = {
    "postgres": """
        SELECT c.is_excluded, c.vip_tier_id, t.points_multiplier AS multiplier
        FROM customer c LEFT JOIN vip_tier t ON t.id = c.vip_tier_id
        WHERE c.id = $1 FOR NO KEY UPDATE OF c""",
    "sqlite": """
        SELECT c.is_excluded, c.vip_tier_id, t.points_multiplier AS multiplier
        FROM customer c LEFT JOIN vip_tier t ON t.id = c.vip_tier_id
        WHERE c.id = $1""",
}


async def active_rule(shop_id: int, category: RuleCategory) -> EarningRule | None:
    """The shop's active rule of `category`: its oldest, if there are several."""
    return (
        await EarningRule.filter(shop_id=shop_id, category=category, is_active=True)
        .order_by("id")
        .first()
    )


async def grant(
    *, shop: Shop, rule: EarningRule, customer_id: int, dedupe_key: str, now: datetime
) -> list[str] | None:
    """Award `rule` to the customer once under `dedupe_key`; the sync jobs owed, or None when
    it was already awarded, the customer cannot earn, or the points would pass the balance
    ceiling (then a `points_refused` activity says so, once per customer and key: a job that
    meets it again on its next run records nothing more)."""
    async with in_transaction():
        customer = await sql.fetch_one(_CUSTOMER_SQL[dialect()], customer_id)
        if customer is None or customer["is_excluded"]:
            return None
        points = multiplied_points(rule.points, as_multiplier(customer["multiplier"]))
        if points <= 0:
            return None
        try:
            async with in_transaction():  # a savepoint: a refused credit rolls back alone
                return await _credit(shop, rule, customer_id, customer, dedupe_key, now)
        except BalanceLimitReached as refused:
            await record_refusal(
                shop_id=shop.id,
                customer_id=customer_id,
                points=refused.points,
                data={"source": str(rule.category), "rule_id": rule.public_id},
                now=now,
                once_key=dedupe_key,
            )
            return None


async def _credit(
    shop: Shop,
    rule: EarningRule,
    customer_id: int,
    customer: dict[str, Any],
    dedupe_key: str,
    now: datetime,
) -> list[str] | None:
    """Insert the entry and credit it, with its activities and intents; None when already
    awarded. Raises BalanceLimitReached when the credit would pass the ceiling."""
    multiplier = as_multiplier(customer["multiplier"])
    points = multiplied_points(rule.points, multiplier)
    if not fits(points):  # no counter could hold it (nor the entry's INT column)
        raise BalanceLimitReached(points)
    timing = entry_timing(
        now=now, approval_days=rule.approval_time_days, expiry_days=shop.points_expiry_days
    )
    entry_id = ids.new_public_id(ids.EARNING_ENTRY)
    entry = NewEntry(
        public_id=entry_id,
        shop_id=shop.id,
        customer_id=customer_id,
        rule_id=rule.id,
        action=rule.action,
        base_points=rule.points,
        points_multiplier=multiplier,
        points=points,
        timing=timing,
        dedupe_key=dedupe_key,
        created_at=now,
    )
    if await insert_entry(entry) is None:
        return None
    credited = await credit(
        shop_id=shop.id,
        customer_id=customer_id,
        approved=timing.approved_points(points),
        pending=timing.pending_points(points),
        from_tier_id=customer["vip_tier_id"],
        now=now,
    )
    if credited is None:  # past the ceiling: the savepoint undoes the entry
        raise BalanceLimitReached(points)
    awarded = {
        "entry_id": entry_id,
        "rule_id": rule.public_id,
        "points": points,
        "status": str(timing.status),
        "occasion": str(rule.category),
    }
    upgraded = credited.tier_change(
        shop_id=shop.id, customer_id=customer_id, entry_id=entry_id, now=now
    )
    await record(
        ActivityRow(shop.id, customer_id, "points_awarded", now, awarded),
        upgraded,
    )
    return await write_customer_sync_intents(
        shop_id=shop.id, customer_id=customer_id, reason={"entry_id": entry_id}, now=now
    )
