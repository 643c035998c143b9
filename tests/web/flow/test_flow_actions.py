"""`/flow/actions/…`: Shopify Flow's "Award loyalty points" and "Award a loyalty custom
action". Verification fails closed before anything is read or written; each action run awards
once, however often Flow sends it; refusals are 4xx with a stable code and write nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from loyalty.models import (
    Activity,
    ActorType,
    Customer,
    EarningHistoryEntry,
    IdempotencyRecord,
    OutboxIntent,
    RuleCategory,
    Shop,
)
from tests.factories import create_customer, create_rule, create_shop
from tests.shopify_webhooks import SECRET, sign

SHOP = "flow-shop.myshopify.com"
POINTS = "/flow/actions/award-points"
CUSTOM = "/flow/actions/award-custom-action"
POINTS_HANDLE = "loyalty-award-points"
CUSTOM_HANDLE = "loyalty-award-custom-action"
ANN = 7001


def envelope(handle: str, properties: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A Flow action request body, as Flow sends it (shopify.dev, Flow action endpoints)."""
    body = {
        "shop_id": "60522102838",
        "shopify_domain": SHOP,
        "action_run_id": str(uuid.uuid4()),
        "action_definition_id": handle,
        "handle": handle,
        "properties": properties,
    }
    body.update(overrides)
    return body


def points_body(**overrides: Any) -> dict[str, Any]:
    properties = {"customer_id": str(ANN), "points": 25, "reason": "Wrote a product review"}
    return envelope(POINTS_HANDLE, properties, **overrides)


def custom_body(action_key: str = "left_review", **overrides: Any) -> dict[str, Any]:
    return envelope(CUSTOM_HANDLE, {"customer_id": str(ANN), "action_key": action_key}, **overrides)


async def post(
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    shop: str = SHOP,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": sign(raw, secret),
        "X-Shopify-Shop-Domain": shop,
    }
    sent.update(headers or {})
    return await client.post(path, content=raw, headers=sent)


def code_of(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["code"])


@pytest.fixture
async def shop(db: str) -> Shop:
    shop = await create_shop(domain=SHOP)
    await create_rule(
        shop,
        name="Left a review",
        action="custom",
        category=RuleCategory.CUSTOM,
        action_key="left_review",
        points=40,
        repeatable=True,
    )
    await create_rule(
        shop,
        name="Took the quiz",
        action="custom",
        category=RuleCategory.CUSTOM,
        action_key="quiz_completed",
        points=50,
    )
    return shop


@pytest.fixture
async def ann(shop: Shop) -> Customer:
    return await create_customer(shop, shopify_customer_id=ANN)


async def nothing_written() -> bool:
    return (
        await EarningHistoryEntry.all().count() == 0
        and await Activity.all().count() == 0
        and await IdempotencyRecord.all().count() == 0
        and await OutboxIntent.all().count() == 0
    )


