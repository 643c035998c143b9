"""Awards made at the same moment share one batch (AwardBatcher): one statement on PostgreSQL,
one transaction with a savepoint per award on SQLite. Each still gets exactly the outcome it
would get alone, so every test here runs on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from loyalty.clock import utcnow
from loyalty.db import connection, dialect
from loyalty.earning.award import Actor, award_rule
from loyalty.errors import (
    AlreadyAwardedError,
    CustomerExcludedError,
    EarningRuleNotFoundError,
)
from loyalty.ledger.award_batch import AwardBatcher, BatchAward
from loyalty.models import Activity, ActorType, Customer, EarningHistoryEntry, OutboxIntent, Shop
from loyalty.shops.api_keys import ShopContext
from tests.factories import create_customer, create_rule, create_shop, create_tier

ACTOR = Actor(ActorType.SYSTEM)
FailOn = Callable[[str, str], Awaitable[None]]


def context(shop: Shop) -> ShopContext:
    return ShopContext(id=shop.id, domain=shop.domain, points_expiry_days=None)


class TestBatchedAwards:
    async def test_mixed_outcomes_in_one_batch_are_each_correct(self, db: str) -> None:
        """One batch holding a success, an in-batch duplicate, an excluded customer, an unknown
        rule and a second rule for the same customer: each request gets its own answer."""
        shop = await create_shop()
        tier = await create_tier(shop, points_required=0, points_multiplier=Decimal("1.50"))
        ann = await create_customer(shop, vip_tier=tier)
        eve = await create_customer(shop, is_excluded=True)
        follow = await create_rule(shop, points=100)
        review = await create_rule(shop, points=10)
        batcher = AwardBatcher()

        def go(rule_id: str, who: Customer) -> object:
            return award_rule(
                shop=context(shop),
                rule_id=rule_id,
                customer_identifier=str(who.shopify_customer_id),
                actor=ACTOR,
                batcher=batcher,
            )

        results = await asyncio.gather(
            go(follow.public_id, ann),
            go(follow.public_id, ann),  # the same award twice in one batch
            go(follow.public_id, eve),
            go("rule_missing", ann),
            go(review.public_id, ann),
            return_exceptions=True,
        )

        outcomes = [type(r).__name__ for r in results]
        assert sorted(outcomes[:2]) == ["AlreadyAwardedError", "AwardedEntry"]
        assert isinstance(results[2], CustomerExcludedError)
        assert isinstance(results[3], EarningRuleNotFoundError)
        assert outcomes[4] == "AwardedEntry"
        ann = await Customer.get(id=ann.id)
        assert (ann.points_balance, ann.lifetime_points) == (150 + 15, 150 + 15)
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 2
        assert batcher.largest_batch >= 2  # they really did share a statement / transaction

    async def test_a_batch_that_fails_as_a_whole_is_retried_one_by_one(self, db: str) -> None:
        """A request that breaks the statement fails alone; the rest of its batch succeeds."""
        shop = await create_shop()
        rule = await create_rule(shop)
        customers = [await create_customer(shop) for _ in range(3)]
        if dialect() != "postgres":
            return  # SQLite: each award fails alone inside its batch (TestSqliteBatch below)
        batcher = AwardBatcher()
        good = [
            BatchAward(
                shop.id,
                rule.public_id,
                c.shopify_customer_id,
                None,
                f"cer_batch{i}",
                utcnow(),
                None,
                "system",
                None,
            )
            for i, c in enumerate(customers)
        ]
        # public_id is VARCHAR(32): this one makes the whole statement fail.
        bad = replace(good[1], entry_public_id="cer_" + "x" * 40)

        results = await asyncio.gather(
            batcher.submit(good[0]),
            batcher.submit(bad),
            batcher.submit(good[2]),
            return_exceptions=True,
        )

        assert results[0]["inserted"] is True and results[2]["inserted"] is True
        assert isinstance(results[1], Exception)
        assert await EarningHistoryEntry.all().count() == 2

    async def test_a_burst_of_identical_awards_still_lands_once(self, db: str) -> None:
        """Fifty identical awards through one batcher: one entry, one balance change."""
        shop = await create_shop()
        rule = await create_rule(shop, points=7)
        customer = await create_customer(shop)
        batcher = AwardBatcher(max_batch=8)  # several batches, racing each other

        results = await asyncio.gather(
            *(
                award_rule(
                    shop=context(shop),
                    rule_id=rule.public_id,
                    customer_identifier=customer.email or "",
                    actor=ACTOR,
                    batcher=batcher,
                )
                for _ in range(50)
            ),
            return_exceptions=True,
        )

        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(isinstance(r, AlreadyAwardedError) for r in results if isinstance(r, Exception))
        assert (await Customer.get(id=customer.id)).points_balance == 7


def _award(shop: Shop, rule_id: str, customer: Customer, batcher: AwardBatcher) -> Any:
    return award_rule(
        shop=context(shop),
        rule_id=rule_id,
        customer_identifier=str(customer.shopify_customer_id),
        actor=ACTOR,
        batcher=batcher,
    )


class TestOneAwardFailing:
    """An award that fails, before or after its entry is written, leaves no trace and the
    others of its batch commit: SQLite rolls back that award's savepoint; PostgreSQL's
    statement fails whole and is retried one award at a time."""

    @pytest.fixture
    async def fail_on(self, db: str) -> AsyncIterator[FailOn]:
        """Makes inserts into a table fail where a condition holds (a trigger, dropped after)."""
        tables: list[str] = []

        async def create(table: str, condition: str) -> None:
            tables.append(table)
            if dialect() == "sqlite":
                await connection().execute_script(
                    f"CREATE TRIGGER fail_one BEFORE INSERT ON {table} WHEN {condition} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
                return
            await connection().execute_script(
                "CREATE FUNCTION fail_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF {condition} THEN RAISE EXCEPTION 'refused by the test'; END IF; "
                f"RETURN NEW; END $$; CREATE TRIGGER fail_one BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION fail_one()"
            )

        yield create
        for table in tables:
            if dialect() == "sqlite":
                await connection().execute_script("DROP TRIGGER IF EXISTS fail_one")
            else:
                await connection().execute_script(
                    f"DROP TRIGGER IF EXISTS fail_one ON {table}; "
                    "DROP FUNCTION IF EXISTS fail_one()"
                )

    async def test_an_award_failing_at_its_entry_fails_alone(self, fail_on: FailOn) -> None:
        shop = await create_shop()
        rule = await create_rule(shop, points=10)
        ann, bob, cat = [await create_customer(shop) for _ in range(3)]
        await fail_on("earning_history_entry", f"NEW.customer_id = {bob.id}")
        batcher = AwardBatcher()

        results = await asyncio.gather(
            *(_award(shop, rule.public_id, c, batcher) for c in (ann, bob, cat)),
            return_exceptions=True,
        )

        assert batcher.largest_batch == 3  # one batch
        assert isinstance(results[1], Exception) and "refused by the test" in str(results[1])
        assert not isinstance(results[0], BaseException)
        assert not isinstance(results[2], BaseException)
        balances = {c.id: c.points_balance for c in await Customer.all()}
        assert balances == {ann.id: 10, bob.id: 0, cat.id: 10}

    async def test_an_award_failing_after_its_credit_leaves_no_trace(self, fail_on: FailOn) -> None:
        """The activity insert fails after the entry and the credit were written: the savepoint
        takes both back, and the batch's other awards (to the same customer too) stand."""
        shop = await create_shop()
        follow, review = await create_rule(shop, points=10), await create_rule(shop, points=5)
        ann, bob = await create_customer(shop), await create_customer(shop)
        data = "NEW.data" if dialect() == "sqlite" else "NEW.data::text"
        await fail_on("activity", f"{data} LIKE '%{review.public_id}%'")
        batcher = AwardBatcher()

        results = await asyncio.gather(
            _award(shop, follow.public_id, ann, batcher),
            _award(shop, review.public_id, ann, batcher),
            _award(shop, follow.public_id, bob, batcher),
            return_exceptions=True,
        )

        assert batcher.largest_batch == 3
        assert isinstance(results[1], Exception)
        assert not any(isinstance(r, BaseException) for r in (results[0], results[2]))
        fresh = await Customer.get(id=ann.id)
        assert (fresh.points_balance, fresh.lifetime_points) == (10, 10)
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 1
        assert await Activity.filter(customer_id=ann.id, kind="points_awarded").count() == 1
        jobs = await OutboxIntent.filter(customer_id=ann.id).values_list("job", flat=True)
        assert sorted(jobs) == ["send_flow_triggers", "sync_shopify_metafields"]  # one award's
        assert (await Customer.get(id=bob.id)).points_balance == 10


