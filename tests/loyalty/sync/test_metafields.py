"""Shopify customer metafields and the shop's programme metafield, written by the sync jobs with
Shopify stood in at the HTTP edge (respx → standins.shopify_admin, which judges every document
and its variables by Shopify's schema and keeps what was written): exact `metafieldsSet` shapes,
≤ 25 per call, customers of a shop batched, the latest state once per customer, throttling,
userErrors, an expired token refreshed once, an uninstalled shop left alone."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import respx

from loyalty.jobs import JobName
from loyalty.models import Customer, OutboxIntent, Shop
from loyalty.referrals.codes import code_for
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from loyalty.sync.metafields import MAX_PER_CALL
from standins.shopify_admin import ShopifyAdmin
from tests.factories import create_customer, create_rule, create_tier
from tests.loyalty.partners.fakes import FakeClock
from tests.loyalty.sync.harness import (
    award,
    award_many,
    connected_shop,
    graphql_url,
    pending,
    run_job,
    token_url,
)


def sent(route: respx.Route) -> list[dict[str, Any]]:
    """The JSON bodies the route received, in order."""
    return [json.loads(call.request.content) for call in route.calls]


def by_owner(calls: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """ownerId → {key: value} over every metafieldsSet input sent."""
    owners: dict[str, dict[str, str]] = {}
    for call in calls:
        for field in call["variables"]["metafields"]:
            owners.setdefault(field["ownerId"], {})[field["key"]] = field["value"]
    return owners


def gid(customer: Customer) -> str:
    return f"gid://shopify/Customer/{customer.shopify_customer_id}"


class TestCustomerMetafields:
    async def test_customers_of_a_shop_are_batched_within_25_per_call(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        """Seven customers: three calls, each ≤ 25 metafields, every input in Shopify's shape,
        and what Shopify keeps is each customer's state."""
        shop = await connected_shop(settings)
        rule = await create_rule(shop, points=40)
        customers = [await create_customer(shop) for _ in range(7)]
        for customer in customers:
            await award(shop, rule, customer)

        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(
                graphql_url(shop), headers={"X-Shopify-Access-Token": "shpat_current"}
            ).mock(side_effect=shopify)
            done = await run_job(JobName.SYNC_SHOPIFY_METAFIELDS, deps, shop)

        assert done == 7 and route.call_count == 3
        assert shopify.rejected == []
        calls = sent(route)
        for call in calls:
            assert "metafieldsSet(metafields: $metafields)" in call["query"]
            assert len(call["variables"]["metafields"]) <= MAX_PER_CALL
            for field in call["variables"]["metafields"]:
                assert set(field) == {"ownerId", "namespace", "key", "type", "value"}
                assert field["namespace"] == "$app"
                assert isinstance(field["value"], str)
            # No tier and no expiry yet: those two are deleted, never set empty.
            assert {d["key"] for d in call["variables"]["deletions"]} == {
                "vip_tier",
                "points_expiry_date",
            }
        owners = by_owner(calls)
        assert set(owners) == {gid(c) for c in customers}
        first = owners[gid(customers[0])]
        code = await code_for(shop_id=shop.id, customer_id=customers[0].id)
        assert first == {
            "points": "40",
            "pending_points": "0",
            "lifetime_points": "40",
            "status": first["status"],
            "points_expiring": "0",
            "referral": json.dumps(
                {"code": code, "url": f"https://{shop.domain}/apps/loyalty/r/{code}"},
                separators=(",", ":"),
            ),
        }
        for customer in customers:
            assert shopify.metafield(gid(customer), "points") == "40"
            assert shopify.metafield(gid(customer), "vip_tier") is None
        assert await pending(JobName.SYNC_SHOPIFY_METAFIELDS, shop) == []

    async def test_many_changes_to_one_customer_are_one_write_of_the_latest_state(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        """Ten awards, one metafieldsSet: the balance after all ten, with the tier they reached."""
        shop = await connected_shop(settings)
        await create_tier(shop, name="Gold", points_required=50, points_multiplier=Decimal("1"))
        customer = await create_customer(shop)
        await award_many(shop, customer, 10, points=10)

        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(graphql_url(shop)).mock(side_effect=shopify)
            done = await run_job(JobName.SYNC_SHOPIFY_METAFIELDS, deps, shop)

        calls = sent(route)
        assert done == 10 and len(calls) == 1
        [values] = by_owner(calls).values()
        assert values["points"] == "100" and values["lifetime_points"] == "100"
        assert values["vip_tier"] == "Gold"
        types = {f["key"]: f["type"] for f in calls[0]["variables"]["metafields"]}
        assert types["vip_tier"] == "single_line_text_field"
        assert types["points"] == "number_integer"
        assert shopify.metafield(gid(customer), "vip_tier") == "Gold"

    async def test_throttled_waits_what_the_cost_data_says_then_writes(
        self, settings: Settings, deps: JobDeps, clock: FakeClock, shopify: ShopifyAdmin
    ) -> None:
        """HTTP 200 with THROTTLED: wait (requested − available) / restoreRate, then retry."""
        shop = await connected_shop(settings)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop), customer)
        throttled = {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {
                "cost": {
                    "requestedQueryCost": 100,
                    "actualQueryCost": None,
                    "throttleStatus": {
                        "maximumAvailable": 2000.0,
                        "currentlyAvailable": 0,
                        "restoreRate": 100.0,
                    },
                }
            },
        }
        shopify.answer_next(httpx.Response(200, json=throttled))
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(graphql_url(shop)).mock(side_effect=shopify)
            done = await run_job(JobName.SYNC_SHOPIFY_METAFIELDS, deps, shop)

        assert done == 1 and route.call_count == 2
        assert clock.sleeps and 0.9 <= clock.sleeps[0] <= 2.0
        assert shopify.metafield(gid(customer), "points") is not None

    async def test_a_customer_shopify_refuses_is_recorded_and_the_others_written(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        """A userError fails the whole (atomic) call: it is split to find the customer."""
        shop = await connected_shop(settings)
        rule = await create_rule(shop)
        good = await create_customer(shop)
        bad = await create_customer(shop)
        await award(shop, rule, good)
        await award(shop, rule, bad)
        shopify.gone.add(gid(bad))  # deleted in Shopify: "Owner does not exist."

        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(graphql_url(shop)).mock(side_effect=shopify)
            await run_job(JobName.SYNC_SHOPIFY_METAFIELDS, deps, shop)

        assert route.call_count == 3  # both together, then one at a time
        assert await pending(JobName.SYNC_SHOPIFY_METAFIELDS, shop) == []
        given_up = await OutboxIntent.get(customer_id=bad.id)
        assert given_up.last_error and "Owner does not exist" in given_up.last_error
        assert (await OutboxIntent.get(customer_id=good.id)).last_error is None
        assert shopify.metafield(gid(good), "points") is not None
        assert shopify.metafield(gid(bad), "points") is None

    async def test_an_expired_token_is_refreshed_once_and_the_write_goes_through(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        """401 from Shopify: refresh the offline token once, retry with the new one."""
        shop = await connected_shop(settings)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop), customer)
        refreshed = {
            "access_token": "shpat_fresh",
            "scope": "read_customers,write_customers",
            "expires_in": 3600,
            "refresh_token": "shprt_fresh",
            "refresh_token_expires_in": 7_776_000,
        }
        with respx.mock(assert_all_called=True) as mock:
            stale = mock.post(
                graphql_url(shop), headers={"X-Shopify-Access-Token": "shpat_current"}
            ).mock(return_value=httpx.Response(401, json={"errors": "Invalid API key"}))
            fresh = mock.post(
                graphql_url(shop), headers={"X-Shopify-Access-Token": "shpat_fresh"}
            ).mock(side_effect=shopify)
            refresh = mock.post(token_url(shop), json__grant_type="refresh_token").mock(
                return_value=httpx.Response(200, json=refreshed)
            )
            done = await run_job(JobName.SYNC_SHOPIFY_METAFIELDS, deps, shop)

        assert done == 1
        assert (stale.call_count, refresh.call_count, fresh.call_count) == (1, 1, 1)
        assert shopify.metafield(gid(customer), "points") is not None

    async def test_shopify_down_holds_the_work_for_a_retry(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        shop = await connected_shop(settings)
        await award(shop, await create_rule(shop), await create_customer(shop))
        with respx.mock(assert_all_called=True) as mock:
            mock.post(graphql_url(shop)).mock(return_value=httpx.Response(503))
            done = await run_job(JobName.SYNC_SHOPIFY_METAFIELDS, deps, shop)

        assert done == 0
        [held] = await pending(JobName.SYNC_SHOPIFY_METAFIELDS, shop)
        assert held.claimed_until is not None and held.last_error

    async def test_an_uninstalled_shop_is_not_called(
        self, settings: Settings, deps: JobDeps, shopify: ShopifyAdmin
    ) -> None:
        """Its intents complete as no-ops: nothing is left for the sweep to re-queue forever."""
        shop = await connected_shop(settings)
        await award(shop, await create_rule(shop), await create_customer(shop))
        await Shop.filter(id=shop.id).update(uninstalled_at=shop.installed_at)
        with respx.mock(assert_all_called=False) as mock:
            route = mock.post(graphql_url(shop)).mock(side_effect=shopify)
            await run_job(JobName.SYNC_SHOPIFY_METAFIELDS, deps, shop)
        assert route.call_count == 0
        assert await pending(JobName.SYNC_SHOPIFY_METAFIELDS, shop) == []


class TestProgrammeMetafield:
    async def test_rule_edits_rewrite_the_shop_metafield_once(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Several edits queued together: one write of the whole programme as json, on the shop
        whose id Shopify reports."""
        from loyalty.earning.rules import RuleChanges, update_rule

        shop = await connected_shop(settings)
        rule = await create_rule(shop, name="Follow us", points=25)
        await create_tier(shop, name="Gold", points_required=500)
        await update_rule(shop=shop, rule_id=rule.public_id, changes=RuleChanges(points=30))
        await update_rule(shop=shop, rule_id=rule.public_id, changes=RuleChanges(points=35))
        assert len(await pending(JobName.SYNC_SHOP_METAFIELDS, shop)) >= 2
        shopify = ShopifyAdmin(shop_id=9)

        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(graphql_url(shop)).mock(side_effect=shopify)
            await run_job(JobName.SYNC_SHOP_METAFIELDS, deps, shop)

        assert [c.operation for c in shopify.calls] == ["LoyaltyShopId", "LoyaltyShopMetafieldSet"]
        writes = [c for c in sent(route) if "metafieldsSet" in c["query"]]
        assert len(writes) == 1
        [field] = writes[0]["variables"]["metafields"]
        assert (field["ownerId"], field["namespace"], field["key"], field["type"]) == (
            "gid://shopify/Shop/9",
            "$app",
            "programme",
            "json",
        )
        document = json.loads(shopify.metafield("gid://shopify/Shop/9", "programme") or "")
        [way] = document["points_program"]["ways_to_earn"]
        assert (way["name"], way["points"]) == ("Follow us", 35)
        assert [t["name"] for t in document["vip_program"]["tiers"]] == ["Gold"]
        assert document["referral_program"] == {
            "enabled": False,
            "friend_reward": None,
            "advocate_points": 0,
            "advocate_reward": None,
        }
        assert (await Shop.get(id=shop.id)).shopify_shop_id == 9
        assert await pending(JobName.SYNC_SHOP_METAFIELDS, shop) == []
        assert await Customer.all().count() == 0  # the shop document carries no customer data

    async def test_tier_and_settings_edits_each_owe_a_rewrite(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Creating, renaming and deleting a tier, and changing the programme settings, each
        write a shop intent in the edit's transaction; one run writes the latest document."""
        from loyalty.shops import programme
        from loyalty.tiers import configuration as tiers

        shop = await connected_shop(settings, shopify_shop_id=9)
        created = await tiers.create_tier(shop=shop, name="Silver", points_required=200)
        assert created.tier is not None
        await tiers.update_tier(
            shop=shop, tier_id=created.tier.public_id, changes={"name": "Platinum"}
        )
        await programme.update_programme(shop=shop, changes={"points_expiry_days": 365})
        assert len(await pending(JobName.SYNC_SHOP_METAFIELDS, shop)) == 3
        shopify = ShopifyAdmin(shop_id=9)

        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(graphql_url(shop)).mock(side_effect=shopify)
            await run_job(JobName.SYNC_SHOP_METAFIELDS, deps, shop)

        assert route.call_count == 1  # the shop's id was known: no need to ask
        document = json.loads(shopify.metafield("gid://shopify/Shop/9", "programme") or "")
        assert [t["name"] for t in document["vip_program"]["tiers"]] == ["Platinum"]
        assert document["points_program"]["points_expiry_days"] == 365

        await tiers.delete_tier(shop=shop, tier_id=created.tier.public_id)
        assert len(await pending(JobName.SYNC_SHOP_METAFIELDS, shop)) == 1
