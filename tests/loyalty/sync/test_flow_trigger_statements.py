"""What a Flow trigger run costs the database per customer: its reads and its completions are one
statement for all the customers it leased, so each further customer adds only the record of
its sent trigger (and no read of the shop's token: loyalty.shopify.tokens.TOKEN_REUSE).
Counted on the real database, with Shopify stood in at the HTTP edge."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import respx

from loyalty.db import connection
from loyalty.jobs import JobName
from loyalty.models import IntentOutcome, OutboxIntent, Shop
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from standins.shopify_admin import ShopifyAdmin
from tests.factories import create_customer, create_rule
from tests.loyalty.sync.harness import award, connected_shop, graphql_url, run_job

JOB = JobName.SEND_FLOW_TRIGGERS
EXECUTES = ("execute_query", "execute_query_dict", "execute_insert", "execute_many")


@contextlib.contextmanager
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement sent on the default connection meanwhile (each still runs)."""
    client, sent = connection(), []
    for name in EXECUTES:
        original = getattr(client, name)

        async def execute(query: str, *args: Any, _original: Any = original) -> Any:
            sent.append(query)
            return await _original(query, *args)

        monkeypatch.setattr(client, name, execute)
    yield sent
    monkeypatch.undo()


async def owe(shop: Shop, customers: int) -> None:
    rule = await create_rule(shop, points=10)
    for _ in range(customers):
        await award(shop, rule, await create_customer(shop))


class TestStatementsPerCustomer:
    async def test_each_further_customer_costs_one_statement(
        self,
        settings: Settings,
        deps: JobDeps,
        shopify: ShopifyAdmin,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Runs for 2 and for 6 customers differ by at most 4 statements: the 4 triggers
        recorded (the first run also reads the shop's token, which the second reuses)."""
        shop = await connected_shop(settings)
        sent: dict[int, int] = {}
        with respx.mock(assert_all_called=True) as mock:
            mock.post(graphql_url(shop)).mock(side_effect=shopify)
            for customers in (2, 6):
                await owe(shop, customers)
                with counted(monkeypatch) as statements:
                    assert await run_job(JOB, deps, shop) == customers
                sent[customers] = len(statements)
        assert sent[6] - sent[2] <= 4, sent
        assert len(shopify.flow_triggers) == 8
        delivered = OutboxIntent.filter(job=str(JOB), outcome=IntentOutcome.DELIVERED)
        assert await delivered.count() == 8
