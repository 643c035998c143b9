"""Birthday and anniversary points: the shop's active `birthday` / `anniversary` rule (its oldest,
if there are several), awarded on the customer's day in the shop's timezone.

- Once per customer per year: the entry's dedupe key is `birthday:<year>` / `anniversary:<year>`
  (unique per customer, `INSERT … ON CONFLICT DO NOTHING`), so running again the same day, or
  every hour, awards nothing more.
- Only customers who are in the programme (not excluded, not redacted) with the date set; a
  29 February birthday is celebrated on 28 February in other years; an anniversary only from
  the year after the date.
- Each award is the award API's: points = round_half_up(rule points × tier multiplier), pending
  when the rule has an approval time, the shop's expiry otherwise; balance and tier upgrade
  with atomic updates, activity rows and customer-sync intents (a "points earned" event), in
  one transaction per customer.
- Points that would take the customer past the balance ceiling (loyalty.ledger.ceiling) are
  not credited: the entry rolls back and one `points_refused` activity says why.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Any

from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.clock import utcnow
from loyalty.db import dialect
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.balances import credit
from loyalty.ledger.ceiling import BalanceLimitReached, fits, record_refusal
from loyalty.ledger.entries import NewEntry, insert_entry
from loyalty.ledger.timing import entry_timing
from loyalty.lifecycle import LifecycleRun
from loyalty.models import EarningRule, RuleCategory, Shop
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.points import as_multiplier, multiplied_points
from loyalty.sync.state import shop_zone

OCCASIONS = {RuleCategory.BIRTHDAY: "date_of_birth", RuleCategory.ANNIVERSARY: "anniversary_date"}

# $1 shop, $2 month, $3 day, $4 another day of that month (29 Feb in a short year), $5 the year
# the date must be before (the anniversary's own year is not an anniversary).
_PART = {
    "postgres": "EXTRACT({part} FROM c.{column})::int",
    "sqlite": "CAST(strftime('{fmt}', c.{column}) AS INTEGER)",
}
_FORMATS = {"MONTH": "%m", "DAY": "%d", "YEAR": "%Y"}
_CELEBRANTS_SQL = """
SELECT c.id FROM customer c
WHERE c.shop_id = $1 AND NOT c.is_excluded AND c.redacted_at IS NULL
  AND c.{column} IS NOT NULL AND {month} = $2 AND ({day} = $3 OR {day} = $4) AND {year} < $5
ORDER BY c.id
"""

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


def _celebrants_sql(column: str) -> str:
    def part(name: str) -> str:
        return _PART[dialect()].format(part=name, fmt=_FORMATS[name], column=column)

    return _CELEBRANTS_SQL.format(
        column=column, month=part("MONTH"), day=part("DAY"), year=part("YEAR")
    )


def celebrated_days(today: date) -> tuple[int, int, int]:
    """(month, day, other day): 28 Feb also celebrates 29 Feb when this year has none."""
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        return 2, 28, 29
    return today.month, today.day, today.day


async def award_occasions(*, shop_id: int, now: datetime | None = None) -> LifecycleRun:
    """Award today's (shop time) birthdays and anniversaries. Idempotent per year."""
    now = now or utcnow()
    run = LifecycleRun()
    shop = await Shop.get_or_none(id=shop_id)
    if shop is None or shop.uninstalled_at is not None or not shop.programme_enabled:
        return run
    today = now.astimezone(shop_zone(shop)).date()
    month, day, other_day = celebrated_days(today)
    for category, column in OCCASIONS.items():
        rule = (
            await EarningRule.filter(shop_id=shop.id, category=category, is_active=True)
            .order_by("id")
            .first()
        )
        if rule is None:
            continue
        before_year = today.year if category is RuleCategory.ANNIVERSARY else today.year + 1
        rows = await sql.fetch_all(
            _celebrants_sql(column), shop.id, month, day, other_day, before_year
        )
        for row in rows:
            jobs = await grant(
                shop=shop,
                rule=rule,
                customer_id=int(row["id"]),
                dedupe_key=f"{category}:{today.year}",
                now=now,
            )
            if jobs is not None:
                run.done += 1
                run.jobs.update(jobs)
    return run


async def grant(
    *, shop: Shop, rule: EarningRule, customer_id: int, dedupe_key: str, now: datetime
) -> list[str] | None:
    """Award `rule` to the customer once under `dedupe_key`; the sync jobs owed, or None when
    it was already awarded, the customer cannot earn, or the points would pass the balance
    ceiling (then a `points_refused` activity says so, once per customer and key: the hourly
    runs of the day meet it again)."""
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
