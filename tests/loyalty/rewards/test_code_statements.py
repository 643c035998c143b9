"""What the `sync_reward_codes` run costs the database per code: the redemption's read and its
mark; the intents delivered are completed together, and the shop's token is not read again
(loyalty.shopify.tokens.TOKEN_REUSE). Counted on the real database, Shopify stood in at HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from loyalty.models import CodeStatus, Redemption
from loyalty.rewards.redeem import redeem
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from standins.shopify_admin import ShopifyAdmin, customer_node
from tests.loyalty.partners.fakes import FakeClock
from tests.loyalty.rewards.helpers import connected_shop, customer_with_lots, reward
from tests.loyalty.rewards.test_codes import JOB
from tests.loyalty.sync.conftest import deps_for
from tests.loyalty.sync.harness import graphql_url, run_job
from tests.loyalty.sync.test_flow_trigger_statements import counted


@pytest.fixture
async def deps(settings: Settings) -> AsyncIterator[JobDeps]:
    async with httpx.AsyncClient() as http:
        yield deps_for(settings, http, FakeClock())


class TestStatementsPerCode:
    async def test_each_further_code_costs_two_statements(
        self, deps: JobDeps, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Runs making 2 and 6 codes differ by at most 8 statements: 4 reads and 4 marks."""
        shop = await connected_shop()
        offer = await reward(shop)
        customers = [await customer_with_lots(shop, (5000, None)) for _ in range(8)]
        shopify = ShopifyAdmin(customers=[customer_node(c.shopify_customer_id) for c in customers])
        sent: dict[int, int] = {}
        with respx.mock(assert_all_called=True) as mock:
            mock.post(graphql_url(shop)).mock(side_effect=shopify)
            batches = (customers[:2], customers[2:])
            for batch in batches:
                for customer in batch:
                    await redeem(
                        shop_id=shop.id, identifier=customer.email or "", reward_id=offer.public_id
                    )
                with counted(monkeypatch) as statements:
                    assert await run_job(JOB, deps, shop) == len(batch)
                sent[len(batch)] = len(statements)
        assert sent[6] - sent[2] <= 8, sent
        assert len(shopify.discount_codes) == 8
        assert await Redemption.filter(shopify_status=CodeStatus.CREATED).count() == 8
