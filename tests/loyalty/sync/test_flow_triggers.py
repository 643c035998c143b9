"""Shopify Flow triggers, sent by the `send_flow_triggers` job from the intents the events wrote,
with Shopify stood in at the HTTP edge (respx → standins.shopify_admin, which judges each
document by the Admin schema and each trigger's payload by the app's flow_trigger extension):
points earned, tier changed, reward redeemed and an explicitly owed referral, each sent once
however often the job runs; Shopify down holds the work; Flow refusing dead-letters it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import respx

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import EventDelivery, IntentOutcome, OutboxIntent
from loyalty.outbox.flow_triggers import FlowTrigger, enqueue_flow_trigger
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.rewards.redeem import redeem
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from loyalty.sync.flow_triggers import FLOW
from standins.shopify_admin import ShopifyAdmin
from tests.factories import create_customer, create_rule, create_tier
from tests.loyalty.rewards.helpers import customer_with_lots, reward
from tests.loyalty.sync.harness import award, connected_shop, graphql_url, pending, run_job

JOB = JobName.SEND_FLOW_TRIGGERS


def mocked(shop_url: str, shopify: ShopifyAdmin) -> respx.MockRouter:
    mock = respx.mock(assert_all_called=False)
    mock.post(shop_url).mock(side_effect=shopify)
    return mock


class TestPointsEarned:
    async def test_an_award_sends_points_earned_once_however_often_the_job_runs(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        """The award's intent carries the trigger: sent with the customer, the points, the
        balance and the rule; a second run, and a run after the intent was reopened (a worker
        that died before completing it), send nothing more."""
        shop = await connected_shop(settings)
        customer = await create_customer(shop)
        entry_id = await award(shop, await create_rule(shop, name="Follow us", points=40), customer)

        with mocked(graphql_url(shop), shopify):
            assert await run_job(JOB, deps, shop) == 1
            assert await run_job(JOB, deps, shop) == 0
            await OutboxIntent.filter(shop_id=shop.id, job=str(JOB)).update(
                completed_at=None, outcome=None, claimed_until=None, claimed_by=None
            )
            assert await run_job(JOB, deps, shop) == 1

        assert shopify.flow_triggers == [
            (
                "loyalty-points-earned",
                {
                    "customer_id": customer.shopify_customer_id,
                    "Points": 40,
                    "Points balance": 40,
                    "Reason": "Follow us",
                    "Event id": f"loyalty:points_earned:{entry_id}",
                },
            )
        ]
        assert [c.operation for c in shopify.calls] == ["LoyaltyFlowTriggerReceive"]
        assert await pending(JOB, shop) == []
        assert await EventDelivery.filter(platform=FLOW).count() == 1

    async def test_pending_points_trigger_nothing_until_approved(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        """Points waiting for approval cannot be spent yet: no trigger (the intent completes)."""
        shop = await connected_shop(settings)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=40, approval_time_days=14), customer)
        with mocked(graphql_url(shop), shopify):
            assert await run_job(JOB, deps, shop) == 1
        assert shopify.flow_triggers == [] and shopify.calls == []

    async def test_a_tier_reached_by_an_award_sends_both_triggers(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        shop = await connected_shop(settings)
        await create_tier(shop, name="Gold", points_required=50, points_multiplier=Decimal("1"))
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=60), customer)
        with mocked(graphql_url(shop), shopify):
            await run_job(JOB, deps, shop)
        sent = dict(shopify.flow_triggers)
        assert set(sent) == {"loyalty-points-earned", "loyalty-tier-changed"}
        changed = sent["loyalty-tier-changed"]
        assert (changed["Previous tier"], changed["New tier"], changed["Direction"]) == (
            "",
            "Gold",
            "up",
        )
        assert shopify.rejected == []

    async def test_only_changes_that_can_announce_a_trigger_owe_flow_an_intent(
        self, settings: Settings
    ) -> None:
        """An award, an approval, a redemption, a tier change owe Flow an intent (in the same
        statement as the syncs); a webhook's mirror update or an expiry owes it nothing."""
        shop = await connected_shop(settings)
        customer = await create_customer(shop)
        reasons = {
            "award": {"entry_id": "cer_1"},
            "approval": {"event": "points_approved", "entry_id": "cer_1"},
            "redemption": {"event": "points_redeemed", "redemption_id": "red_1"},
            "tier": {"event": "vip_tier_changed"},
            "webhook": {"webhook": "customers/update"},
            "expiry": {"event": "points_expired", "entry_id": "cer_2"},
        }
        owed = {}
        for name, reason in reasons.items():
            jobs = await write_customer_sync_intents(
                shop_id=shop.id, customer_id=customer.id, reason=reason
            )
            owed[name] = str(JOB) in jobs
        assert owed == {
            "award": True,
            "approval": True,
            "redemption": True,
            "tier": True,
            "webhook": False,
            "expiry": False,
        }
        assert await OutboxIntent.filter(job=str(JOB)).count() == 4


