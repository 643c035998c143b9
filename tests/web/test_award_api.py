"""POST /api/v1/earning-rules/{id}/award, line by line against shared/spec/award-points.txt.

Every test here runs on SQLite and on PostgreSQL (through the `client` fixture).
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from loyalty.clock import parse_db_datetime
from loyalty.jobs import JobName
from loyalty.models import (
    Activity,
    ApiKey,
    Customer,
    EarningHistoryEntry,
    EarningRule,
    Integration,
    OutboxIntent,
    Platform,
    RuleCategory,
    Shop,
)
from loyalty.outbox.queue import InProcessJobQueue
from tests.factories import create_api_key, create_customer, create_rule, create_shop, create_tier
from web.state import Services

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SPEC_ATTRIBUTES = [
    "earning_rule_id",
    "action",
    "points",
    "base_points",
    "points_multiplier",
    "status",
    "points_given_at",
    "points_due_at",
    "points_expiry_at",
    "created_at",
    "updated_at",
]


class World:
    """A shop with a key, an active social rule and a customer: what most tests start from."""

    shop: Shop
    key: str
    rule: EarningRule
    customer: Customer


@pytest.fixture
async def world(db: str) -> World:
    w = World()
    w.shop = await create_shop()
    w.key = (await create_api_key(w.shop)).secret
    w.rule = await create_rule(w.shop, points=100)
    w.customer = await create_customer(
        w.shop, shopify_customer_id=6789012345, email="Ann@Example.com"
    )
    return w


async def award(
    client: httpx.AsyncClient,
    key: str | None,
    rule_id: str,
    body: Any = None,
    *,
    content: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = dict(headers or {})
    if key is not None:
        all_headers.setdefault("Authorization", key)
    if content is None:
        return await client.post(
            f"/api/v1/earning-rules/{rule_id}/award", json=body, headers=all_headers
        )
    return await client.post(
        f"/api/v1/earning-rules/{rule_id}/award", content=content, headers=all_headers
    )


async def snapshot() -> dict[str, Any]:
    """Everything an award could write: used to prove a rejected request wrote nothing."""
    balances = (
        await Customer.all()
        .order_by("id")
        .values_list("id", "points_balance", "pending_points", "lifetime_points", "vip_tier_id")
    )
    return {
        "entries": await EarningHistoryEntry.all().count(),
        "activities": await Activity.all().count(),
        "intents": await OutboxIntent.all().count(),
        "balances": balances,
    }


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["status"] == str(response.status_code)
    assert {"status", "code", "title", "detail"} <= set(error)
    return error  # type: ignore[no-any-return]


class TestAwardSucceeds:
    async def test_answers_201_with_exactly_the_spec_document(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """201, application/json, type/id/attributes in the spec's shape and order."""
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )

        assert response.status_code == 201
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert list(body) == ["data"]
        data = body["data"]
        assert list(data) == ["type", "id", "attributes"]
        assert data["type"] == "earning_history_entry"
        assert re.fullmatch(r"cer_[0-9a-f]{22}", data["id"])
        attributes = data["attributes"]
        assert list(attributes) == SPEC_ATTRIBUTES
        assert attributes["earning_rule_id"] == world.rule.public_id
        assert attributes["action"] == "follow_on_instagram"
        assert attributes["points"] == 100
        assert attributes["base_points"] == 100
        assert attributes["points_multiplier"] == 1.0
        assert attributes["status"] == "approved"
        assert ISO_MS_Z.match(attributes["points_given_at"])
        assert attributes["points_due_at"] is None
        assert attributes["points_expiry_at"] is None
        assert ISO_MS_Z.match(attributes["created_at"])
        assert attributes["created_at"] == attributes["updated_at"] == attributes["points_given_at"]

    async def test_stores_the_entry_it_returns(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """The CustomerEarningRule record matches the response, field by field."""
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        data = response.json()["data"]

        entry = await EarningHistoryEntry.get(public_id=data["id"])
        assert entry.customer_id == world.customer.id
        assert entry.rule_id == world.rule.id
        assert entry.shop_id == world.shop.id
        assert (entry.points, entry.base_points) == (100, 100)
        assert entry.points_multiplier == Decimal("1.00")
        assert entry.status == "approved"
        assert entry.points_remaining == 100  # an approved lot, whole until spent or expired
        assert entry.points_given_at == parse_db_datetime(
            data["attributes"]["points_given_at"].replace("Z", "+00:00")
        )

    async def test_moves_the_spendable_and_lifetime_balance(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Approved points land in the spendable balance and in lifetime points."""
        await award(client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"})

        customer = await Customer.get(id=world.customer.id)
        assert (customer.points_balance, customer.lifetime_points, customer.pending_points) == (
            100,
            100,
            0,
        )

    @pytest.mark.parametrize(
        ("base", "multiplier", "expected"),
        [
            (100, "1.50", 150),
            (25, "1.25", 31),  # 31.25 → 31
            (10, "1.25", 13),  # 12.5 → 13: half rounds up
            (15, "1.10", 17),  # 16.5 → 17, exact in decimal, 16.500000000000004 in float
            (100, "1.00", 100),
        ],
    )
    async def test_applies_the_tier_multiplier_rounding_half_up(
        self, client: httpx.AsyncClient, world: World, base: int, multiplier: str, expected: int
    ) -> None:
        """points = round_half_up(base_points × the customer's tier multiplier)."""
        tier = await create_tier(
            world.shop, points_required=0, points_multiplier=Decimal(multiplier)
        )
        rule = await create_rule(world.shop, points=base)
        customer = await create_customer(world.shop, vip_tier=tier)

        response = await award(
            client,
            world.key,
            rule.public_id,
            {"customer_identifier": str(customer.shopify_customer_id)},
        )

        attributes = response.json()["data"]["attributes"]
        assert (attributes["base_points"], attributes["points"]) == (base, expected)
        assert attributes["points_multiplier"] == float(multiplier)
        assert (await Customer.get(id=customer.id)).points_balance == expected

    async def test_without_a_tier_the_multiplier_is_one(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """A customer with no VIP tier earns the base points."""
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )

        assert response.json()["data"]["attributes"]["points_multiplier"] == 1.0

    @pytest.mark.parametrize(
        "identifier",
        [
            "ann@example.com",
            "ANN@EXAMPLE.COM",
            "  Ann@Example.com\t",
            "6789012345",
            " 6789012345 ",
            "gid://shopify/Customer/6789012345",
        ],
    )
    async def test_finds_the_customer_by_shopify_id_or_email(
        self, client: httpx.AsyncClient, world: World, identifier: str
    ) -> None:
        """Shopify customer id, or email case-insensitively and trimmed."""
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": identifier}
        )

        assert response.status_code == 201
        entry = await EarningHistoryEntry.get(public_id=response.json()["data"]["id"])
        assert entry.customer_id == world.customer.id

    async def test_accepts_a_bearer_prefixed_key(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """`Authorization: Bearer <key>` works as well as the raw key."""
        response = await award(
            client,
            f"Bearer {world.key}",
            world.rule.public_id,
            {"customer_identifier": "6789012345"},
        )
        assert response.status_code == 201

    async def test_awards_engagement_rules(self, client: httpx.AsyncClient, world: World) -> None:
        """The engagement category is awardable too."""
        rule = await create_rule(
            world.shop, category=RuleCategory.ENGAGEMENT, action="join_newsletter"
        )

        response = await award(
            client, world.key, rule.public_id, {"customer_identifier": "6789012345"}
        )

        assert response.status_code == 201
        assert response.json()["data"]["attributes"]["action"] == "join_newsletter"

    async def test_reads_a_body_without_content_type_as_json(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """A missing Content-Type is read as JSON, as is curl -d's form label."""
        for headers in (
            {},
            {"Content-Type": "application/x-www-form-urlencoded"},
            {"Content-Type": "application/json; charset=utf-8"},
        ):
            rule = await create_rule(world.shop)
            response = await award(
                client,
                world.key,
                rule.public_id,
                content=b'{"customer_identifier": "6789012345"}',
                headers=headers,
            )
            assert response.status_code == 201, (headers, response.text)

    async def test_ignores_unknown_body_fields(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Extra fields do not change the outcome."""
        response = await award(
            client,
            world.key,
            world.rule.public_id,
            {"customer_identifier": "6789012345", "points": 1_000_000},
        )
        assert response.status_code == 201
        assert response.json()["data"]["attributes"]["points"] == 100

    async def test_sets_points_expiry_when_the_shop_expires_points(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """points_expiry_at = points_given_at + the shop's expiry days."""
        await Shop.filter(id=world.shop.id).update(points_expiry_days=30)

        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )

        attributes = response.json()["data"]["attributes"]
        given = datetime.fromisoformat(attributes["points_given_at"].replace("Z", "+00:00"))
        expiry = datetime.fromisoformat(attributes["points_expiry_at"].replace("Z", "+00:00"))
        assert expiry - given == timedelta(days=30)
        assert ISO_MS_Z.match(attributes["points_expiry_at"])

    async def test_a_changed_expiry_setting_applies_to_the_next_award(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Shop settings are read in the award itself, not from anything cached with the key."""
        await award(client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"})
        await Shop.filter(id=world.shop.id).update(points_expiry_days=7)
        rule = await create_rule(world.shop)
        response = await award(
            client, world.key, rule.public_id, {"customer_identifier": "6789012345"}
        )
        attributes = response.json()["data"]["attributes"]
        given = datetime.fromisoformat(attributes["points_given_at"].replace("Z", "+00:00"))
        expiry = datetime.fromisoformat(attributes["points_expiry_at"].replace("Z", "+00:00"))
        assert expiry - given == timedelta(days=7)

    async def test_upgrades_the_tier_when_lifetime_points_cross_a_threshold(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """An award that lifts lifetime points past a threshold moves the customer up a tier."""
        bronze = await create_tier(world.shop, points_required=0, points_multiplier=Decimal("1.00"))
        silver = await create_tier(
            world.shop, points_required=150, points_multiplier=Decimal("1.25")
        )
        await create_tier(world.shop, points_required=10_000, points_multiplier=Decimal("2.00"))
        customer = await create_customer(
            world.shop, vip_tier=bronze, lifetime_points=60, points_balance=60
        )

        response = await award(
            client,
            world.key,
            world.rule.public_id,
            {"customer_identifier": str(customer.shopify_customer_id)},
        )

        # The multiplier is the tier held when the award is made.
        assert response.json()["data"]["attributes"]["points"] == 100
        customer = await Customer.get(id=customer.id)
        assert customer.vip_tier_id == silver.id
        assert customer.lifetime_points == 160
        change = await Activity.get(customer_id=customer.id, kind="vip_tier_changed")
        assert change.data["from_tier_id"] == bronze.id and change.data["to_tier_id"] == silver.id


class TestPendingAwards:
    async def test_a_rule_with_approval_time_awards_pending_points(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """status pending, points_given_at null, points_due_at = now + approval time."""
        await Shop.filter(id=world.shop.id).update(points_expiry_days=30)
        rule = await create_rule(
            world.shop, category=RuleCategory.ENGAGEMENT, approval_time_days=7, points=40
        )

        response = await award(
            client, world.key, rule.public_id, {"customer_identifier": "6789012345"}
        )

        assert response.status_code == 201
        attributes = response.json()["data"]["attributes"]
        assert attributes["status"] == "pending"
        assert attributes["points_given_at"] is None
        assert attributes["points_expiry_at"] is None  # expiry runs from when points are given
        created = datetime.fromisoformat(attributes["created_at"].replace("Z", "+00:00"))
        due = datetime.fromisoformat(attributes["points_due_at"].replace("Z", "+00:00"))
        assert due - created == timedelta(days=7)
        assert ISO_MS_Z.match(attributes["points_due_at"])

    async def test_pending_points_are_not_spendable(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Pending points go to the pending balance, not the spendable or lifetime one."""
        rule = await create_rule(world.shop, approval_time_days=3, points=40)

        await award(client, world.key, rule.public_id, {"customer_identifier": "6789012345"})

        customer = await Customer.get(id=world.customer.id)
        assert (customer.points_balance, customer.pending_points, customer.lifetime_points) == (
            0,
            40,
            0,
        )
        entry = await EarningHistoryEntry.get(customer_id=customer.id)
        assert entry.status == "pending" and entry.points_given_at is None
        assert entry.points_remaining == 0  # nothing to spend until approved


class TestSideEffects:
    async def test_logs_the_activity_with_the_api_key_as_actor(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """An activity row names the key that awarded and the entry it created."""
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        entry_id = response.json()["data"]["id"]

        activity = await Activity.get(customer_id=world.customer.id, kind="points_awarded")
        key = await ApiKey.get(shop_id=world.shop.id)
        assert activity.actor_type == "api_key" and activity.actor_id == key.public_id
        assert activity.data == {
            "entry_id": entry_id,
            "rule_id": world.rule.public_id,
            "points": 100,
            "status": "approved",
        }

    async def test_owes_a_metafield_sync_and_each_enabled_platform_sync(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Intents: Shopify metafields and Shopify Flow always; Klaviyo/Omnisend/Postscript only
        when enabled."""
        await Integration.create(shop=world.shop, platform=Platform.KLAVIYO, enabled=True)
        await Integration.create(shop=world.shop, platform=Platform.OMNISEND, enabled=False)
        other = await create_shop()
        await Integration.create(shop=other, platform=Platform.POSTSCRIPT, enabled=True)

        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )

        intents = await OutboxIntent.filter(customer_id=world.customer.id).order_by("job")
        assert sorted(i.job for i in intents) == sorted(
            [
                JobName.SEND_FLOW_TRIGGERS,
                JobName.SYNC_KLAVIYO_PROFILES,
                JobName.SYNC_SHOPIFY_METAFIELDS,
            ]
        )
        assert all(i.payload == {"entry_id": response.json()["data"]["id"]} for i in intents)

    async def test_jobs_run_in_process_without_redis_and_complete_as_logged_no_ops(
        self,
        client: httpx.AsyncClient,
        world: World,
        services: Services,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Embedded default: the jobs run in the web process; unconfigured targets log why."""
        await Integration.create(shop=world.shop, platform=Platform.KLAVIYO, enabled=True)
        caplog.set_level("INFO", logger="loyalty.sync")

        await award(client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"})
        await services.dispatcher.flush()
        assert isinstance(services.queue, InProcessJobQueue)
        await services.queue.drain()

        assert await OutboxIntent.filter(completed_at__isnull=True).count() == 0
        assert await OutboxIntent.filter(completed_at__isnull=False).count() == 3
        messages = " ".join(record.getMessage() for record in caplog.records)
        assert "metafield sync for shop" in messages and "no Shopify offline token" in messages
        assert "klaviyo sync for shop" in messages and "not configured" in messages


class TestAuthentication:
    async def test_missing_key_is_401(self, client: httpx.AsyncClient, world: World) -> None:
        """No Authorization header: 401 missing_api_key, nothing written."""
        before = await snapshot()
        response = await award(
            client, None, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 401
        assert error_of(response)["code"] == "missing_api_key"
        assert await snapshot() == before

    @pytest.mark.parametrize(
        "header", ["lk_not-a-real-key", "Bearer lk_not-a-real-key", "Bearer ", "   "]
    )
    async def test_unknown_key_is_401(
        self, client: httpx.AsyncClient, world: World, header: str
    ) -> None:
        """A key that was never issued (or an empty one): 401."""
        before = await snapshot()
        response = await award(
            client, header, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 401
        assert error_of(response)["code"] in {"invalid_api_key", "missing_api_key"}
        assert await snapshot() == before

    async def test_revoked_key_is_401(self, client: httpx.AsyncClient, world: World) -> None:
        """A revoked key stops working at once."""
        await ApiKey.filter(shop_id=world.shop.id).update(revoked_at=datetime.now().astimezone())
        before = await snapshot()
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 401
        assert error_of(response)["code"] == "api_key_revoked"
        assert await snapshot() == before

    async def test_a_key_revoked_after_use_is_refused_at_once(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """The award re-checks the key in its own statement: the process's cache of verified
        keys never lets a revoked key award, not even for a moment."""
        first = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert first.status_code == 201  # the key is now cached as verified
        await ApiKey.filter(shop_id=world.shop.id).update(revoked_at=datetime.now().astimezone())
        other_rule = await create_rule(world.shop)
        before = await snapshot()

        response = await award(
            client, world.key, other_rule.public_id, {"customer_identifier": "6789012345"}
        )

        assert response.status_code == 401
        assert error_of(response)["code"] == "api_key_revoked"
        assert await snapshot() == before

    async def test_a_shop_uninstalled_after_use_is_refused_at_once(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Uninstalling stops awards immediately, even for a key verified moments before."""
        await award(client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"})
        await Shop.filter(id=world.shop.id).update(uninstalled_at=datetime.now().astimezone())
        other_rule = await create_rule(world.shop)
        response = await award(
            client, world.key, other_rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 401

    async def test_read_only_key_is_403(self, client: httpx.AsyncClient, world: World) -> None:
        """A read-only key cannot award."""
        read_only = (await create_api_key(world.shop, read_only=True)).secret
        before = await snapshot()
        response = await award(
            client, read_only, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 403
        assert error_of(response)["code"] == "read_only_api_key"
        assert await snapshot() == before

    async def test_key_is_checked_before_the_body(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """A bad key with a bad body is a 401, not a 400."""
        response = await award(client, "nope", world.rule.public_id, content=b"{not json")
        assert response.status_code == 401

    async def test_uninstalled_shops_key_is_401(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """After uninstall, the shop's keys stop working."""
        await Shop.filter(id=world.shop.id).update(uninstalled_at=datetime.now().astimezone())
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 401
        assert error_of(response)["code"] == "shop_uninstalled"

    async def test_another_shops_rule_and_customer_are_not_found(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Everything is scoped to the key's shop."""
        other = await create_shop()
        other_rule = await create_rule(other)
        other_customer = await create_customer(other, email="bob@example.com")
        before = await snapshot()

        rule_response = await award(
            client, world.key, other_rule.public_id, {"customer_identifier": "6789012345"}
        )
        customer_response = await award(
            client,
            world.key,
            world.rule.public_id,
            {"customer_identifier": str(other_customer.shopify_customer_id)},
        )
        email_response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "bob@example.com"}
        )

        assert (
            rule_response.status_code == 404
            and error_of(rule_response)["code"] == "earning_rule_not_found"
        )
        assert (
            customer_response.status_code == 404
            and error_of(customer_response)["code"] == "customer_not_found"
        )
        assert email_response.status_code == 404
        assert await snapshot() == before


class TestBadBodies:
    @pytest.mark.parametrize(
        ("content", "code"),
        [
            (b"", "invalid_json"),
            (b"{", "invalid_json"),
            (b"customer_identifier=6789012345", "invalid_json"),
            (b"\xff\xfe{", "invalid_json"),
            (b"[]", "invalid_body"),
            (b'"6789012345"', "invalid_body"),
            (b"6789012345", "invalid_body"),
            (b"null", "invalid_body"),
            (b"{}", "missing_field"),
            (b'{"customer_id": "6789012345"}', "missing_field"),
            (b'{"customer_identifier": ""}', "invalid_field"),
            (b'{"customer_identifier": "   "}', "invalid_field"),
            (b'{"customer_identifier": null}', "invalid_field"),
            (b'{"customer_identifier": 6789012345}', "invalid_field"),
            (b'{"customer_identifier": ["6789012345"]}', "invalid_field"),
            (b'{"customer_identifier": {"id": "6789012345"}}', "invalid_field"),
            (b'{"customer_identifier": true}', "invalid_field"),
            ('{"customer_identifier": "' + "a" * 256 + '"}', "invalid_field"),
        ],
    )
    async def test_is_400_and_writes_nothing(
        self, client: httpx.AsyncClient, world: World, content: bytes | str, code: str
    ) -> None:
        """Invalid JSON, not an object, identifier missing/blank/not a string/too long: 400."""
        before = await snapshot()
        response = await award(
            client,
            world.key,
            world.rule.public_id,
            content=content,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, response.text
        error = error_of(response)
        assert error["code"] == code
        if code in {"missing_field", "invalid_field"}:
            assert error["source"] == {"pointer": "/customer_identifier"}
        assert await snapshot() == before

    async def test_255_characters_is_the_longest_identifier_accepted(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """The limit is inclusive: 255 characters passes validation (and finds no one)."""
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "a" * 255}
        )
        assert response.status_code == 404
        assert error_of(response)["code"] == "customer_not_found"

    async def test_a_body_over_64_kb_is_413(self, client: httpx.AsyncClient, world: World) -> None:
        """The body is capped at 64 KB, whatever it holds."""
        body = b'{"customer_identifier": "6789012345", "pad": "' + b"x" * (64 * 1024) + b'"}'
        before = await snapshot()
        response = await award(client, world.key, world.rule.public_id, content=body)
        assert response.status_code == 413
        assert error_of(response)["code"] == "payload_too_large"
        assert await snapshot() == before

    async def test_a_streamed_body_over_64_kb_is_413(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Without Content-Length (chunked), the cap still holds."""

        async def chunks():  # type: ignore[no-untyped-def]
            yield b'{"customer_identifier": "6789012345", "pad": "'
            for _ in range(70):
                yield b"x" * 1024
            yield b'"}'

        response = await client.post(
            f"/api/v1/earning-rules/{world.rule.public_id}/award",
            content=chunks(),
            headers={"Authorization": world.key},
        )
        assert response.status_code == 413

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"]
    )
    async def test_a_non_json_content_type_is_415(
        self, client: httpx.AsyncClient, world: World, content_type: str
    ) -> None:
        """A content type that is present and not JSON: 415."""
        before = await snapshot()
        response = await award(
            client,
            world.key,
            world.rule.public_id,
            content=b'{"customer_identifier": "6789012345"}',
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 415
        assert error_of(response)["code"] == "unsupported_media_type"
        assert await snapshot() == before


class TestRuleAndCustomerChecks:
    async def test_unknown_rule_is_404(self, client: httpx.AsyncClient, world: World) -> None:
        """An id that names no rule: 404 earning_rule_not_found."""
        before = await snapshot()
        response = await award(
            client, world.key, "rule_doesnotexist", {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 404
        assert error_of(response)["code"] == "earning_rule_not_found"
        assert await snapshot() == before

    async def test_inactive_rule_is_404(self, client: httpx.AsyncClient, world: World) -> None:
        """An inactive rule answers 404 (as the spec says), with its own code."""
        rule = await create_rule(world.shop, is_active=False)
        before = await snapshot()
        response = await award(
            client, world.key, rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 404
        assert error_of(response)["code"] == "earning_rule_inactive"
        assert await snapshot() == before

    @pytest.mark.parametrize(
        "category",
        [
            RuleCategory.PURCHASE,
            RuleCategory.BIRTHDAY,
            RuleCategory.ANNIVERSARY,
            RuleCategory.SIGNUP,
            RuleCategory.REFERRAL,
        ],
    )
    async def test_non_awardable_category_is_422(
        self, client: httpx.AsyncClient, world: World, category: RuleCategory
    ) -> None:
        """Only social and engagement rules can be awarded via the API."""
        rule = await create_rule(world.shop, category=category, action=str(category))
        before = await snapshot()
        response = await award(
            client, world.key, rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 422
        assert error_of(response)["code"] == "category_not_awardable"
        assert await snapshot() == before

    @pytest.mark.parametrize(
        "identifier", ["1", "nobody@example.com", "not-an-id", "99999999999999999999999"]
    )
    async def test_unknown_customer_is_404(
        self, client: httpx.AsyncClient, world: World, identifier: str
    ) -> None:
        """No customer by that Shopify id or email: 404 customer_not_found."""
        before = await snapshot()
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": identifier}
        )
        assert response.status_code == 404
        assert error_of(response)["code"] == "customer_not_found"
        assert await snapshot() == before

    async def test_excluded_customer_is_403(self, client: httpx.AsyncClient, world: World) -> None:
        """A customer excluded from the programme: 403 customer_excluded."""
        excluded = await create_customer(world.shop, is_excluded=True)
        before = await snapshot()
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": excluded.email}
        )
        assert response.status_code == 403
        assert error_of(response)["code"] == "customer_excluded"
        assert await snapshot() == before

    async def test_second_award_of_the_same_rule_is_409(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Each rule is awarded once per customer; the repeat writes nothing."""
        first = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert first.status_code == 201
        before = await snapshot()

        # The same customer by another identifier is still the same customer.
        repeat = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "ANN@example.com"}
        )

        assert repeat.status_code == 409
        assert error_of(repeat)["code"] == "already_awarded"
        assert await snapshot() == before

    async def test_the_same_rule_can_be_awarded_to_different_customers(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Once per customer, not once per rule."""
        other = await create_customer(world.shop)
        first = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        second = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": other.email}
        )
        assert (first.status_code, second.status_code) == (201, 201)


class TestCheckOrder:
    """The first failing check wins: body → rule → category → customer → excluded → duplicate."""

    async def test_bad_body_beats_unknown_rule(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """400 before 404."""
        response = await award(client, world.key, "rule_nope", {})
        assert response.status_code == 400

    async def test_unknown_rule_beats_unknown_customer(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Rule 404 before customer 404."""
        response = await award(
            client, world.key, "rule_nope", {"customer_identifier": "nobody@example.com"}
        )
        assert error_of(response)["code"] == "earning_rule_not_found"

    async def test_inactive_rule_beats_category(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """An inactive purchase rule is a 404, not a 422."""
        rule = await create_rule(world.shop, category=RuleCategory.PURCHASE, is_active=False)
        response = await award(
            client, world.key, rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 404

    async def test_category_beats_unknown_and_excluded_customer(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """422 before the customer is even looked at."""
        rule = await create_rule(world.shop, category=RuleCategory.BIRTHDAY)
        excluded = await create_customer(world.shop, is_excluded=True)
        for identifier in ("nobody@example.com", excluded.email):
            response = await award(
                client, world.key, rule.public_id, {"customer_identifier": identifier}
            )
            assert response.status_code == 422

    async def test_excluded_beats_already_awarded(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """A customer excluded after an award gets 403 on the repeat, not 409."""
        await award(client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"})
        await Customer.filter(id=world.customer.id).update(is_excluded=True)
        response = await award(
            client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 403


class TestExactlyOnce:
    async def test_fifty_identical_concurrent_awards_succeed_once(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """50 at the same instant: one 201, 49 × 409, one entry, one balance change."""
        responses = await asyncio.gather(
            *(
                award(
                    client, world.key, world.rule.public_id, {"customer_identifier": "6789012345"}
                )
                for _ in range(50)
            )
        )

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * 49
        assert await EarningHistoryEntry.filter(customer_id=world.customer.id).count() == 1
        assert (
            await Activity.filter(customer_id=world.customer.id, kind="points_awarded").count() == 1
        )
        customer = await Customer.get(id=world.customer.id)
        assert (customer.points_balance, customer.lifetime_points) == (100, 100)

    async def test_concurrent_awards_of_different_rules_all_add_up(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """Balances move atomically: 20 different rules at once add exactly 20 × points."""
        rules = [await create_rule(world.shop, points=7) for _ in range(20)]

        responses = await asyncio.gather(
            *(
                award(client, world.key, r.public_id, {"customer_identifier": "6789012345"})
                for r in rules
            )
        )

        assert all(r.status_code == 201 for r in responses)
        customer = await Customer.get(id=world.customer.id)
        assert (customer.points_balance, customer.lifetime_points) == (140, 140)
