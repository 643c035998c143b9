"""The lease take's cost follows its limit, not the backlog (loyalty.outbox.leases.take): on
PostgreSQL it probes sync_lease for customers in first-intent order only until it has found
`limit` of them. Before, every waiting customer was probed on every take: with 20,000 intents
owed, 57 ms a take and 39% of PostgreSQL's time during bench/award."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.models import Platform
from loyalty.outbox import leases
from loyalty.settings import Settings
from tests.factories import create_customer, create_rule
from tests.loyalty.outbox.test_runs import JOB
from tests.loyalty.sync.harness import award, connected_shop, enable

pytestmark = pytest.mark.parametrize("database", ["postgres"], indirect=True)

WAITING, LIMIT = 40, 3


class _Undo(Exception):
    """Rolls the explained take back (EXPLAIN ANALYZE runs the INSERT)."""


def _subplan_loops(node: dict[str, Any]) -> list[int]:
    found = [node["Actual Loops"]] if node.get("Subplan Name", "").startswith("SubPlan") else []
    for child in node.get("Plans", []):
        found += _subplan_loops(child)
    return found


async def test_a_take_probes_leases_for_as_many_customers_as_it_takes(
    settings: Settings,
) -> None:
    shop = await connected_shop(settings)
    await enable(settings, shop, Platform.OMNISEND)
    rule = await create_rule(shop, points=10)
    for _ in range(WAITING):
        await award(shop, rule, await create_customer(shop))
    now = utcnow()
    args = (str(JOB), shop.id, now, now, now, "explained", now + timedelta(minutes=1), LIMIT)
    statement = leases._TAKE_SQL_BY_DIALECT["postgres"]
    plan: list[Any] = []
    with pytest.raises(_Undo):
        async with in_transaction() as tx:
            rows = await tx.execute_query_dict(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, list(args)
            )
            explained = rows[0]["QUERY PLAN"]  # JSON as text, or decoded
            plan = json.loads(explained) if isinstance(explained, str) else explained
            raise _Undo

    loops = _subplan_loops(plan[0]["Plan"])
    assert loops and max(loops) <= LIMIT, loops
    # And the take itself still leases the first customers by their first intent.
    taken = await leases.take(
        job=JOB,
        shop_id=shop.id,
        token="run",
        limit=LIMIT,
        until=now + timedelta(minutes=1),
        now=now,
        quiet=timedelta(0),
        max_wait=timedelta(0),
    )
    assert len(taken) == LIMIT
