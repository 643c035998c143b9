"""The `sync_referral_codes` job: a referred friend's code made in Shopify once, open to any
buyer (the friend is not a customer yet) and single use, through the real AdminApi and
loyalty.shopify.discounts against the schema-validating stand-in (mocked only at HTTP); a run
that died before recording makes no second code; a refusal marks the code failed and leaves
the referral; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import respx

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import Activity, CodeStatus, OutboxIntent, Referral, RewardKind, Shop
from loyalty.outbox.claims import reopened
from loyalty.referrals.codes import code_for
from loyalty.referrals.programme import update_programme
from loyalty.referrals.start import start_referral
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from standins.shopify_admin import ShopifyAdmin
from tests.factories import create_customer
from tests.loyalty.partners.fakes import FakeClock
from tests.loyalty.rewards.helpers import connected_shop, reward
from tests.loyalty.sync.conftest import deps_for
from tests.loyalty.sync.harness import graphql_url, pending, run_job

JOB = JobName.SYNC_REFERRAL_CODES


@pytest.fixture
async def deps(settings: Settings) -> AsyncIterator[JobDeps]:
    async with httpx.AsyncClient() as http:
        yield deps_for(settings, http, FakeClock())


async def referred(**reward_fields: object) -> tuple[Shop, Referral]:
    shop = await connected_shop()
    friend_reward = await reward(shop, name="Friend 10%", **reward_fields)
    await update_programme(
        shop_id=shop.id, changes={"enabled": True, "friend_reward_id": friend_reward.public_id}
    )
    ann = await create_customer(shop)
    code = await code_for(shop_id=shop.id, customer_id=ann.id)
    assert code is not None
    started = await start_referral(
        shop=shop, code=code, friend_email="fred@example.com", ip=None, device_id=None,
        now=utcnow(),
    )  # fmt: skip
    return shop, await Referral.get(public_id=started.referral.id)


async def run(deps: JobDeps, shop: Shop, shopify: ShopifyAdmin) -> int:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(graphql_url(shop)).mock(side_effect=shopify)
        return await run_job(JOB, deps, shop)


class TestFriendCodes:
    async def test_the_code_is_made_once_open_to_any_buyer(self, deps: JobDeps) -> None:
        shop, referral = await referred(kind=RewardKind.PERCENTAGE, value=Decimal("10"))
        shopify = ShopifyAdmin()
        assert await run(deps, shop, shopify) == 1
        assert await run(deps, shop, shopify) == 0
        made = await Referral.get(id=referral.id)
        assert made.friend_code_status is CodeStatus.CREATED
        created = shopify.discount_codes[made.friend_code or ""]
        assert made.friend_discount_gid == created.id
        assert created.customers == []
        assert created.input["context"] == {"all": "ALL"}
        assert (created.input["usageLimit"], created.input["appliesOncePerCustomer"]) == (1, True)
        assert made.friend_code_expires_at is not None
        assert created.input["endsAt"] == made.friend_code_expires_at.isoformat()
        assert shopify.rejected == [] and await pending(JOB, shop) == []

    async def test_a_run_that_died_before_recording_makes_no_second_code(
        self, deps: JobDeps
    ) -> None:
        shop, referral = await referred()
        shopify = ShopifyAdmin()
        await run(deps, shop, shopify)
        await Referral.filter(id=referral.id).update(
            friend_code_status=CodeStatus.PENDING, friend_discount_gid=None
        )
        await OutboxIntent.filter(shop_id=shop.id, job=str(JOB)).update(
            **reopened(referral.created_at)
        )
        assert await run(deps, shop, shopify) == 1
        made = await Referral.get(id=referral.id)
        assert made.friend_code_status is CodeStatus.CREATED
        assert len(shopify.discount_codes) == 1
        assert made.friend_discount_gid == shopify.discount_codes[made.friend_code or ""].id

    async def test_a_code_another_discount_holds_is_failed_not_retried(self, deps: JobDeps) -> None:
        """Shopify already has this code for a customer-restricted discount: not ours, so the
        friend's code is marked failed with an activity row; the referral stays pending."""
        shop, referral = await referred()
        shopify = ShopifyAdmin()
        mine = shopify.answer(
            {
                "query": "mutation M($basicCodeDiscount: DiscountCodeBasicInput!) { "
                "discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) { "
                "codeDiscountNode { id } userErrors { field message code } } }",
                "variables": {
                    "basicCodeDiscount": {
                        "title": "Someone else's",
                        "code": referral.friend_code,
                        "startsAt": utcnow().isoformat(),
                        "context": {"customers": {"add": ["gid://shopify/Customer/1"]}},
                        "customerGets": {
                            "value": {"percentage": 0.1},
                            "items": {"all": True},
                        },
                    }
                },
            }
        )
        assert mine[0] == 200
        assert await run(deps, shop, shopify) == 1
        failed = await Referral.get(id=referral.id)
        assert (failed.friend_code_status, failed.status) == (CodeStatus.FAILED, "pending")
        assert await Activity.filter(kind="referral_code_refused").count() == 1
