"""`/app/api`: the embedded admin's configuration API, authenticated with App Bridge ID tokens.

Every test here runs on SQLite and on PostgreSQL (through the `client` fixture).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from loyalty.customers import directory
from loyalty.jobs import JobName
from loyalty.models import (
    Activity,
    ActorType,
    ApiKey,
    Customer,
    EarningHistoryEntry,
    EarningRule,
    OutboxIntent,
    RuleCategory,
    Shop,
    VipTier,
)
from loyalty.settings import Settings
from loyalty.tiers.placement import placement_pending
from tests.factories import create_customer, create_rule, create_tier
from tests.tokens import bearer, id_token
from tests.web.admin_client import RETRY_HEADER, Admin
from web.app import create_app
from web.state import Services

# The test app's client secret ("test-client-secret") is shorter than PyJWT's recommended 32
# bytes; real Shopify client secrets are not. The warning is about the fixture, not the code.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@dataclass
class Notified:
    calls: list[tuple[int, list[str]]] = field(default_factory=list)

    @property
    def jobs(self) -> set[str]:
        return {job for _, jobs in self.calls for job in jobs}


@pytest.fixture
def notified(services: Services, monkeypatch: pytest.MonkeyPatch) -> Notified:
    """Records what handlers hand to the dispatcher (which still runs as usual)."""
    record = Notified()
    original = services.dispatcher.notify

    def notify(shop_id: int, jobs: list[str]) -> None:
        record.calls.append((shop_id, list(jobs)))
        original(shop_id, jobs)

    monkeypatch.setattr(services.dispatcher, "notify", notify)
    return record


async def placed(shop: Shop) -> None:
    """Wait for the tier placement job the dispatcher runs after a tier edit."""
    for _ in range(200):
        if not await placement_pending(shop_id=shop.id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the tier placement job did not finish")


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["status"] == str(response.status_code)
    return error  # type: ignore[no-any-return]


async def counts() -> dict[str, int]:
    """Row counts of everything the admin API writes: proves a refused request wrote nothing."""
    return {
        "shops": await Shop.all().count(),
        "rules": await EarningRule.all().count(),
        "tiers": await VipTier.all().count(),
        "keys": await ApiKey.all().count(),
        "activities": await Activity.all().count(),
        "intents": await OutboxIntent.all().count(),
    }


async def award_entry(customer: Customer, rule: EarningRule) -> EarningHistoryEntry:
    return await EarningHistoryEntry.create(
        public_id=f"cer_{customer.id}_{rule.id}",
        shop_id=customer.shop_id,
        customer=customer,
        rule=rule,
        action=rule.action,
        base_points=rule.points,
        points_multiplier=Decimal("1.00"),
        points=rule.points,
        status="approved",
        dedupe_key=f"rule:{rule.id}",
    )


# ---------------------------------------------------------------------------------------------


class TestAuthentication:
    async def test_missing_token_is_401(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """Without an Authorization header nothing is served."""
        response = await client.get("/app/api/settings")
        assert response.status_code == 401
        assert error_of(response)["code"] == "missing_id_token"

    async def test_token_in_the_query_string_is_not_accepted(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """`?id_token=` is for document loads; the API takes Bearer tokens only."""
        response = await client.get(f"/app/api/settings?id_token={id_token()}")
        assert response.status_code == 401
        assert error_of(response)["code"] == "missing_id_token"

    async def test_forged_token_is_401_with_the_retry_header(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """A token signed with another secret is refused, and App Bridge is told to retry."""
        response = await client.get(
            "/app/api/settings", headers=bearer(secret="not-the-client-secret")
        )
        assert response.status_code == 401
        assert response.headers[RETRY_HEADER] == "1"
        assert error_of(response)["code"] == "invalid_id_token"

    async def test_expired_token_is_401(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """A token past its expiry (beyond the 10 s leeway) is refused."""
        response = await client.get(
            "/app/api/settings", headers=bearer(issued_at=time.time() - 120, lifetime=60)
        )
        assert response.status_code == 401
        assert response.headers[RETRY_HEADER] == "1"
        assert error_of(response)["code"] == "expired_id_token"

    async def test_wrong_audience_is_401(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """A token issued for another app is refused, even when correctly signed."""
        response = await client.get("/app/api/settings", headers=bearer(aud="another-app"))
        assert response.status_code == 401
        assert error_of(response)["code"] == "invalid_aud"

    async def test_non_bearer_scheme_is_401(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """`Authorization: Basic …` is not an ID token."""
        response = await client.get(
            "/app/api/settings", headers={"Authorization": f"Basic {id_token()}"}
        )
        assert response.status_code == 401
        assert error_of(response)["code"] == "invalid_id_token"

    async def test_destination_that_is_not_a_shop_is_401(
        self, client: httpx.AsyncClient, db: str
    ) -> None:
        """A signed token whose `dest` is not a myshopify.com shop creates nothing."""
        before = await counts()
        token = id_token(dest="https://shop.example/../x")
        response = await client.get(
            "/app/api/settings", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
        assert error_of(response)["code"] == "invalid_shop"
        assert await counts() == before

    async def test_auth_runs_before_the_body_is_read(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """A bad token wins over a bad body: the body is never parsed for an unknown caller."""
        response = await client.post(
            "/app/api/earning-rules",
            content=b"{not json",
            headers={"Authorization": "Bearer nope", "Content-Type": "application/json"},
        )
        assert response.status_code == 401

    async def test_unknown_paths_need_a_token_too(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Without a token even a 404 is not revealed."""
        response = await client.get("/app/api/nothing-here")
        assert response.status_code == 401

    async def test_first_request_creates_the_shop(self, client: httpx.AsyncClient, db: str) -> None:
        """A shop seen for the first time is created, installed now, with default settings."""
        response = await Admin(client, "brand-new").get("/settings")
        assert response.status_code == 200
        created = await Shop.get(domain="brand-new.myshopify.com")
        assert created.installed_at is not None
        assert response.json()["data"]["id"] == "brand-new.myshopify.com"

    async def test_not_configured_is_503(self, settings: Settings) -> None:
        """Without SHOPIFY_API_KEY/SECRET the admin API says so instead of failing."""
        unconfigured = settings.with_overrides(shopify_api_key="", shopify_api_secret="")
        app = create_app(unconfigured, manage_db=False, job_defer=0)
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
                response = await client.get("/app/api/settings", headers=bearer())
        assert response.status_code == 503
        assert error_of(response)["code"] == "shopify_not_configured"