POSTGRES_ONLY = pytest.mark.parametrize("database", ["postgres"], indirect=True)
_PAGES_SQL = "SELECT id, (ctid::text::point)[0]::int AS page FROM customer WHERE shop_id = $1"


@POSTGRES_ONLY
class TestAwardUpdatesCustomerInPlace:
    async def test_every_customer_of_a_page_takes_an_award_in_place_under_an_old_snapshot(
        self, db: str
    ) -> None:
        """Each award rewrites its customer's row. While an older snapshot holds back pruning
        (a pg_dump, a long export: here a REPEATABLE READ transaction on another connection),
        the page's free room is all there is for the new versions, and a version that does not
        fit goes to another page as a non-HOT update, adding an entry to each of the customer
        table's nine indexes (four of them trigram GIN). Customers created together share
        pages and are often awarded together (an import, a campaign, bench/award): every one of
        them keeps its row on its page (migration 0018's fillfactor; at 0005's 80 only about a
        quarter did)."""
        shop = await create_shop()
        rule = await create_rule(shop)
        customers = [await create_customer(shop) for _ in range(60)]
        client: Any = connection()
        pages_before = {
            row["id"]: row["page"] for row in await client.execute_query_dict(_PAGES_SQL, [shop.id])
        }
        assert len(set(pages_before.values())) >= 2  # several full pages, not one half-empty
        old = await asyncpg.connect(
            host=client.host,
            port=client.port,
            user=client.user,
            password=client.password,
            database=client.database,
        )
        try:
            async with old.transaction(isolation="repeatable_read"):
                await old.fetchval("SELECT count(*) FROM customer")  # the snapshot starts here
                batcher = AwardBatcher()
                for customer in customers:
                    await _award(shop, rule.public_id, customer, batcher)
        finally:
            await old.close()

        pages_after = {
            row["id"]: row["page"] for row in await client.execute_query_dict(_PAGES_SQL, [shop.id])
        }
        moved = [i for i, page in pages_before.items() if pages_after[i] != page]
        assert moved == []
        balances = await Customer.filter(shop_id=shop.id).values_list("points_balance", flat=True)
        assert set(balances) == {rule.points}