class TestVerification:
    async def test_a_missing_signature_is_refused(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """No X-Shopify-Hmac-Sha256: 400, nothing written."""
        raw = json.dumps(points_body()).encode()
        response = await client.post(POINTS, content=raw, headers={"X-Shopify-Shop-Domain": SHOP})
        assert response.status_code == 400 and code_of(response) == "missing_hmac_header"
        assert await nothing_written()

    async def test_a_forged_signature_is_refused(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """Signed with a secret that is not the app's: 401, nothing written."""
        response = await post(client, POINTS, points_body(), secret="forged")
        assert response.status_code == 401 and code_of(response) == "invalid_hmac"
        assert await nothing_written()

    async def test_a_body_changed_after_signing_is_refused(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """More points than were signed for: the signature does not cover them, 401."""
        raw = json.dumps(points_body()).encode()
        headers = {"X-Shopify-Hmac-Sha256": sign(raw), "X-Shopify-Shop-Domain": SHOP}
        tampered = raw.replace(b'"points": 25', b'"points": 25000')
        assert tampered != raw
        response = await client.post(POINTS, content=tampered, headers=headers)
        assert response.status_code == 401 and code_of(response) == "invalid_hmac"
        assert await nothing_written()

    async def test_a_retired_secret_no_longer_verifies(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """Flow requests carry no timestamp; what expires is the secret. One signed with a
        secret the app no longer holds (neither current nor previous) is refused."""
        response = await post(client, POINTS, points_body(), secret="secret-rotated-out-last-year")
        assert response.status_code == 401
        assert await nothing_written()

    async def test_a_pathological_forged_body_is_refused_before_anything_parses_it(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """A 5,000-digit integer would make shopify_app's log redaction raise (a 500) if it saw
        the body before the signature was checked: it is a plain 401."""
        raw = b'{"points": ' + b"9" * 5000 + b"}"
        response = await client.post(
            POINTS,
            content=raw,
            headers={"X-Shopify-Hmac-Sha256": sign(raw, "forged"), "X-Shopify-Shop-Domain": SHOP},
        )
        assert response.status_code == 401
        assert await nothing_written()

    async def test_a_signed_body_replayed_under_another_shops_header_is_refused(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """The header is not signed, the body's shopify_domain is: another shop's header on
        this shop's signed body is 401 `shop_mismatch`, and neither shop gets anything."""
        other = await create_shop(domain="other-flow.myshopify.com")
        await create_customer(other, shopify_customer_id=ANN + 1)
        body = points_body()
        body["properties"]["customer_id"] = str(ANN + 1)
        response = await post(client, POINTS, body, shop="other-flow.myshopify.com")
        assert response.status_code == 401 and code_of(response) == "shop_mismatch"
        assert await nothing_written()

    async def test_a_shop_without_the_app_is_not_found(
        self, client: httpx.AsyncClient, db: str
    ) -> None:
        """Signed correctly, for a shop that never installed the app: 404, no shop created."""
        response = await post(client, POINTS, points_body())
        assert response.status_code == 404 and code_of(response) == "shop_not_found"
        assert await Shop.all().count() == 0

    async def test_one_actions_request_sent_to_the_others_url_is_refused(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """The signed `handle` names the action: a custom-action run sent to the points URL
        is 400 `wrong_action`."""
        response = await post(client, POINTS, custom_body())
        assert response.status_code == 400 and code_of(response) == "wrong_action"
        assert await nothing_written()

    async def test_only_post_is_accepted(self, client: httpx.AsyncClient, db: str) -> None:
        response = await client.get(POINTS)
        assert response.status_code == 405


class TestAwardPoints:
    async def test_awards_the_points_with_the_reason(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """200 with the entry and the new balance; the reason is the entry's note, the actor
        Shopify Flow, the syncs (and Flow's own trigger) owed in the same transaction."""
        body = points_body()
        response = await post(client, POINTS, body)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["type"] == "flow_action_run" and data["id"] == body["action_run_id"]
        attributes = data["attributes"]
        assert (attributes["points"], attributes["points_balance"]) == (25, 25)
        assert attributes["replayed"] is False
        entry = await EarningHistoryEntry.get(public_id=attributes["entry_id"])
        assert entry.points == 25 and entry.note == "Wrote a product review"
        activity = await Activity.get(customer_id=ann.id)
        assert (activity.actor_type, activity.actor_id) == (ActorType.SYSTEM, "shopify_flow")
        await ann.refresh_from_db()
        assert (ann.points_balance, ann.lifetime_points) == (25, 25)
        jobs = set(await OutboxIntent.filter(customer_id=ann.id).values_list("job", flat=True))
        assert "send_flow_triggers" in jobs and "sync_shopify_metafields" in jobs

    async def test_a_replayed_run_answers_the_same_and_awards_nothing_more(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """Flow re-sends a run (same action_run_id) when it missed the answer: the same result,
        `replayed`, and still one entry."""
        body = points_body()
        first = await post(client, POINTS, body)
        again = await post(client, POINTS, body)
        assert first.status_code == again.status_code == 200
        replayed = again.json()["data"]["attributes"]
        assert replayed.pop("replayed") is True
        original = first.json()["data"]["attributes"]
        original.pop("replayed")
        assert replayed == original
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 1
        await ann.refresh_from_db()
        assert ann.points_balance == 25

    async def test_simultaneous_copies_of_one_run_award_once(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """Ten copies of one run at the same instant: one award (the unique run key)."""
        body = points_body()
        responses = await asyncio.gather(*(post(client, POINTS, body) for _ in range(10)))
        assert [r.status_code for r in responses].count(200) == 10
        assert sum(r.json()["data"]["attributes"]["replayed"] is False for r in responses) == 1
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 1
        await ann.refresh_from_db()
        assert ann.points_balance == 25

    async def test_each_new_run_awards_again(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """Two runs (two reviews): two awards."""
        for _ in range(2):
            assert (await post(client, POINTS, points_body())).status_code == 200
        await ann.refresh_from_db()
        assert ann.points_balance == 50

    async def test_an_unknown_customer_is_not_found_and_nothing_is_written(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """A customer the app does not know: 404 (Flow fails the step, no retry); the run is
        not remembered, so a later copy is judged again."""
        body = points_body()
        body["properties"]["customer_id"] = "999999"
        response = await post(client, POINTS, body)
        assert response.status_code == 404 and code_of(response) == "customer_not_found"
        assert await nothing_written()

    async def test_an_excluded_customer_is_refused(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        await Customer.filter(id=ann.id).update(is_excluded=True)
        response = await post(client, POINTS, points_body())
        assert response.status_code == 403 and code_of(response) == "customer_excluded"
        assert await nothing_written()

    @pytest.mark.parametrize(
        ("properties", "field"),
        [
            ({"points": 25, "reason": "x"}, "customer_id"),
            ({"customer_id": "abc", "points": 25, "reason": "x"}, "customer_id"),
            ({"customer_id": str(ANN), "points": 0, "reason": "x"}, "points"),
            ({"customer_id": str(ANN), "points": 1_000_001, "reason": "x"}, "points"),
            ({"customer_id": str(ANN), "points": 2.5, "reason": "x"}, "points"),
            ({"customer_id": str(ANN), "points": 25}, "reason"),
            ({"customer_id": str(ANN), "points": 25, "reason": ""}, "reason"),
        ],
    )
    async def test_bad_properties_are_400_pointing_at_the_field(
        self,
        client: httpx.AsyncClient,
        ann: Customer,
        properties: dict[str, Any],
        field: str,
    ) -> None:
        response = await post(client, POINTS, envelope(POINTS_HANDLE, properties))
        assert response.status_code == 400, response.text
        error = response.json()["errors"][0]
        assert error["code"] in {"missing_field", "invalid_field"}
        assert field in json.dumps(error)
        assert await nothing_written()

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"[1, 2]",
            b'{"handle": "loyalty-award-points"}',
            b'{"shopify_domain": "flow-shop.myshopify.com", "action_run_id": "a b", '
            b'"handle": "loyalty-award-points", "properties": {}}',
            b'{"shopify_domain": "flow-shop.myshopify.com", "action_run_id": "r1", '
            b'"handle": "loyalty-award-points", "properties": {"reason": "\\u0000"}}',
        ],
    )
    async def test_a_signed_but_malformed_body_is_400(
        self, client: httpx.AsyncClient, ann: Customer, body: bytes
    ) -> None:
        response = await post(client, POINTS, body)
        assert response.status_code == 400, response.text
        assert await nothing_written()


class TestAwardCustomAction:
    async def test_awards_the_rule_by_its_action_key(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """The rule's points, through the same use case as POST /api/v1/actions."""
        response = await post(client, CUSTOM, custom_body())
        assert response.status_code == 200, response.text
        attributes = response.json()["data"]["attributes"]
        assert attributes["action_key"] == "left_review" and attributes["points"] == 40
        entry = await EarningHistoryEntry.get(public_id=attributes["entry_id"])
        assert entry.action == "custom"
        activity = await Activity.get(customer_id=ann.id, kind="points_awarded")
        assert (activity.actor_type, activity.actor_id) == (ActorType.SYSTEM, "shopify_flow")

    async def test_a_replayed_run_of_a_repeatable_action_awards_once(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """A repeatable rule awards every run, but each run once: the same run twice is one
        award and the same answer; a second run is a second award."""
        body = custom_body()
        first = await post(client, CUSTOM, body)
        again = await post(client, CUSTOM, body)
        assert again.json()["data"]["attributes"]["replayed"] is True
        assert (
            again.json()["data"]["attributes"]["entry_id"]
            == (first.json()["data"]["attributes"]["entry_id"])
        )
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 1
        assert (await post(client, CUSTOM, custom_body())).status_code == 200
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 2

    async def test_a_once_per_customer_action_refuses_a_second_run(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        """A second run of a once-only rule: 409 `already_awarded`, which fails the Flow step
        (a retry cannot change it)."""
        assert (await post(client, CUSTOM, custom_body("quiz_completed"))).status_code == 200
        response = await post(client, CUSTOM, custom_body("quiz_completed"))
        assert response.status_code == 409 and code_of(response) == "already_awarded"
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 1

    async def test_an_unknown_action_key_is_not_found(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        response = await post(client, CUSTOM, custom_body("no_such_action"))
        assert response.status_code == 404 and code_of(response) == "custom_action_not_found"
        assert await nothing_written()

    async def test_an_action_key_of_the_wrong_shape_is_400(
        self, client: httpx.AsyncClient, ann: Customer
    ) -> None:
        response = await post(client, CUSTOM, custom_body("Left Review!"))
        assert response.status_code == 400 and code_of(response) == "invalid_field"
        assert await nothing_written()

    async def test_an_unknown_customer_is_not_found(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await post(client, CUSTOM, custom_body())
        assert response.status_code == 404 and code_of(response) == "customer_not_found"
        assert await nothing_written()


# Shopify's published example of a Flow action request, as printed on shopify.dev "Create Flow
# action endpoints" → "Flow action execution" (an auction app's "Place auction bid" action), with
# only the `{shop}` placeholder filled in. Its envelope is what Flow sends every action; its
# properties are that page's action's, not ours.
# https://shopify.dev/docs/apps/build/flow/actions/endpoints#flow-action-execution
PUBLISHED_EXAMPLE = """{
  "shop_id": "1",
  "shopify_domain": "{shop}.myshopify.com",
  "action_run_id": "xxxx-xxxx-xxxx-xxxx",
  "action_definition_id": "Place auction bid",
  "handle": "place-auction-bid",
  "properties": {
    "customer_id": "123456",
    "amount": "10.00",
    "step_reference": "320d4f8a-aaab-40ff-9ed2-2bc079633705"
  }
}"""
EXAMPLE_CUSTOMER = 123456


def published_example(**ours: Any) -> dict[str, Any]:
    """The example as published; `ours` replaces the fields that name the auction action
    (handle, action_definition_id) and adds our action's properties beside the example's."""
    body = json.loads(PUBLISHED_EXAMPLE.replace("{shop}", SHOP.removesuffix(".myshopify.com")))
    properties = ours.pop("properties", {})
    body.update(ours)
    body["properties"].update(properties)
    return dict(body)


class TestShopifysPublishedExample:
    async def test_the_example_as_published_is_verified_then_refused_as_another_apps_action(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Signed as Flow signs it, the example passes shopify_app's verification and the
        envelope checks (its shop is ours), and is refused for naming an action this URL does
        not run: 400 `wrong_action` on both URLs, nothing written."""
        await create_customer(shop, shopify_customer_id=EXAMPLE_CUSTOMER)
        raw = PUBLISHED_EXAMPLE.replace("{shop}", SHOP.removesuffix(".myshopify.com")).encode()
        for url in (POINTS, CUSTOM):
            response = await post(client, url, raw)
            assert (response.status_code, code_of(response)) == (400, "wrong_action"), url
            assert "'place-auction-bid'" in response.json()["errors"][0]["detail"]
        assert await nothing_written()

    async def test_its_envelope_carrying_our_award_points_action_awards_once(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """The example's own envelope values (shop_id "1", action run id
        "xxxx-xxxx-xxxx-xxxx", action_definition_id a title, a customer id as a string, the
        unknown `amount` and `step_reference` properties) with our handle and fields: 200 and
        the award; Flow retrying the same run awards nothing more."""
        customer = await create_customer(shop, shopify_customer_id=EXAMPLE_CUSTOMER)
        body = published_example(
            handle=POINTS_HANDLE,
            action_definition_id="Award loyalty points",
            properties={"points": 30, "reason": "Placed a bid"},
        )
        assert body["action_run_id"] == "xxxx-xxxx-xxxx-xxxx" and body["shop_id"] == "1"
        first = await post(client, POINTS, body)
        assert first.status_code == 200, first.text
        assert first.json()["data"]["id"] == "xxxx-xxxx-xxxx-xxxx"
        assert first.json()["data"]["attributes"]["points"] == 30
        again = await post(client, POINTS, body)
        assert again.status_code == 200 and again.json()["data"]["attributes"]["replayed"] is True
        await customer.refresh_from_db()
        assert customer.points_balance == 30
        assert await EarningHistoryEntry.filter(customer_id=customer.id).count() == 1

    async def test_its_envelope_carrying_our_custom_action_awards_the_rule(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        customer = await create_customer(shop, shopify_customer_id=EXAMPLE_CUSTOMER)
        body = published_example(
            handle=CUSTOM_HANDLE,
            action_definition_id="Award a loyalty custom action",
            properties={"action_key": "quiz_completed"},
        )
        response = await post(client, CUSTOM, body)
        assert response.status_code == 200, response.text
        await customer.refresh_from_db()
        assert customer.points_balance == 50
