"""The `sync_reward_codes` job: each redemption's code made in Shopify exactly once, through the
real AdminApi and loyalty.shopify.discounts against the schema-validating stand-in (mocked
only at HTTP): every kind, a second run and a run that died before recording, a refusal that
cancels and refunds, an outage retried, a cancellation deactivating; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from loyalty.jobs import JobName
from loyalty.jobs.registry import JOBS
from loyalty.models import (
    CodeStatus,
    Customer,
    OutboxIntent,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardKind,
    Shop,
)
from loyalty.outbox.claims import reopened
from loyalty.rewards.cancel import cancel_redemption
from loyalty.rewards.redeem import redeem
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from standins.shopify_admin import ShopifyAdmin, customer_node
from tests.loyalty.partners.fakes import FakeClock
from tests.loyalty.rewards.helpers import connected_shop, customer_with_lots, kinds, reward
from tests.loyalty.sync.conftest import deps_for
from tests.loyalty.sync.harness import RecordingQueue, graphql_url, pending, run_job

JOB = JobName.SYNC_REWARD_CODES
VARIANT = "gid://shopify/ProductVariant/9001"
COLLECTION = "gid://shopify/Collection/77"


@pytest.fixture
async def deps(settings: Settings) -> AsyncIterator[JobDeps]:
    async with httpx.AsyncClient() as http:
        yield deps_for(settings, http, FakeClock())


async def shop_and_customer(**shop_fields: Any) -> tuple[Shop, Customer, ShopifyAdmin]:
    shop = await connected_shop(**shop_fields)
    customer = await customer_with_lots(shop, (5000, None))
    shopify = ShopifyAdmin(customers=[customer_node(customer.shopify_customer_id)])
    return shop, customer, shopify


async def redeemed(shop: Shop, customer: Customer, **reward_fields: Any) -> Redemption:
    offer = await reward(shop, **reward_fields)
    done = await redeem(shop_id=shop.id, identifier=customer.email or "", reward_id=offer.public_id)
    return await Redemption.get(public_id=done.redemption.id)


async def run(deps: JobDeps, shop: Shop, shopify: ShopifyAdmin) -> int:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(graphql_url(shop)).mock(side_effect=shopify)
        return await run_job(JOB, deps, shop)


KINDS = {
    "fixed_amount": {},
    "percentage": {"kind": RewardKind.PERCENTAGE, "value": Decimal("12.5")},
    "free_shipping": {"kind": RewardKind.FREE_SHIPPING},
    "free_product": {
        "kind": RewardKind.FREE_PRODUCT,
        "free_variant_gid": VARIANT,
        "collection_gids": (COLLECTION,),
    },
}


class TestCreate:
    @pytest.mark.parametrize("kind", list(KINDS))
    async def test_each_kind_is_made_once_for_its_customer(self, deps: JobDeps, kind: str) -> None:
        shop, customer, shopify = await shop_and_customer()
        redemption = await redeemed(shop, customer, **KINDS[kind])
        assert redemption.code is not None

        assert await run(deps, shop, shopify) == 1
        assert await run(deps, shop, shopify) == 0  # nothing left: no second create

        made = await Redemption.get(id=redemption.id)
        assert made.shopify_status is CodeStatus.CREATED
        created = shopify.discount_codes[redemption.code]
        assert made.shopify_discount_gid == created.id
        assert created.customers == [f"gid://shopify/Customer/{customer.shopify_customer_id}"]
        assert made.expires_at is not None
        assert created.input["endsAt"] == made.expires_at.isoformat()
        assert len(shopify.discount_codes) == 1 and shopify.rejected == []
        assert await pending(JOB, shop) == []

    async def test_a_run_that_died_before_recording_makes_no_second_code(
        self, deps: JobDeps
    ) -> None:
        """The code was made but the run died before it wrote so: the intent comes back, and
        the next run finds the code in Shopify instead of making another."""
        shop, customer, shopify = await shop_and_customer()
        redemption = await redeemed(shop, customer)
        await run(deps, shop, shopify)
        await Redemption.filter(id=redemption.id).update(
            shopify_status=CodeStatus.PENDING, shopify_discount_gid=None
        )
        await OutboxIntent.filter(shop_id=shop.id, job=str(JOB)).update(
            **reopened(redemption.redeemed_at)
        )

        assert await run(deps, shop, shopify) == 1

        made = await Redemption.get(id=redemption.id)
        assert made.shopify_status is CodeStatus.CREATED
        assert len(shopify.discount_codes) == 1
        assert made.shopify_discount_gid == shopify.discount_codes[made.code or ""].id


class TestRefusedAndFailed:
    async def test_a_refused_code_cancels_the_redemption_and_returns_the_points(
        self, deps: JobDeps
    ) -> None:
        """The customer was deleted in Shopify (a userError): permanent, so the redemption is
        cancelled, the points come back once, and an activity row says why."""
        shop, customer, shopify = await shop_and_customer()
        shopify.gone.add(f"gid://shopify/Customer/{customer.shopify_customer_id}")
        redemption = await redeemed(shop, customer)

        assert await run(deps, shop, shopify) == 1
        assert await run(deps, shop, shopify) == 0

        refused = await Redemption.get(id=redemption.id)
        assert refused.status is RedemptionStatus.CANCELLED
        assert refused.shopify_status is CodeStatus.FAILED
        assert refused.cancel_reason and refused.cancel_reason.startswith("Shopify refused")
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.redeemed_points) == (5000, 0)
        assert (await kinds(customer))[-2:] == ["reward_code_refused", "reward_points_returned"]
        assert shopify.discount_codes == {}

    async def test_an_outage_is_retried_and_the_code_made_later(self, deps: JobDeps) -> None:
        shop, customer, shopify = await shop_and_customer()
        redemption = await redeemed(shop, customer)
        shopify.expect_errors = True
        shopify.answer_next(*[httpx.Response(503) for _ in range(6)])

        assert await run(deps, shop, shopify) == 0

        held = await pending(JOB, shop)
        assert [i.attempts for i in held] == [1] and held[0].claimed_until is not None
        assert (await Redemption.get(id=redemption.id)).shopify_status is CodeStatus.PENDING
        await OutboxIntent.filter(id=held[0].id).update(claimed_until=None)
        assert await run(deps, shop, shopify) == 1
        assert (await Redemption.get(id=redemption.id)).shopify_status is CodeStatus.CREATED
        assert len(shopify.discount_codes) == 1

    async def test_still_failing_when_the_window_closes_returns_the_points(
        self, deps: JobDeps
    ) -> None:
        shop, customer, shopify = await shop_and_customer()
        redemption = await redeemed(shop, customer)
        window = timedelta(seconds=deps.settings.outbox_retry_window + 1)
        await OutboxIntent.filter(shop_id=shop.id, job=str(JOB)).update(
            created_at=redemption.redeemed_at - window
        )
        shopify.expect_errors = True
        shopify.answer_next(*[httpx.Response(503) for _ in range(6)])

        await run(deps, shop, shopify)

        given_up = await Redemption.get(id=redemption.id)
        assert given_up.status is RedemptionStatus.CANCELLED
        assert given_up.shopify_status is CodeStatus.FAILED
        assert (await Customer.get(id=customer.id)).points_balance == 5000


class TestCancelled:
    async def test_a_cancelled_code_is_deactivated_in_shopify(self, deps: JobDeps) -> None:
        shop, customer, shopify = await shop_and_customer()
        redemption = await redeemed(shop, customer)
        await run(deps, shop, shopify)

        await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)
        assert await run(deps, shop, shopify) == 1

        assert shopify.discount_codes[redemption.code or ""].status == "EXPIRED"
        assert await pending(JOB, shop) == []

    async def test_cancelled_before_its_code_was_made_it_never_is(self, deps: JobDeps) -> None:
        shop, customer, shopify = await shop_and_customer()
        redemption = await redeemed(shop, customer)

        await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)
        assert await run(deps, shop, shopify) == 2  # the create and the deactivate

        assert shopify.discount_codes == {} and shopify.calls == []
        assert (await Redemption.get(id=redemption.id)).shopify_status is CodeStatus.FAILED
        assert (await Customer.get(id=customer.id)).points_balance == 5000


class TestStoreCredit:
    async def test_credited_once_then_cancelled_with_the_credit_taken_back(
        self, deps: JobDeps
    ) -> None:
        shop, customer, shopify = await shop_and_customer(currency_code="CAD")
        gid = f"gid://shopify/Customer/{customer.shopify_customer_id}"
        redemption = await redeemed(shop, customer, kind=RewardKind.STORE_CREDIT, value=Decimal(10))

        assert await run(deps, shop, shopify) == 1
        assert await run(deps, shop, shopify) == 0
        made = await Redemption.get(id=redemption.id)
        assert made.shopify_status is CodeStatus.CREATED and made.store_credit_transaction_gid
        assert shopify.store_credit_balance(gid, "CAD") == Decimal(10)

        await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)
        assert (await Customer.get(id=customer.id)).points_balance == 4500  # not before the debit
        assert await run(deps, shop, shopify) == 1

        assert shopify.store_credit_balance(gid, "CAD") == Decimal(0)
        cancelled = await Redemption.get(id=redemption.id)
        assert cancelled.status is RedemptionStatus.CANCELLED
        assert cancelled.points_refunded_at is not None
        assert (await Customer.get(id=customer.id)).points_balance == 5000
        assert shopify.rejected == []

    async def test_credit_already_spent_keeps_the_redemption_and_the_points_spent(
        self, deps: JobDeps
    ) -> None:
        shop, customer, shopify = await shop_and_customer()
        gid = f"gid://shopify/Customer/{customer.shopify_customer_id}"
        redemption = await redeemed(shop, customer, kind=RewardKind.STORE_CREDIT, value=Decimal(10))
        await run(deps, shop, shopify)
        account = next(a for a in shopify.store_credit_accounts if a.owner == gid)
        account.balance = Decimal(0)  # the customer spent it at checkout

        await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)
        await run(deps, shop, shopify)

        kept = await Redemption.get(id=redemption.id)
        assert kept.status is RedemptionStatus.ACTIVE and kept.cancel_reason is None
        assert kept.points_refunded_at is None
        assert (await Customer.get(id=customer.id)).points_balance == 4500
        assert "redemption_cancel_refused" in await kinds(customer)

    async def test_cancelled_before_it_was_credited_it_never_is(self, deps: JobDeps) -> None:
        shop, customer, shopify = await shop_and_customer()
        redemption = await redeemed(shop, customer, kind=RewardKind.STORE_CREDIT, value=Decimal(10))

        await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)
        assert await run(deps, shop, shopify) == 2

        assert shopify.store_credit_accounts == [] and shopify.calls == []
        assert (await Redemption.get(id=redemption.id)).shopify_status is CodeStatus.FAILED
        assert (await Customer.get(id=customer.id)).points_balance == 5000


async def test_fifty_at_once_with_points_for_one_make_one_code(deps: JobDeps) -> None:
    shop = await connected_shop()
    customer = await customer_with_lots(shop, (500, None))
    shopify = ShopifyAdmin(customers=[customer_node(customer.shopify_customer_id)])
    offer = await reward(shop)

    results = await asyncio.gather(
        *(
            redeem(shop_id=shop.id, identifier=customer.email or "", reward_id=offer.public_id)
            for _ in range(50)
        ),
        return_exceptions=True,
    )
    await run(deps, shop, shopify)
    await run(deps, shop, shopify)

    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert len(shopify.discount_codes) == 1
    assert (await Customer.get(id=customer.id)).points_balance == 0


async def test_the_periodic_expiry_job_queues_the_syncs_it_owes(deps: JobDeps) -> None:
    shop, customer, _ = await shop_and_customer()
    redemption = await redeemed(shop, customer)
    await Redemption.filter(id=redemption.id).update(expires_at=redemption.redeemed_at)
    queue = RecordingQueue()

    assert await JOBS[JobName.EXPIRE_REWARD_CODES](deps, queue) == 1
    assert await JOBS[JobName.EXPIRE_REWARD_CODES](deps, queue) == 0

    assert (await Redemption.get(id=redemption.id)).status is RedemptionStatus.EXPIRED
    assert [(j.job, j.kwargs) for j in queue.jobs] == [
        (JobName.SYNC_SHOPIFY_METAFIELDS, {"shop_id": shop.id})
    ]


async def test_a_credit_whose_answer_was_lost_is_found_not_given_twice(deps: JobDeps) -> None:
    """Shopify made the credit but the run died before recording it: the retry finds the
    transaction made since its first attempt instead of crediting again; another
    redemption's credit of the same amount is never taken for it."""
    shop, customer, shopify = await shop_and_customer()
    gid = f"gid://shopify/Customer/{customer.shopify_customer_id}"
    first = await redeemed(shop, customer, kind=RewardKind.STORE_CREDIT, value=Decimal(10))
    await run(deps, shop, shopify)
    offer = await Reward.get(id=first.reward_id)
    done = await redeem(shop_id=shop.id, identifier=customer.email or "", reward_id=offer.public_id)
    second = await Redemption.get(public_id=done.redemption.id)
    await run(deps, shop, shopify)
    assert shopify.store_credit_balance(gid, "USD") == Decimal(20)
    made = await Redemption.get(id=second.id)
    await Redemption.filter(id=second.id).update(
        shopify_status=CodeStatus.PENDING, store_credit_transaction_gid=None
    )
    await OutboxIntent.filter(shop_id=shop.id, job=str(JOB)).update(**reopened(second.redeemed_at))

    await run(deps, shop, shopify)

    assert shopify.store_credit_balance(gid, "USD") == Decimal(20)  # not 30
    again = await Redemption.get(id=second.id)
    assert again.shopify_status is CodeStatus.CREATED
    assert again.store_credit_transaction_gid == made.store_credit_transaction_gid
    assert (
        made.store_credit_transaction_gid
        != (await Redemption.get(id=first.id)).store_credit_transaction_gid
    )
