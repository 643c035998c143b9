"""Migration 0017 (a big shop stays fast, bench/scale): its indexes exist on both databases, and
on PostgreSQL the statements the app itself sends for each big-shop read can use the index meant
for them (taken from Tortoise's own client log, as bench/scale explains them): an ORM upgrade
that changed the SQL it writes, or a query rewritten without its index, fails here, not as a
slow page on a merchant's million customers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.customers import directory, members
from loyalty.db import connection, dialect
from loyalty.earning import history, rules
from loyalty.earning.grants import grant
from loyalty.lifecycle import expiry
from loyalty.models import Shop
from tests.factories import create_customer, create_rule, create_shop

INDEXES = {
    "idx_customer_created",
    "idx_customer_redeemed",
    "idx_entry_customer_created",
    "idx_entry_rule",
    "idx_entry_open_lot_expiry",
    "idx_entry_open_lot_customer",
}
# 0017's per-column search indexes (email, first, last name) were replaced by one over the three
# joined (migration 0021).
TRIGRAM_INDEXES = {"idx_customer_search_trgm", "idx_customer_email_key_trgm"}
REPLACED_INDEXES = {"idx_customer_email_trgm", "idx_customer_first_trgm", "idx_customer_last_trgm"}


@contextlib.contextmanager
def sent() -> Iterator[list[tuple[str, list[Any]]]]:
    """The statements Tortoise's client sends inside the block, with their parameters."""
    found: list[tuple[str, list[Any]]] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            args = record.args if isinstance(record.args, tuple) else ()
            if record.msg == "%s: %s" and len(args) == 2 and isinstance(args[0], str):
                found.append((args[0], list(args[1] or [])))

    logger = logging.getLogger("tortoise.db_client")
    handler, level = Recorder(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def plan_of(call: Callable[[], Awaitable[object]], marker: str, *keep: str) -> str:
    """The plan for the one statement `call` sends that contains `marker`. On PostgreSQL the
    tables here are tiny, so any index ties with any other: the plan is made with only `keep`
    left among the table's secondary indexes (the others dropped in a transaction rolled back)
    and sequential scans ruled out, so the plan names `keep` exactly when the statement can use
    it. SQLite (no statistics, it prefers indexes) plans the statement as it is."""
    with sent() as statements:
        await call()
    chosen = [(query, values) for query, values in statements if marker in query]
    assert len(chosen) == 1, [query for query, _ in statements]
    query, values = chosen[0]
    if dialect() == "sqlite":
        rows = await connection().execute_query_dict("EXPLAIN QUERY PLAN " + query, values)
        return "\n".join(row["detail"] for row in rows)
    try:
        async with in_transaction() as tx:
            others = await tx.execute_query_dict(
                "SELECT c.relname AS index, con.conname, t.relname AS tbl FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
                "LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid "
                "WHERE NOT i.indisprimary AND NOT c.relname = ANY($1::text[]) AND i.indrelid IN ("
                "SELECT indrelid FROM pg_index WHERE indexrelid::regclass::text = ANY($1::text[]))",
                [list(keep)],
            )
            for row in others:
                if row["conname"]:
                    await tx.execute_script(
                        f'ALTER TABLE "{row["tbl"]}" DROP CONSTRAINT "{row["conname"]}"'
                    )
                else:
                    await tx.execute_script(f'DROP INDEX "{row["index"]}"')
            await tx.execute_script("SET LOCAL enable_seqscan = off")
            rows = await tx.execute_query_dict("EXPLAIN " + query, values)
            plan = "\n".join(row["QUERY PLAN"] for row in rows)
            raise _RolledBack(plan)
    except _RolledBack as done:
        return done.plan


class _RolledBack(Exception):
    def __init__(self, plan: str) -> None:
        self.plan = plan


async def a_customer_with_lots(shop: Shop) -> int:
    rule = await create_rule(shop)
    customer = await create_customer(shop, email="olivia.smith1@example.com")
    for n in range(3):
        await grant(
            shop=shop, rule=rule, customer_id=customer.id, dedupe_key=f"k:{n}", now=utcnow()
        )
    return customer.id


class TestTheMigration:
    async def test_makes_every_index(self, db: str) -> None:
        """Both databases get the btree and partial indexes; PostgreSQL also the trigram ones."""
        if dialect() == "sqlite":
            rows = await connection().execute_query_dict(
                "SELECT name FROM sqlite_master WHERE type = 'index'"
            )
            assert INDEXES <= {row["name"] for row in rows}
            assert not TRIGRAM_INDEXES & {row["name"] for row in rows}
        else:
            rows = await connection().execute_query_dict(
                "SELECT c.relname AS name FROM pg_index i JOIN pg_class c "
                "ON c.oid = i.indexrelid WHERE i.indisvalid"
            )
            assert INDEXES | TRIGRAM_INDEXES <= {row["name"] for row in rows}
            assert not REPLACED_INDEXES & {row["name"] for row in rows}


# The trigram indexes exist on PostgreSQL only (SQLite has no pg_trgm; it searches by scanning):
# their tests run on PostgreSQL alone, never skipped.
POSTGRES_ONLY = pytest.mark.parametrize("database", ["postgres"], indirect=True)


class TestTheAppsStatementsUseThem:
    @POSTGRES_ONLY
    async def test_admin_search_by_email_name_or_id(self, db: str) -> None:
        shop = await create_shop()
        await create_customer(shop, email="olivia.smith1@example.com")
        plan = await plan_of(  # a full page of one: the matches are counted
            lambda: directory.list_customers(shop=shop, search="olivia.sm", limit=1),
            'SELECT "id"',
            "idx_customer_search_trgm",
        )
        assert "idx_customer_search_trgm" in plan, plan
        assert "BitmapOr" not in plan, plan  # one index scan, not one per column

    @POSTGRES_ONLY
    async def test_public_api_email_filter(self, db: str) -> None:
        shop = await create_shop()
        plan = await plan_of(
            lambda: members.list_members(shop_id=shop.id, email="smith"),
            "COUNT",
            "idx_customer_email_key_trgm",
        )
        assert "idx_customer_email_key_trgm" in plan, plan

    async def test_customer_lists_newest_first_and_by_redeemed_points(self, db: str) -> None:
        shop = await create_shop()
        plan = await plan_of(
            lambda: members.list_members(shop_id=shop.id), "ORDER BY", "idx_customer_created"
        )
        assert "idx_customer_created" in plan, plan
        plan = await plan_of(
            lambda: directory.list_customers(shop=shop), "ORDER BY", "idx_customer_created"
        )
        assert "idx_customer_created" in plan, plan
        by_redeemed = members.Sort("redeemed_points")
        plan = await plan_of(
            lambda: members.list_members(shop_id=shop.id, sort=by_redeemed),
            "ORDER BY",
            "idx_customer_redeemed",
        )
        assert "idx_customer_redeemed" in plan, plan

    async def test_a_customers_history_and_next_expiry(self, db: str) -> None:
        shop = await create_shop(points_expiry_days=365)
        customer_id = await a_customer_with_lots(shop)
        plan = await plan_of(
            lambda: history.list_history(shop_id=shop.id, identifier="olivia.smith1@example.com"),
            '"earning_history_entry"."created_at" DESC',
            "idx_entry_customer_created",
        )
        assert "idx_entry_customer_created" in plan, plan
        plan = await plan_of(
            lambda: members.next_expiries([customer_id]),
            "MIN(points_expiry_at)",
            "idx_entry_open_lot_customer",
        )
        assert "idx_entry_open_lot_customer" in plan, plan

    async def test_the_expiry_sweep_and_notices(self, db: str) -> None:
        shop = await create_shop(points_expiry_days=365)
        later = utcnow() + timedelta(days=400)
        plan = await plan_of(
            lambda: expiry.expire_due(shop_id=shop.id, now=later),
            "points_expiry_at <=",
            "idx_entry_open_lot_expiry",
        )
        # Either way only open lots are read, never the ledger; SQLite, without statistics,
        # prefers the customer-ordered one (it saves the sort).
        assert (
            "idx_entry_open_lot_expiry" if dialect() == "postgres" else "idx_entry_open_lot"
        ) in plan, plan
        plan = await plan_of(
            lambda: expiry.notify_expiring_soon(shop_id=shop.id, now=later),
            "SUM(e.points",
            "idx_entry_open_lot_expiry",
        )
        assert "idx_entry_open_lot_expiry" in plan, plan

    async def test_whether_rules_were_awarded(self, db: str) -> None:
        shop = await create_shop()
        plan = await plan_of(lambda: rules.list_rules(shop=shop), "EXISTS", "idx_entry_rule")
        assert "idx_entry_rule" in plan, plan


class TestRulesPageStillKnowsWhichRulesWereAwarded:
    async def test_only_awarded_rules_are_locked(self, db: str) -> None:
        """The rewritten query (one probe per rule) answers as the scan did, on both databases."""
        shop, other = await create_shop(), await create_shop()
        awarded, idle = await create_rule(shop), await create_rule(shop, action="like")
        elsewhere = await create_rule(other)
        for rule, owner in ((awarded, shop), (elsewhere, other)):
            customer = await create_customer(owner)
            await grant(
                shop=owner, rule=rule, customer_id=customer.id, dedupe_key="k", now=utcnow()
            )
        views = {view.rule.id: view.category_locked for view in await rules.list_rules(shop=shop)}
        assert views == {awarded.id: True, idle.id: False}


class TestExpiryRoundsTakeTheLotsDueFirst:
    async def test_a_round_cut_by_its_limit_takes_the_oldest_due_lot(self, db: str) -> None:
        """The sweep reads due lots in expiry order (the open-lot index), so a round that stops
        at its limit has expired the lots that fell due first, whichever customer holds them."""
        shop = await create_shop(points_expiry_days=30)
        rule = await create_rule(shop)
        first, second = await create_customer(shop), await create_customer(shop)
        start = utcnow() - timedelta(days=60)
        await grant(
            shop=shop,
            rule=rule,
            customer_id=first.id,
            dedupe_key="a",
            now=start + timedelta(days=2),
        )
        await grant(shop=shop, rule=rule, customer_id=second.id, dedupe_key="a", now=start)
        run = await expiry.expire_due(shop_id=shop.id, now=utcnow(), limit=1)
        assert (run.done, run.more) == (1, True)
        await first.refresh_from_db()
        await second.refresh_from_db()
        assert (first.points_balance, second.points_balance) == (100, 0)
        run = await expiry.expire_due(shop_id=shop.id, now=utcnow(), limit=1)
        await first.refresh_from_db()
        assert (run.done, first.points_balance) == (1, 0)