class TestShopScoping:
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("PATCH", "/earning-rules/{rule}", {"points": 5}),
            ("POST", "/earning-rules/{rule}/activate", None),
            ("POST", "/earning-rules/{rule}/deactivate", None),
            ("PATCH", "/vip-tiers/{tier}", {"name": "Mine"}),
            ("DELETE", "/vip-tiers/{tier}", None),
            ("GET", "/customers/{customer}", None),
            ("POST", "/customers/{customer}/exclude", None),
            ("POST", "/customers/{customer}/include", None),
            ("POST", "/api-keys/{key}/revoke", None),
        ],
    )
    async def test_another_shops_ids_answer_404(
        self, admin: Admin, other_shop: Shop, method: str, path: str, body: Any
    ) -> None:
        """Every resource of another shop is invisible: 404, and nothing changes."""
        theirs = {
            "rule": (await create_rule(other_shop)).public_id,
            "tier": (await create_tier(other_shop)).public_id,
            "customer": (await create_customer(other_shop)).shopify_customer_id,
            "key": (
                await ApiKey.create(
                    public_id="key_other", shop=other_shop, prefix="lk_x", key_hash="h" * 64
                )
            ).public_id,
        }
        before = await counts()
        response = await admin.request(method, path.format(**theirs), body)
        assert response.status_code == 404, response.text
        assert await counts() == before

    async def test_lists_show_only_the_shops_own_records(
        self, admin: Admin, shop: Shop, other_shop: Shop
    ) -> None:
        """Another shop's rules, tiers, customers and keys never appear in lists."""
        await create_rule(other_shop)
        await create_tier(other_shop)
        await create_customer(other_shop)
        await ApiKey.create(public_id="key_o", shop=other_shop, prefix="lk_x", key_hash="h" * 64)
        for path in ("/earning-rules", "/vip-tiers", "/customers", "/api-keys"):
            response = await admin.get(path)
            assert response.status_code == 200
            assert response.json()["data"] == [], path


