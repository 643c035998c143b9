"""award_occasions: birthdays and anniversaries on the customer's day in the shop's timezone,
once per year, only to customers in the programme with the date set."""

from __future__ import annotations

from datetime import UTC, date, datetime

from loyalty.lifecycle.occasions import award_occasions, celebrated_days
from loyalty.models import Customer, EarningHistoryEntry, EarningStatus, OutboxIntent, RuleCategory
from tests.factories import create_customer, create_rule, create_shop

# 03:00 UTC on 15 May is still 14 May in Los Angeles (UTC-7).
EARLY_UTC = datetime(2026, 5, 15, 3, 0, tzinfo=UTC)


async def birthday_rule(shop: object, **overrides: object) -> object:
    fields: dict[str, object] = {
        "name": "Birthday",
        "action": "birthday",
        "category": RuleCategory.BIRTHDAY,
        "points": 200,
    }
    fields.update(overrides)
    return await create_rule(shop, **fields)  # type: ignore[arg-type]


class TestAwardOccasions:
    async def test_birthdays_follow_the_shops_timezone(self, db: str) -> None:
        """At 03:00 UTC on 15 May a Los Angeles shop celebrates 14 May birthdays, not 15 May."""
        shop = await create_shop(timezone="America/Los_Angeles")
        await birthday_rule(shop)
        today = await create_customer(shop, date_of_birth=date(1990, 5, 14))
        tomorrow = await create_customer(shop, date_of_birth=date(1990, 5, 15))

        run = await award_occasions(shop_id=shop.id, now=EARLY_UTC)

        assert run.done == 1
        entry = await EarningHistoryEntry.get(customer_id=today.id)
        assert (entry.points, entry.status, entry.dedupe_key) == (
            200,
            EarningStatus.APPROVED,
            "birthday:2026",
        )
        assert (await Customer.get(id=today.id)).points_balance == 200
        assert await EarningHistoryEntry.filter(customer_id=tomorrow.id).count() == 0
        # the metafields and Shopify Flow ("points earned")
        assert await OutboxIntent.filter(customer_id=today.id).count() == 2

    async def test_once_per_customer_per_year(self, db: str) -> None:
        """Hourly runs on the day award once; next year's birthday awards again."""
        shop = await create_shop()
        await birthday_rule(shop)
        customer = await create_customer(shop, date_of_birth=date(1985, 5, 15))
        noon = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)

        first = await award_occasions(shop_id=shop.id, now=noon)
        again = await award_occasions(shop_id=shop.id, now=noon.replace(hour=13))
        next_year = await award_occasions(shop_id=shop.id, now=noon.replace(year=2027))

        assert (first.done, again.done, next_year.done) == (1, 0, 1)
        assert (await Customer.get(id=customer.id)).points_balance == 400

    async def test_only_customers_in_the_programme_with_the_date_set(self, db: str) -> None:
        shop = await create_shop()
        await birthday_rule(shop)
        noon = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
        excluded = await create_customer(shop, date_of_birth=date(1990, 5, 15), is_excluded=True)
        redacted = await create_customer(shop, date_of_birth=date(1990, 5, 15), redacted_at=noon)
        no_date = await create_customer(shop)

        assert (await award_occasions(shop_id=shop.id, now=noon)).done == 0
        for customer in (excluded, redacted, no_date):
            assert await EarningHistoryEntry.filter(customer_id=customer.id).count() == 0

    async def test_29_february_is_celebrated_on_28_february_in_other_years(self, db: str) -> None:
        shop = await create_shop()
        await birthday_rule(shop)
        leapling = await create_customer(shop, date_of_birth=date(2000, 2, 29))

        common = await award_occasions(shop_id=shop.id, now=datetime(2027, 2, 28, 12, tzinfo=UTC))
        leap_28 = await award_occasions(shop_id=shop.id, now=datetime(2028, 2, 28, 12, tzinfo=UTC))
        leap_29 = await award_occasions(shop_id=shop.id, now=datetime(2028, 2, 29, 12, tzinfo=UTC))

        assert (common.done, leap_28.done, leap_29.done) == (1, 0, 1)
        keys = await EarningHistoryEntry.filter(customer_id=leapling.id).values_list(
            "dedupe_key", flat=True
        )
        assert sorted(keys) == ["birthday:2027", "birthday:2028"]  # type: ignore[type-var]
        assert celebrated_days(date(2027, 2, 28)) == (2, 28, 29)
        assert celebrated_days(date(2028, 2, 28)) == (2, 28, 28)

    async def test_anniversaries_from_the_year_after(self, db: str) -> None:
        shop = await create_shop()
        await create_rule(
            shop,
            name="Anniversary",
            action="anniversary",
            category=RuleCategory.ANNIVERSARY,
            points=50,
            approval_time_days=3,
        )
        joined_last_year = await create_customer(shop, anniversary_date=date(2025, 5, 15))
        joined_today = await create_customer(shop, anniversary_date=date(2026, 5, 15))
        noon = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)

        assert (await award_occasions(shop_id=shop.id, now=noon)).done == 1

        entry = await EarningHistoryEntry.get(customer_id=joined_last_year.id)
        assert entry.status is EarningStatus.PENDING  # the rule's approval time applies
        assert (await Customer.get(id=joined_last_year.id)).pending_points == 50
        assert await EarningHistoryEntry.filter(customer_id=joined_today.id).count() == 0

    async def test_an_inactive_rule_or_uninstalled_shop_awards_nothing(self, db: str) -> None:
        noon = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
        inactive = await create_shop()
        await birthday_rule(inactive, is_active=False)
        await create_customer(inactive, date_of_birth=date(1990, 5, 15))
        gone = await create_shop(uninstalled_at=noon)
        await birthday_rule(gone)
        await create_customer(gone, date_of_birth=date(1990, 5, 15))

        assert (await award_occasions(shop_id=inactive.id, now=noon)).done == 0
        assert (await award_occasions(shop_id=gone.id, now=noon)).done == 0