class TestRewardRedeemed:
    async def test_a_redemption_sends_reward_redeemed(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        shop = await connected_shop(settings)
        five_off = await reward(shop)
        customer = await customer_with_lots(shop, (700, None))
        done = await redeem(
            shop_id=shop.id, identifier=customer.email or "", reward_id=five_off.public_id
        )
        with mocked(graphql_url(shop), shopify):
            await run_job(JOB, deps, shop)
        [(handle, payload)] = shopify.flow_triggers
        assert handle == "loyalty-reward-redeemed"
        assert payload["Reward"] == "$5 off" and payload["Points spent"] == 500
        assert payload["Discount code"] == done.redemption.discount_code != ""
        assert payload["customer_id"] == customer.shopify_customer_id


class TestOwedExplicitly:
    async def test_a_referral_owed_in_its_transaction_is_sent_once(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        """What the referral code will call: the trigger with its fields, sent once by key."""
        shop = await connected_shop(settings)
        advocate = await create_customer(shop)
        for _ in range(2):  # owed twice by mistake: still one trigger (one key)
            await enqueue_flow_trigger(
                shop_id=shop.id,
                customer_id=advocate.id,
                trigger=FlowTrigger.REFERRAL_COMPLETED,
                key="referral:ref_1",
                fields={"Points": 500, "Referral id": "ref_1"},
                now=utcnow(),
            )
        with mocked(graphql_url(shop), shopify):
            assert await run_job(JOB, deps, shop) == 2
        assert shopify.flow_triggers == [
            (
                "loyalty-referral-completed",
                {
                    "customer_id": advocate.shopify_customer_id,
                    "Points": 500,
                    "Referral id": "ref_1",
                    "Event id": "referral:ref_1",
                },
            )
        ]

    async def test_fields_the_trigger_does_not_declare_are_refused_at_once(
        self, settings: Settings
    ) -> None:
        """A mistake is found where it is made, not when the job sends it: nothing written."""
        shop = await connected_shop(settings)
        advocate = await create_customer(shop)
        for fields in ({"Friend": "x"}, {"Points": "500"}, {"Event id": "mine"}):
            with pytest.raises(ValueError):
                await enqueue_flow_trigger(
                    shop_id=shop.id,
                    customer_id=advocate.id,
                    trigger=FlowTrigger.REFERRAL_COMPLETED,
                    key="referral:ref_1",
                    fields=fields,
                    now=utcnow(),
                )
        assert await OutboxIntent.all().count() == 0


class TestFailures:
    async def test_shopify_unavailable_holds_the_work_and_a_later_run_sends_once(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        shop = await connected_shop(settings)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=40), customer)
        shopify.answer_next(*[httpx.Response(503) for _ in range(6)])
        with mocked(graphql_url(shop), shopify):
            assert await run_job(JOB, deps, shop) == 0
            [held] = await pending(JOB, shop)
            assert held.attempts == 1 and held.claimed_until is not None
            await OutboxIntent.filter(id=held.id).update(claimed_until=utcnow() - timedelta(1))
            assert await run_job(JOB, deps, shop) == 1
        assert [handle for handle, _ in shopify.flow_triggers] == ["loyalty-points-earned"]

    async def test_a_trigger_flow_refuses_is_dead_lettered(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        """`userErrors` (a payload the deployed extension does not match): the customer's
        intents are dead-lettered with Flow's message, not retried in a loop."""
        shop = await connected_shop(settings)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=40), customer)
        refusal = {"field": ["payload"], "message": "Field 'Points' is missing"}
        shopify.answer_next(
            httpx.Response(200, json={"data": {"flowTriggerReceive": {"userErrors": [refusal]}}})
        )
        with mocked(graphql_url(shop), shopify):
            await run_job(JOB, deps, shop)
        [intent] = await OutboxIntent.filter(shop_id=shop.id, job=str(JOB))
        assert intent.outcome == IntentOutcome.DEAD and "Points" in (intent.last_error or "")
        assert await EventDelivery.filter(platform=FLOW).count() == 0

    async def test_a_shop_not_connected_is_skipped_without_a_call(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        shop = await connected_shop(settings, access_token_enc=None)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=40), customer)
        with mocked(graphql_url(shop), shopify):
            assert await run_job(JOB, deps, shop) == 1
        assert shopify.calls == []
        [intent] = await OutboxIntent.filter(shop_id=shop.id, job=str(JOB))
        assert intent.outcome == IntentOutcome.SKIPPED