class TestEarningRules:
    async def test_create_answers_201_with_the_rule(self, admin: Admin, shop: Shop) -> None:
        """A new rule gets a `rule_…` id, the fields sent and the defaults for the rest."""
        response = await admin.post(
            "/earning-rules",
            {
                "name": "Follow us on Instagram",
                "action": "follow_on_instagram",
                "category": "social",
                "points": 25,
                "call_to_action_url": "https://instagram.com/demo",
                "unknown": "ignored",
            },
        )
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["type"] == "earning_rule" and data["id"].startswith("rule_")
        attributes = data["attributes"]
        assert attributes["points"] == 25
        assert attributes["is_active"] is True
        assert attributes["approval_time_days"] == 0
        assert attributes["category_locked"] is False
        assert attributes["created_at"].endswith("Z")
        rule = await EarningRule.get(public_id=data["id"])
        assert rule.shop_id == shop.id and rule.call_to_action_url == "https://instagram.com/demo"

    @pytest.mark.parametrize(
        ("change", "pointer"),
        [
            ({"name": ""}, "/name"),
            ({"name": None}, "/name"),
            ({"action": "Follow Us"}, "/action"),
            ({"action": "a" * 65}, "/action"),
            ({"category": "shopping"}, "/category"),
            ({"points": 0}, "/points"),
            ({"points": 1_000_001}, "/points"),
            ({"points": "25"}, "/points"),
            ({"points": 2.5}, "/points"),
            ({"approval_time_days": -1}, "/approval_time_days"),
            ({"approval_time_days": 366}, "/approval_time_days"),
            ({"call_to_action_url": "javascript:alert(1)"}, "/call_to_action_url"),
            ({"call_to_action_url": "instagram.com"}, "/call_to_action_url"),
            ({"is_active": "yes"}, "/is_active"),
        ],
    )
    async def test_invalid_fields_are_422_and_write_nothing(
        self, admin: Admin, change: dict[str, Any], pointer: str
    ) -> None:
        """Each invalid field answers 422 pointing at it, and no rule is created."""
        body = {"name": "Follow", "action": "follow", "category": "social", "points": 10}
        body.update(change)
        before = await counts()
        response = await admin.post("/earning-rules", body)
        assert response.status_code == 422, response.text
        assert error_of(response)["source"] == {"pointer": pointer}
        assert await counts() == before

    async def test_missing_required_field_is_422(self, admin: Admin) -> None:
        """A create without `points` names the missing field."""
        response = await admin.post(
            "/earning-rules", {"name": "Follow", "action": "follow", "category": "social"}
        )
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "missing_field" and error["source"] == {"pointer": "/points"}

    async def test_list_filters_by_category(self, admin: Admin, shop: Shop) -> None:
        """`filter[category]` narrows the list; an unknown category is a 400."""
        social = await create_rule(shop, category=RuleCategory.SOCIAL)
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order")
        everything = await admin.get("/earning-rules")
        assert len(everything.json()["data"]) == 2
        filtered = await admin.get("/earning-rules?filter[category]=social")
        assert [r["id"] for r in filtered.json()["data"]] == [social.public_id]
        bad = await admin.get("/earning-rules?filter[category]=shopping")
        assert bad.status_code == 400
        assert error_of(bad)["code"] == "invalid_parameter"

    async def test_patch_changes_only_the_fields_sent(self, admin: Admin, shop: Shop) -> None:
        """A partial update leaves every other field as it was; null clears the URL."""
        rule = await create_rule(shop, call_to_action_url="https://x.test", description="keep")
        response = await admin.patch(
            f"/earning-rules/{rule.public_id}", {"points": 40, "call_to_action_url": None}
        )
        assert response.status_code == 200, response.text
        await rule.refresh_from_db()
        assert rule.points == 40
        assert rule.call_to_action_url is None
        assert rule.description == "keep"
        assert rule.name == "Follow us on Instagram"

    async def test_patch_invalid_field_is_422_and_changes_nothing(
        self, admin: Admin, shop: Shop
    ) -> None:
        """One bad field rejects the whole update."""
        rule = await create_rule(shop, points=100)
        response = await admin.patch(
            f"/earning-rules/{rule.public_id}", {"name": "New name", "points": -5}
        )
        assert response.status_code == 422
        assert error_of(response)["source"] == {"pointer": "/points"}
        await rule.refresh_from_db()
        assert (rule.name, rule.points) == ("Follow us on Instagram", 100)

    async def test_category_is_locked_once_awarded(self, admin: Admin, shop: Shop) -> None:
        """A rule with awards cannot change category: 422 category_locked, nothing changes."""
        rule = await create_rule(shop)
        await award_entry(await create_customer(shop), rule)
        response = await admin.patch(
            f"/earning-rules/{rule.public_id}", {"category": "engagement", "points": 5}
        )
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "category_locked"
        assert error["source"] == {"pointer": "/category"}
        await rule.refresh_from_db()
        assert (rule.category, rule.points) == (RuleCategory.SOCIAL, 100)

    async def test_awarded_rule_keeps_other_fields_editable(self, admin: Admin, shop: Shop) -> None:
        """Re-sending the same category and changing anything else is fine after awards."""
        rule = await create_rule(shop)
        await award_entry(await create_customer(shop), rule)
        response = await admin.patch(
            f"/earning-rules/{rule.public_id}", {"category": "social", "points": 50}
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["attributes"]["category_locked"] is True
        assert response.json()["data"]["attributes"]["points"] == 50

    async def test_unawarded_rule_can_change_category(self, admin: Admin, shop: Shop) -> None:
        """Before any award the category is free to change."""
        rule = await create_rule(shop)
        response = await admin.patch(f"/earning-rules/{rule.public_id}", {"category": "engagement"})
        assert response.status_code == 200
        assert response.json()["data"]["attributes"]["category"] == "engagement"

    async def test_activate_and_deactivate_are_idempotent(self, admin: Admin, shop: Shop) -> None:
        """Each answers 200 with the rule in the requested state, however often it is sent."""
        rule = await create_rule(shop)
        for _ in range(2):
            response = await admin.post(f"/earning-rules/{rule.public_id}/deactivate")
            assert response.status_code == 200
            assert response.json()["data"]["attributes"]["is_active"] is False
        for _ in range(2):
            response = await admin.post(f"/earning-rules/{rule.public_id}/activate")
            assert response.json()["data"]["attributes"]["is_active"] is True
        await rule.refresh_from_db()
        assert rule.is_active is True

    async def test_unknown_rule_is_404(self, admin: Admin) -> None:
        """An id that names no rule answers 404 earning_rule_not_found."""
        response = await admin.post("/earning-rules/rule_nope/activate")
        assert response.status_code == 404
        assert error_of(response)["code"] == "earning_rule_not_found"


class TestVipTiers:
    async def test_list_is_ordered_by_threshold(self, admin: Admin, shop: Shop) -> None:
        """Tiers come lowest threshold first, with exact decimal multipliers."""
        await create_tier(
            shop, name="Gold", points_required=1000, points_multiplier=Decimal("2.00")
        )
        await create_tier(shop, name="Bronze", points_required=0, points_multiplier=Decimal("1.00"))
        response = await admin.get("/vip-tiers")
        data = response.json()["data"]
        assert [t["attributes"]["name"] for t in data] == ["Bronze", "Gold"]
        assert data[1]["attributes"]["points_multiplier"] == "2.00"

    @pytest.mark.parametrize(
        ("sent", "stored"),
        [
            (1.5, Decimal("1.50")),
            ("2.25", Decimal("2.25")),
            (3, Decimal("3.00")),
            (1.1, Decimal("1.10")),
        ],
    )
    async def test_multiplier_accepts_numbers_and_strings(
        self, admin: Admin, shop: Shop, sent: Any, stored: Decimal
    ) -> None:
        """JSON numbers and decimal strings are both stored as exact two-place decimals."""
        response = await admin.post(
            "/vip-tiers", {"name": "Gold", "points_required": 500, "points_multiplier": sent}
        )
        assert response.status_code == 201, response.text
        assert response.json()["data"]["attributes"]["points_multiplier"] == str(stored)
        tier = await VipTier.get(public_id=response.json()["data"]["id"])
        assert tier.points_multiplier == stored

    @pytest.mark.parametrize(
        ("change", "pointer"),
        [
            ({"name": ""}, "/name"),
            ({"name": "x" * 101}, "/name"),
            ({"points_required": -1}, "/points_required"),
            ({"points_required": "100"}, "/points_required"),
            ({"points_multiplier": 0.99}, "/points_multiplier"),
            ({"points_multiplier": "10.01"}, "/points_multiplier"),
            ({"points_multiplier": "1.255"}, "/points_multiplier"),
            ({"points_multiplier": "lots"}, "/points_multiplier"),
            ({"points_multiplier": True}, "/points_multiplier"),
            ({"badge_color": "red"}, "/badge_color"),
            ({"badge_color": "#12345"}, "/badge_color"),
        ],
    )
    async def test_invalid_fields_are_422_and_write_nothing(
        self, admin: Admin, change: dict[str, Any], pointer: str
    ) -> None:
        """Each invalid field answers 422 pointing at it, and no tier is created."""
        body = {"name": "Gold", "points_required": 100, "points_multiplier": "1.50"}
        body.update(change)
        before = await counts()
        response = await admin.post("/vip-tiers", body)
        assert response.status_code == 422, response.text
        assert error_of(response)["source"] == {"pointer": pointer}
        assert await counts() == before

    async def test_duplicate_threshold_is_422(self, admin: Admin, shop: Shop) -> None:
        """Two tiers of a shop cannot start at the same points, on create or on update."""
        await create_tier(shop, points_required=500)
        other = await create_tier(shop, points_required=900)
        before = await counts()
        created = await admin.post("/vip-tiers", {"name": "Twin", "points_required": 500})
        assert created.status_code == 422
        assert error_of(created)["code"] == "duplicate_threshold"
        assert error_of(created)["source"] == {"pointer": "/points_required"}
        moved = await admin.patch(f"/vip-tiers/{other.public_id}", {"points_required": 500})
        assert moved.status_code == 422
        assert error_of(moved)["code"] == "duplicate_threshold"
        assert await counts() == before

    async def test_create_moves_qualifying_customers_and_owes_syncs(
        self, admin: Admin, shop: Shop, notified: Notified
    ) -> None:
        """A new tier answers at once and queues the re-placement (dispatched after commit);
        the job takes in every customer whose lifetime points reach it, with an activity row
        (actor: the staff user) and sync intents for each."""
        rich = await create_customer(shop, lifetime_points=1500)
        richer = await create_customer(shop, lifetime_points=5000)
        poor = await create_customer(shop, lifetime_points=10)
        response = await admin.post("/vip-tiers", {"name": "Gold", "points_required": 1000})
        assert response.status_code == 201
        assert response.json()["meta"] == {"placing_customers": True}
        assert notified.jobs == {JobName.PLACE_VIP_TIERS}
        await placed(shop)  # the dispatcher runs the job in the background
        assert (await admin.get("/vip-tiers")).json()["meta"] == {"placing_customers": False}
        gold = await VipTier.get(public_id=response.json()["data"]["id"])
        for customer, tier_id in ((rich, gold.id), (richer, gold.id), (poor, None)):
            await customer.refresh_from_db()
            assert customer.vip_tier_id == tier_id
        activities = await Activity.filter(kind="vip_tier_changed").order_by("customer_id")
        assert [a.customer_id for a in activities] == [rich.id, richer.id]
        assert all(a.actor_type == ActorType.STAFF and a.actor_id == "42" for a in activities)
        assert activities[0].data["to_tier"] == "Gold"
        assert activities[0].data["from_tier_id"] is None
        intents = await OutboxIntent.filter(job=JobName.SYNC_SHOPIFY_METAFIELDS)
        assert sorted(i.customer_id for i in intents) == sorted([rich.id, richer.id])
        assert notified.calls and notified.calls[0][0] == shop.id

    async def test_raising_a_threshold_moves_customers_down(self, admin: Admin, shop: Shop) -> None:
        """Customers below a raised threshold drop to the tier their points still reach."""
        bronze = await create_tier(shop, name="Bronze", points_required=0)
        gold = await create_tier(shop, name="Gold", points_required=1000)
        customer = await create_customer(shop, lifetime_points=1200, vip_tier=gold)
        response = await admin.patch(f"/vip-tiers/{gold.public_id}", {"points_required": 2000})
        assert response.status_code == 200
        assert response.json()["meta"] == {"placing_customers": True}
        await placed(shop)
        await customer.refresh_from_db()
        assert customer.vip_tier_id == bronze.id
        activity = await Activity.get(customer_id=customer.id)
        assert (activity.data["from_tier"], activity.data["to_tier"]) == ("Gold", "Bronze")

    async def test_delete_moves_members_to_the_next_tier_down(
        self, admin: Admin, shop: Shop, notified: Notified
    ) -> None:
        """Deleting a tier answers 204 and re-assigns its members, logging where they came from."""
        bronze = await create_tier(shop, name="Bronze", points_required=0)
        gold = await create_tier(shop, name="Gold", points_required=1000)
        member = await create_customer(shop, lifetime_points=1500, vip_tier=gold)
        response = await admin.delete(f"/vip-tiers/{gold.public_id}")
        assert response.status_code == 204
        assert response.content == b""
        assert not await VipTier.filter(id=gold.id).exists()
        await member.refresh_from_db()
        assert member.vip_tier_id == bronze.id
        activity = await Activity.get(customer_id=member.id)
        assert activity.data["from_tier"] == "Gold" and activity.data["from_tier_id"] == gold.id
        # No marketing integration is enabled, so the metafields sync is the one job owed.
        assert await OutboxIntent.filter(customer_id=member.id).count() == 1
        assert notified.jobs == {JobName.SYNC_SHOPIFY_METAFIELDS}

    async def test_rename_resyncs_members_without_moving_them(
        self, admin: Admin, shop: Shop, notified: Notified
    ) -> None:
        """A renamed tier keeps its members; their synced profiles are owed the new name."""
        gold = await create_tier(shop, name="Gold", points_required=1000)
        member = await create_customer(shop, lifetime_points=1500, vip_tier=gold)
        response = await admin.patch(f"/vip-tiers/{gold.public_id}", {"name": "Golden"})
        assert response.status_code == 200
        assert response.json()["meta"] == {"placing_customers": False}
        assert await Activity.all().count() == 0
        assert await OutboxIntent.filter(customer_id=member.id).count() == 1
        assert notified.jobs == {JobName.SYNC_SHOPIFY_METAFIELDS}

    async def test_unchanged_patch_writes_nothing(self, admin: Admin, shop: Shop) -> None:
        """Sending a tier's current values back is a no-op."""
        gold = await create_tier(shop, name="Gold", points_required=1000)
        await create_customer(shop, lifetime_points=1500, vip_tier=gold)
        before = await counts()
        response = await admin.patch(
            f"/vip-tiers/{gold.public_id}", {"name": "Gold", "points_required": 1000}
        )
        assert response.status_code == 200
        assert await counts() == before

    async def test_null_for_a_required_field_is_422(self, admin: Admin, shop: Shop) -> None:
        """`null` cannot erase a tier's name."""
        gold = await create_tier(shop)
        response = await admin.patch(f"/vip-tiers/{gold.public_id}", {"name": None})
        assert response.status_code == 422
        assert error_of(response)["source"] == {"pointer": "/name"}


class TestCustomers:
    async def test_list_is_paginated_with_meta(self, admin: Admin, shop: Shop) -> None:
        """`page[number]`/`page[size]` page the list; meta says where the page sits."""
        for _ in range(5):
            await create_customer(shop)
        response = await admin.get("/customers?page[number]=2&page[size]=2")
        body = response.json()
        assert response.status_code == 200
        assert len(body["data"]) == 2
        assert body["meta"] == {
            "total": 5,
            "page": 2,
            "per_page": 2,
            "total_pages": 3,
            "total_is_lower_bound": False,
        }

    async def test_page_size_defaults_to_20_and_is_capped_at_100(
        self, admin: Admin, shop: Shop
    ) -> None:
        """No size means 20; a larger size than 100 is served as 100."""
        assert (await admin.get("/customers")).json()["meta"]["per_page"] == 20
        assert (await admin.get("/customers?page[size]=500")).json()["meta"]["per_page"] == 100

    @pytest.mark.parametrize("query", ["page[number]=0", "page[size]=-1", "page[number]=abc"])
    async def test_bad_page_parameters_are_400(self, admin: Admin, query: str) -> None:
        """Page numbers and sizes are positive integers."""
        response = await admin.get(f"/customers?{query}")
        assert response.status_code == 400
        assert error_of(response)["code"] == "invalid_parameter"

    @pytest.mark.parametrize(
        ("search", "expected"),
        [
            ("ANN@EXAMPLE", ["ann"]),
            ("smith", ["bob"]),
            ("bOb", ["bob"]),
            ("6789012399", ["carol"]),
            ("67890", []),  # ids match exactly, not as a substring
            ("%", []),  # LIKE wildcards are literal
        ],
    )
    async def test_search_matches_email_names_or_exact_id(
        self, admin: Admin, shop: Shop, search: str, expected: list[str]
    ) -> None:
        """Case-insensitive substring on email and names; exact match on the Shopify id."""
        await create_customer(shop, email="ann@example.com", first_name="Ann", last_name="Lee")
        await create_customer(shop, email="b@example.org", first_name="Bob", last_name="Smith")
        await create_customer(
            shop, shopify_customer_id=6789012399, email="c@x.test", first_name="Carol"
        )
        response = await admin.get(f"/customers?search={search.replace('%', '%25')}")
        names = [c["attributes"]["first_name"].lower() for c in response.json()["data"]]
        assert names == expected

    async def test_a_broad_search_says_its_total_is_a_lower_bound(
        self, admin: Admin, shop: Shop, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Matches are counted up to SEARCH_COUNT_LIMIT (or the page's end); beyond it
        `meta.total_is_lower_bound` is true."""
        monkeypatch.setattr(directory, "SEARCH_COUNT_LIMIT", 3)
        for n in range(5):
            await create_customer(shop, email=f"many{n}@example.com")
        meta = (await admin.get("/customers?search=many&page[size]=2")).json()["meta"]
        assert (meta["total"], meta["total_is_lower_bound"]) == (3, True)
        meta = (await admin.get("/customers?search=many&page[size]=5")).json()["meta"]
        assert (meta["total"], meta["total_is_lower_bound"]) == (5, False)
        meta = (await admin.get("/customers")).json()["meta"]
        assert (meta["total"], meta["total_is_lower_bound"]) == (5, False)

    async def test_detail_has_balances_tier_history_and_activity(
        self, admin: Admin, shop: Shop
    ) -> None:
        """One customer, by Shopify id, with tier, latest earning history and activity."""
        gold = await create_tier(shop, name="Gold", points_required=100)
        customer = await create_customer(
            shop, points_balance=150, lifetime_points=150, vip_tier=gold
        )
        rule = await create_rule(shop)
        await award_entry(customer, rule)
        await Activity.create(
            shop=shop, customer=customer, kind="points_awarded", actor_type=ActorType.SYSTEM
        )
        response = await admin.get(f"/customers/{customer.shopify_customer_id}")
        assert response.status_code == 200
        data = response.json()["data"]
        assert data["id"] == str(customer.shopify_customer_id)
        attributes = data["attributes"]
        assert attributes["points_balance"] == 150
        assert attributes["vip_tier"]["id"] == gold.public_id
        assert attributes["earning_history"][0]["earning_rule_id"] == rule.public_id
        assert attributes["activity"][0]["kind"] == "points_awarded"

    @pytest.mark.parametrize("customer_id", ["999", "abc", "99999999999999999999"])
    async def test_unknown_customer_is_404(self, admin: Admin, customer_id: str) -> None:
        """Unknown, non-numeric or out-of-range ids answer 404 customer_not_found."""
        response = await admin.get(f"/customers/{customer_id}")
        assert response.status_code == 404
        assert error_of(response)["code"] == "customer_not_found"


class TestExclusion:
    async def test_exclude_logs_syncs_and_dispatches(
        self, admin: Admin, shop: Shop, notified: Notified
    ) -> None:
        """Excluding flips the flag, writes a staff activity row and sync intents together."""
        customer = await create_customer(shop)
        response = await admin.post(f"/customers/{customer.shopify_customer_id}/exclude")
        assert response.status_code == 200
        assert response.json()["data"]["attributes"]["loyalty_status"] == "excluded"
        assert response.json()["meta"] == {"changed": True}
        await customer.refresh_from_db()
        assert (customer.is_excluded, customer.excluded_by) == (True, "staff")
        activity = await Activity.get(customer_id=customer.id)
        assert (activity.kind, activity.actor_type, activity.actor_id) == (
            "customer_excluded",
            ActorType.STAFF,
            "42",
        )
        assert await OutboxIntent.filter(customer_id=customer.id).count() == 1
        assert notified.calls == [(shop.id, [str(JobName.SYNC_SHOPIFY_METAFIELDS)])]

    async def test_exclude_and_include_are_idempotent(
        self, admin: Admin, shop: Shop, notified: Notified
    ) -> None:
        """Repeating a request changes nothing more and logs nothing more."""
        customer = await create_customer(shop)
        path = f"/customers/{customer.shopify_customer_id}"
        await admin.post(f"{path}/exclude")
        again = await admin.post(f"{path}/exclude")
        assert again.status_code == 200 and again.json()["meta"] == {"changed": False}
        assert await Activity.filter(customer_id=customer.id).count() == 1
        await admin.post(f"{path}/include")
        await admin.post(f"{path}/include")
        kinds = (
            await Activity.filter(customer_id=customer.id)
            .order_by("id")
            .values_list("kind", flat=True)
        )
        assert kinds == ["customer_excluded", "customer_included"]
        assert await OutboxIntent.filter(customer_id=customer.id).count() == 2
        assert len(notified.calls) == 2

    async def test_excluded_customer_cannot_be_awarded(
        self, admin: Admin, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Once excluded in the admin, the public award API answers 403."""
        customer = await create_customer(shop)
        rule = await create_rule(shop)
        created = await admin.post("/api-keys", {"name": "integration"})
        key = created.json()["data"]["attributes"]["key"]
        await admin.post(f"/customers/{customer.shopify_customer_id}/exclude")
        response = await client.post(
            f"/api/v1/earning-rules/{rule.public_id}/award",
            json={"customer_identifier": str(customer.shopify_customer_id)},
            headers={"Authorization": key},
        )
        assert response.status_code == 403


class TestApiKeys:
    async def test_secret_is_shown_once_and_never_listed(self, admin: Admin, shop: Shop) -> None:
        """201 carries the key; the list shows name, prefix and scope but no secret or hash."""
        created = await admin.post("/api-keys", {"name": "Zapier", "scope": "read_only"})
        assert created.status_code == 201
        attributes = created.json()["data"]["attributes"]
        secret = attributes["key"]
        assert secret.startswith("lk_") and attributes["prefix"] == secret[:10]
        assert attributes["scope"] == "read_only"
        listed = await admin.get("/api-keys")
        assert listed.status_code == 200
        [key] = listed.json()["data"]
        assert key["id"] == created.json()["data"]["id"]
        assert set(key["attributes"]) == {
            "name",
            "prefix",
            "scope",
            "created_at",
            "last_used_at",
            "revoked_at",
        }
        stored = await ApiKey.get(public_id=key["id"])
        assert secret not in listed.text and stored.key_hash not in listed.text

    @pytest.mark.parametrize(
        ("body", "pointer"),
        [({}, "/name"), ({"name": "  "}, "/name"), ({"name": "k", "scope": "admin"}, "/scope")],
    )
    async def test_invalid_body_is_422_and_issues_nothing(
        self, admin: Admin, body: dict[str, Any], pointer: str
    ) -> None:
        """A key needs a name and a known scope."""
        response = await admin.post("/api-keys", body)
        assert response.status_code == 422
        assert error_of(response)["source"] == {"pointer": pointer}
        assert await ApiKey.all().count() == 0

    async def test_revoked_key_is_refused_by_the_public_api(
        self, admin: Admin, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Revoking is idempotent, keeps the first time, and the key then gets 401."""
        rule = await create_rule(shop)
        customer = await create_customer(shop)
        created = (await admin.post("/api-keys", {"name": "integration"})).json()["data"]
        secret = created["attributes"]["key"]
        first = await admin.post(f"/api-keys/{created['id']}/revoke")
        assert first.status_code == 200
        revoked_at = first.json()["data"]["attributes"]["revoked_at"]
        assert revoked_at is not None
        second = await admin.post(f"/api-keys/{created['id']}/revoke")
        assert second.json()["data"]["attributes"]["revoked_at"] == revoked_at
        response = await client.post(
            f"/api/v1/earning-rules/{rule.public_id}/award",
            json={"customer_identifier": str(customer.shopify_customer_id)},
            headers={"Authorization": secret},
        )
        assert response.status_code == 401
        assert error_of(response)["code"] == "api_key_revoked"


class TestSettings:
    async def test_get_shows_the_defaults(self, admin: Admin, shop: Shop) -> None:
        """A new shop runs the programme, in UTC, with points that never expire."""
        response = await admin.get("/settings")
        attributes = response.json()["data"]["attributes"]
        assert response.json()["data"]["type"] == "programme_settings"
        assert attributes["programme_enabled"] is True
        assert attributes["points_expiry_days"] is None
        assert attributes["timezone"] == "UTC"
        assert attributes["exclusion_tag"] is None

    async def test_patch_changes_the_fields_sent(self, admin: Admin, shop: Shop) -> None:
        """Each setting changes on its own; a blank tag and a null expiry mean none."""
        response = await admin.patch(
            "/settings",
            {"points_expiry_days": 365, "timezone": "Europe/London", "exclusion_tag": "staff"},
        )
        assert response.status_code == 200, response.text
        await shop.refresh_from_db()
        assert (shop.points_expiry_days, shop.timezone, shop.exclusion_tag) == (
            365,
            "Europe/London",
            "staff",
        )
        response = await admin.patch(
            "/settings",
            {"points_expiry_days": None, "exclusion_tag": " ", "programme_enabled": False},
        )
        assert response.status_code == 200
        await shop.refresh_from_db()
        assert (shop.points_expiry_days, shop.exclusion_tag, shop.programme_enabled) == (
            None,
            None,
            False,
        )
        assert shop.timezone == "Europe/London"

    @pytest.mark.parametrize(
        ("body", "pointer", "code"),
        [
            ({"points_expiry_days": 0}, "/points_expiry_days", "invalid_field"),
            ({"points_expiry_days": 3651}, "/points_expiry_days", "invalid_field"),
            ({"timezone": "Mars/Olympus_Mons"}, "/timezone", "invalid_timezone"),
            ({"timezone": "../../etc/passwd"}, "/timezone", "invalid_timezone"),
            ({"timezone": None}, "/timezone", "invalid_field"),
            ({"programme_enabled": None}, "/programme_enabled", "invalid_field"),
            ({"programme_enabled": "false"}, "/programme_enabled", "invalid_field"),
        ],
    )
    async def test_invalid_settings_are_422_and_change_nothing(
        self, admin: Admin, shop: Shop, body: dict[str, Any], pointer: str, code: str
    ) -> None:
        """Out-of-range expiry, unknown timezone or null for a required setting: 422."""
        response = await admin.patch("/settings", body)
        assert response.status_code == 422, response.text
        error = error_of(response)
        assert (error["code"], error["source"]) == (code, {"pointer": pointer})
        await shop.refresh_from_db()
        assert (shop.points_expiry_days, shop.timezone, shop.programme_enabled) == (
            None,
            "UTC",
            True,
        )
