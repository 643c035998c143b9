"""The worker's two reads of the backlog cost what they take, not what is owed, under the
generic plan PostgreSQL caches for them (forced here: statistics lag the intents' churn):

- the lease take (loyalty.outbox.leases.take) probes sync_lease for customers in first-intent
  order only until it has found `limit` of them, and sorts only its top candidates. Before,
  every waiting customer was probed on every take (with 20,000 intents owed, 57 ms a take and
  39% of PostgreSQL's time during bench/award), then every one was sorted (9 ms of 27);
- the claim (loyalty.outbox.claims.claim) reads the leased customers' intents by the whole
  (job, shop_id, customer_id) key; before, it read every owed intent of the job and shop and
  filtered (13,283 rows for 50 claimed, 4.3 ms; 20-29% of PostgreSQL's time in bench/award)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.models import Customer, Platform
from loyalty.outbox import claims, leases
from loyalty.settings import Settings
from tests.factories import create_customer, create_rule
from tests.loyalty.outbox.test_runs import JOB
from tests.loyalty.sync.harness import award, connected_shop, enable

pytestmark = pytest.mark.parametrize("database", ["postgres"], indirect=True)

WAITING, LIMIT = 40, 3


class _Undo(Exception):
    """Rolls the explained statement back (EXPLAIN ANALYZE runs it)."""


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


async def _explained(statement: str, *args: Any) -> dict[str, Any]:
    """The plan PostgreSQL runs the statement with once its generic plan is cached."""
    plan: list[Any] = []
    with pytest.raises(_Undo):
        async with in_transaction() as tx:
            await tx.execute_script("SET LOCAL plan_cache_mode = force_generic_plan")
            rows = await tx.execute_query_dict(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, list(args)
            )
            explained = rows[0]["QUERY PLAN"]  # JSON as text, or decoded
            plan = json.loads(explained) if isinstance(explained, str) else explained
            raise _Undo
    return dict(plan[0]["Plan"])


async def _waiting(settings: Settings) -> tuple[int, list[Customer]]:
    """A shop with WAITING customers, each owing one intent of JOB."""
    shop = await connected_shop(settings)
    await enable(settings, shop, Platform.OMNISEND)
    rule = await create_rule(shop, points=10)
    customers = [await create_customer(shop) for _ in range(WAITING)]
    for customer in customers:
        await award(shop, rule, customer)
    return shop.id, customers


async def test_a_take_probes_and_sorts_only_as_many_customers_as_it_takes(
    settings: Settings,
) -> None:
    shop_id, _ = await _waiting(settings)
    now = utcnow()
    args = (str(JOB), shop_id, now, now, now, "explained", now + timedelta(minutes=1), LIMIT)
    plan = await _explained(leases._TAKE_SQL_BY_DIALECT["postgres"], *args)

    nodes = list(_nodes(plan))
    loops = [n["Actual Loops"] for n in nodes if n.get("Subplan Name", "").startswith("SubPlan")]
    assert loops and max(loops) <= LIMIT, loops
    sorts = [n.get("Sort Method") for n in nodes if n["Node Type"] == "Sort"]
    assert sorts and set(sorts) == {"top-N heapsort"}, sorts
    # And the take itself still leases the first customers by their first intent.
    taken = await leases.take(
        job=JOB,
        shop_id=shop_id,
        token="run",
        limit=LIMIT,
        until=now + timedelta(minutes=1),
        now=now,
        quiet=timedelta(0),
        max_wait=timedelta(0),
    )
    assert len(taken) == LIMIT


async def test_a_claim_reads_only_the_intents_of_its_customers(settings: Settings) -> None:
    shop_id, customers = await _waiting(settings)
    keys = [customer.id for customer in customers[10 : 10 + LIMIT]]
    now = utcnow()
    args = (str(JOB), shop_id, "explained", now + timedelta(minutes=1), now, keys, 5000)
    plan = await _explained(claims._CLAIM_SQL_BY_KIND["postgres", True, False], *args)

    scans = [n for n in _nodes(plan) if n.get("Index Name") == "idx_intent_pending_customer"]
    assert scans, "the intents are not read through idx_intent_pending_customer"
    read = sum(
        (n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"] for n in scans
    )
    assert read == LIMIT, read  # one intent of the job per customer, nobody else's
    claimed = await claims.claim(
        job=JOB,
        shop_id=shop_id,
        token="run",
        customer_keys=keys,
        until=now + timedelta(minutes=1),
        now=now,
    )
    assert sorted(intent.customer_id for intent in claimed) == sorted(keys)
