"""Birthday and anniversary points: the shop's active `birthday` / `anniversary` rule (its oldest,
if there are several), awarded on the customer's day in the shop's timezone.

- Once per customer per year: the entry's dedupe key is `birthday:<year>` / `anniversary:<year>`
  (unique per customer, `INSERT … ON CONFLICT DO NOTHING`), so running again the same day, or
  every hour, awards nothing more.
- Only customers who are in the programme (not excluded, not redacted) with the date set; a
  29 February birthday is celebrated on 28 February in other years; an anniversary only from
  the year after the date.
- Each award is `loyalty.earning.grants.grant` (the award API's points, approval and expiry,
  refused past the balance ceiling), in one transaction per customer.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.db import dialect
from loyalty.earning.grants import active_rule, grant
from loyalty.lifecycle import LifecycleRun
from loyalty.models import RuleCategory, Shop
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
        rule = await active_rule(shop.id, category)
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
