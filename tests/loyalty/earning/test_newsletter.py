"""Newsletter points (loyalty.earning.newsletter), driven by Shopify's real
customers_email_marketing_consent/update body delivered to the webhook route, on SQLite and
PostgreSQL: once per customer when the consent becomes `subscribed` after the rule, never
again after unsubscribing and subscribing again, nothing for other states, an older
subscription, an inactive rule or an excluded customer."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx

from loyalty.models import EarningHistoryEntry, EarningStatus, RuleCategory
from loyalty.shops.demo import DEMO_SHOP, seed_demo
from tests.factories import create_customer, create_tier
from tests.loyalty.earning.earn_by_webhook import (
    CONSENT_TOPIC,
    consent_payload,
    customer,
    entries_of,
    later,
    rule,
    send,
    webhook_shop,
)
from tests.shopify_webhooks import customer_payload, deliver, run_jobs
from web.state import Services

NEWSLETTER = RuleCategory.NEWSLETTER
BO = 8201


class TestSubscribing:
    async def test_subscribing_earns_once_and_resubscribing_never_again(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Subscribed: the rule's points. Confirmed again (a new opt-in level), unsubscribed,
        subscribed again: nothing more."""
        shop = await webhook_shop()
        newsletter = await rule(shop, NEWSLETTER, points=50)
        await send(client, services, "customers/create", customer_payload(BO))
        await send(
            client, services, CONSENT_TOPIC, consent_payload(BO, "subscribed", updated_at=later(1))
        )
        again = consent_payload(
            BO, "subscribed", updated_at=later(2), opt_in_level="confirmed_opt_in"
        )
        await send(client, services, CONSENT_TOPIC, again)
        await send(
            client,
            services,
            CONSENT_TOPIC,
            consent_payload(BO, "unsubscribed", updated_at=later(3)),
        )
        await send(
            client, services, CONSENT_TOPIC, consent_payload(BO, "subscribed", updated_at=later(4))
        )

        [entry] = await entries_of(BO)
        assert (entry.rule_id, entry.action, entry.dedupe_key) == (
            newsletter.id,
            "newsletter_signup",
            "newsletter",
        )
        assert (entry.points, entry.status) == (50, EarningStatus.APPROVED)
        assert (await customer(BO)).points_balance == 50

    async def test_points_times_the_tier_multiplier_pending_for_the_approval_time(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await webhook_shop()
        gold = await create_tier(shop, points_required=0, points_multiplier=Decimal("2.00"))
        await create_customer(shop, shopify_customer_id=BO, vip_tier=gold)
        await rule(shop, NEWSLETTER, points=50, approval_time_days=3)
        await send(
            client, services, CONSENT_TOPIC, consent_payload(BO, "subscribed", updated_at=later())
        )
        [entry] = await entries_of(BO)
        assert (entry.points, entry.status) == (100, EarningStatus.PENDING)
        assert (await customer(BO)).pending_points == 100

    async def test_a_consent_event_before_the_customer_body_creates_them(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The consent event names a customer not seen yet: created with its email, awarded;
        their customers/create then fills in the rest and awards nothing more."""
        shop = await webhook_shop()
        await rule(shop, NEWSLETTER, points=50)
        await send(
            client,
            services,
            CONSENT_TOPIC,
            consent_payload(BO, "subscribed", updated_at=later(), email="Bo@Example.com"),
        )
        bo = await customer(BO)
        assert (bo.email, bo.email_key, bo.points_balance) == (
            "Bo@Example.com",
            "bo@example.com",
            50,
        )
        await send(
            client,
            services,
            "customers/create",
            customer_payload(BO, first_name="Bo", email="bo@example.com"),
        )
        bo = await customer(BO)
        assert (bo.first_name, bo.points_balance) == ("Bo", 50)
        assert len(await entries_of(BO)) == 1

    async def test_pending_double_opt_in_waits_for_the_confirmation(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await webhook_shop()
        await rule(shop, NEWSLETTER, points=50)
        await send(
            client,
            services,
            CONSENT_TOPIC,
            consent_payload(BO, "pending", updated_at=later(1), opt_in_level="confirmed_opt_in"),
        )
        assert await entries_of(BO) == []
        await send(
            client,
            services,
            CONSENT_TOPIC,
            consent_payload(BO, "subscribed", updated_at=later(2), opt_in_level="confirmed_opt_in"),
        )
        assert len(await entries_of(BO)) == 1

    async def test_a_subscription_without_a_consent_time_counts_as_now(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Shopify may leave consent_updated_at null: the event itself says it changed."""
        shop = await webhook_shop()
        await rule(shop, NEWSLETTER, points=50)
        await send(
            client, services, CONSENT_TOPIC, consent_payload(BO, "subscribed", updated_at=None)
        )
        assert len(await entries_of(BO)) == 1


class TestRefusals:
    async def test_other_states_earn_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await webhook_shop()
        await rule(shop, NEWSLETTER, points=50)
        for n, state in enumerate(["not_subscribed", "unsubscribed", "redacted", "invalid", None]):
            await send(
                client, services, CONSENT_TOPIC, consent_payload(BO, state, updated_at=later(n + 1))
            )
        assert await entries_of(BO) == []

    async def test_a_subscription_older_than_the_rule_earns_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Delivered late, or re-sent: the consent was given before the rule existed."""
        shop = await webhook_shop()
        await rule(shop, NEWSLETTER, points=50, made=datetime(2026, 1, 1, tzinfo=UTC))
        await send(
            client,
            services,
            CONSENT_TOPIC,
            consent_payload(BO, "subscribed", updated_at="2025-12-31T23:59:59Z"),
        )
        assert await entries_of(BO) == []

    async def test_an_inactive_rule_awards_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await webhook_shop()
        await rule(shop, NEWSLETTER, points=50, is_active=False)
        await send(
            client, services, CONSENT_TOPIC, consent_payload(BO, "subscribed", updated_at=later())
        )
        assert await entries_of(BO) == []

    async def test_an_excluded_customer_earns_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await webhook_shop()
        await create_customer(shop, shopify_customer_id=BO, is_excluded=True, excluded_by="staff")
        await rule(shop, NEWSLETTER, points=50)
        await send(
            client, services, CONSENT_TOPIC, consent_payload(BO, "subscribed", updated_at=later())
        )
        assert await entries_of(BO) == []

    async def test_a_customer_body_never_awards_it(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """Only the consent topic does: a customer body (no consent since API 2025-01) with a
        2024-10-style `email_marketing_consent` added is not read for it."""
        shop = await webhook_shop()
        await rule(shop, NEWSLETTER, points=50)
        body = customer_payload(BO)
        body["email_marketing_consent"] = {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": later(),
        }
        await send(client, services, "customers/update", body)
        assert await entries_of(BO) == []


class TestDemo:
    async def test_the_demo_seeds_both_rules_and_they_award(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """`loyalty demo` seeds an active sign-up and newsletter rule; a customer signing up
        and subscribing on the demo shop earns both; the seeded customers earn neither."""
        seeded = await seed_demo()
        active = {r.category: r for r in seeded.rules if r.is_active}
        assert {RuleCategory.SIGNUP, RuleCategory.NEWSLETTER} <= set(active)
        created = later()
        for topic, body in [
            ("customers/create", customer_payload(BO, created_at=created, updated_at=created)),
            (CONSENT_TOPIC, consent_payload(BO, "subscribed", updated_at=later())),
        ]:
            response = await deliver(client, topic, body, shop=DEMO_SHOP)
            assert response.json() == {"status": "accepted"}
        await run_jobs(services)
        points = {e.dedupe_key: e.points for e in await entries_of(BO)}
        assert points == {
            "signup": active[RuleCategory.SIGNUP].points,
            "newsletter": active[RuleCategory.NEWSLETTER].points,
        }
        seeded_ids = [c.shopify_customer_id for c in seeded.customers]
        assert (
            await EarningHistoryEntry.filter(
                customer__shopify_customer_id__in=seeded_ids,
                dedupe_key__in=["signup", "newsletter"],
            ).count()
            == 0
        )
