"""POST /api/v1/actions: custom actions, once or repeatable with a cap, retry-safe with
idempotency keys."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from loyalty.clock import utcnow
from loyalty.models import (
    Activity,
    ActorType,
    Customer,
    EarningHistoryEntry,
    EarningRule,
    IdempotencyRecord,
    OutboxIntent,
)
from tests.web.public_api.helpers import Api, World, error_of


def quiz(**extra: object) -> dict[str, object]:
    return {"action_key": "quiz_completed", "customer_id": 6789012345, **extra}


def review(**extra: object) -> dict[str, object]:
    return {"action_key": "review_written", "customer_email": "ann@example.com", **extra}


async def entries(world: World) -> int:
    return await EarningHistoryEntry.filter(customer_id=world.ann.id).count()


class TestAwardCustomAction:
    async def test_awards_and_says_plainly_what_happened(self, api: Api, world: World) -> None:
        """201 with `result: awarded`, the points, the new balance, metadata, `replayed: false`."""
        response = await api.post("/actions", quiz(metadata={"quiz": "skin type", "score": 7}))
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["type"] == "earning_history_entry" and data["id"].startswith("cer_")
        attributes = data["attributes"]
        assert attributes["result"] == "awarded" and attributes["status"] == "approved"
        assert attributes["action"] == "custom" and attributes["action_key"] == "quiz_completed"
        assert (attributes["points"], attributes["points_balance"]) == (50, 50)
        assert attributes["replayed"] is False and attributes["idempotency_key"] is None
        assert attributes["metadata"] == {"quiz": "skin type", "score": 7}
        assert attributes["earning_rule_id"] == world.quiz.public_id
        entry = await EarningHistoryEntry.get(public_id=data["id"])
        assert entry.metadata == {"quiz": "skin type", "score": 7}
        activity = await Activity.get(customer_id=world.ann.id, kind="points_awarded")
        assert activity.actor_type == ActorType.API_KEY
        assert await OutboxIntent.filter(customer_id=world.ann.id).exists()

    async def test_the_tier_multiplier_applies_and_email_identifies(
        self, api: Api, world: World
    ) -> None:
        """Bob (Gold ×1.50) by email: 50 × 1.5 = 75 points."""
        response = await api.post(
            "/actions", {"action_key": "quiz_completed", "customer_email": "BOB@example.com"}
        )
        attributes = response.json()["data"]["attributes"]
        assert (attributes["points"], attributes["base_points"]) == (75, 50)
        assert attributes["points_multiplier"] == 1.5 and attributes["points_balance"] == 1275

    async def test_an_approval_time_makes_it_pending(self, api: Api, world: World) -> None:
        """With an approval time the result is `pending` and the balance does not move yet."""
        await EarningRule.filter(id=world.quiz.id).update(approval_time_days=14)
        response = await api.post("/actions", quiz())
        attributes = response.json()["data"]["attributes"]
        assert attributes["result"] == "pending" and attributes["points_given_at"] is None
        assert attributes["points_due_at"] is not None and attributes["points_balance"] == 0
        customer = await Customer.get(id=world.ann.id)
        assert (customer.points_balance, customer.pending_points) == (0, 50)

    async def test_once_per_customer_is_409_already_awarded(self, api: Api, world: World) -> None:
        """A second completion of a once-per-customer action, even with a new key: 409."""
        first = await api.post("/actions", quiz(idempotency_key="a-1"))
        second = await api.post("/actions", quiz(idempotency_key="a-2"))
        assert first.status_code == 201
        assert second.status_code == 409
        assert error_of(second)["code"] == "already_awarded"
        assert await entries(world) == 1

    async def test_a_repeatable_action_stops_at_its_cap_in_the_period(
        self, api: Api, world: World
    ) -> None:
        """2 per 7 days: the third is 409 limit_reached with the date the next one is possible."""
        assert (await api.post("/actions", review())).status_code == 201
        assert (await api.post("/actions", review())).status_code == 201
        third = await api.post("/actions", review())
        assert third.status_code == 409
        error = error_of(third)
        assert error["code"] == "limit_reached"
        assert error["meta"]["next_available_at"].endswith("Z")
        assert await entries(world) == 2

    async def test_the_period_is_rolling(self, api: Api, world: World) -> None:
        """Awards older than the period no longer count against the cap."""
        await api.post("/actions", review())
        await api.post("/actions", review())
        await EarningHistoryEntry.filter(customer_id=world.ann.id).update(
            created_at=utcnow() - timedelta(days=8)
        )
        assert (await api.post("/actions", review())).status_code == 201

    async def test_a_cap_without_a_period_counts_for_ever(self, api: Api, world: World) -> None:
        """limit_count without limit_period_days: at most that many, ever."""
        await EarningRule.filter(id=world.review.id).update(limit_count=1, limit_period_days=None)
        await api.post("/actions", review())
        await EarningHistoryEntry.filter(customer_id=world.ann.id).update(
            created_at=utcnow() - timedelta(days=800)
        )
        refused = await api.post("/actions", review())
        assert refused.status_code == 409
        assert error_of(refused)["meta"] == {"next_available_at": None}

    async def test_an_uncapped_repeatable_action_awards_every_time(
        self, api: Api, world: World
    ) -> None:
        """Repeatable without a cap: every completion (with a fresh key) earns."""
        await EarningRule.filter(id=world.review.id).update(
            limit_count=None, limit_period_days=None
        )
        for n in range(4):
            assert (await api.post("/actions", review(idempotency_key=f"r-{n}"))).status_code == 201
        assert (await Customer.get(id=world.ann.id)).points_balance == 40

    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"action_key": "nope", "customer_id": 6789012345}, 404, "custom_action_not_found"),
            (
                {"action_key": "follow_on_instagram", "customer_id": 6789012345},
                404,
                "custom_action_not_found",
            ),
            ({"action_key": "quiz_completed", "customer_id": 1}, 404, "customer_not_found"),
            (
                {"action_key": "quiz_completed", "customer_email": "x@y.z"},
                404,
                "customer_not_found",
            ),
            ({"action_key": "quiz_completed"}, 400, "missing_field"),
            ({"customer_id": 6789012345}, 400, "missing_field"),
            ({"action_key": "Quiz Completed", "customer_id": 6789012345}, 400, "invalid_field"),
            (
                {"action_key": "quiz_completed", "customer_id": 1, "metadata": [1]},
                400,
                "invalid_field",
            ),
        ],
    )
    async def test_refusals_name_the_reason_and_write_nothing(
        self, api: Api, world: World, body: dict[str, object], status: int, code: str
    ) -> None:
        """Unknown actions and customers, missing or malformed fields: a stable code, no write."""
        response = await api.post("/actions", body)
        assert response.status_code == status
        assert error_of(response)["code"] == code
        assert not await EarningHistoryEntry.all().exists()

    async def test_an_inactive_action_is_404(self, api: Api, world: World) -> None:
        """A deactivated custom action cannot be awarded."""
        await EarningRule.filter(id=world.quiz.id).update(is_active=False)
        response = await api.post("/actions", quiz())
        assert response.status_code == 404
        assert error_of(response)["code"] == "custom_action_inactive"

    async def test_an_excluded_customer_is_403(self, api: Api, world: World) -> None:
        """Excluded customers earn nothing: 403 customer_excluded."""
        await Customer.filter(id=world.ann.id).update(is_excluded=True, excluded_by="api")
        response = await api.post("/actions", quiz())
        assert response.status_code == 403
        assert error_of(response)["code"] == "customer_excluded"


class TestIdempotency:
    async def test_a_repeat_replays_the_stored_response_and_awards_once(
        self, api: Api, world: World
    ) -> None:
        """Same key, same body: 200, the first response with `replayed: true`, one award."""
        headers = {"Idempotency-Key": "9b2f-retry-1"}
        first = await api.post("/actions", review(), headers=headers)
        again = await api.post("/actions", review(), headers=headers)
        assert (first.status_code, again.status_code) == (201, 200)
        replay = again.json()
        assert replay["data"]["attributes"].pop("replayed") is True
        original = first.json()
        assert original["data"]["attributes"].pop("replayed") is False
        assert replay == original
        assert again.headers["idempotent-replayed"] == "true"
        assert await entries(world) == 1
        assert (await Customer.get(id=world.ann.id)).points_balance == 10

    async def test_the_body_field_works_like_the_header(self, api: Api, world: World) -> None:
        """`idempotency_key` in the body is the same key as the header."""
        first = await api.post("/actions", review(idempotency_key="k-1"))
        again = await api.post("/actions", review(), headers={"Idempotency-Key": "k-1"})
        assert again.status_code == 200 and again.json()["data"]["id"] == first.json()["data"]["id"]
        assert first.json()["data"]["attributes"]["idempotency_key"] == "k-1"

    async def test_a_replay_holds_even_when_the_cap_is_reached(
        self, api: Api, world: World
    ) -> None:
        """The stored response comes back even after the cap has since been reached."""
        first = await api.post("/actions", review(idempotency_key="k-a"))
        await api.post("/actions", review(idempotency_key="k-b"))
        again = await api.post("/actions", review(idempotency_key="k-a"))
        assert again.status_code == 200
        assert again.json()["data"]["id"] == first.json()["data"]["id"]

    async def test_the_same_key_with_a_different_body_is_409(self, api: Api, world: World) -> None:
        """Reusing a key for another request: 409 idempotency_key_reused, nothing awarded."""
        await api.post("/actions", review(idempotency_key="k-2"))
        other = await api.post("/actions", review(idempotency_key="k-2", metadata={"stars": 5}))
        assert other.status_code == 409
        assert error_of(other)["code"] == "idempotency_key_reused"
        assert await entries(world) == 1

    async def test_header_and_field_must_agree(self, api: Api, world: World) -> None:
        """Two different keys in one request: 400."""
        response = await api.post(
            "/actions", review(idempotency_key="one"), headers={"Idempotency-Key": "two"}
        )
        assert response.status_code == 400
        assert error_of(response)["code"] == "idempotency_key_mismatch"

    async def test_an_invalid_header_is_400(self, api: Api, world: World) -> None:
        """A key with spaces or over 255 characters is refused."""
        spaced = await api.post("/actions", review(), headers={"Idempotency-Key": "a b"})
        long = await api.post("/actions", review(), headers={"Idempotency-Key": "k" * 256})
        assert (spaced.status_code, long.status_code) == (400, 400)

    async def test_concurrent_requests_with_one_key_award_once(
        self, api: Api, world: World
    ) -> None:
        """Ten at once with one key: one 201, nine replays of it (200); one entry, one record."""
        responses = await asyncio.gather(
            *(
                api.post("/actions", review(), headers={"Idempotency-Key": "burst"})
                for _ in range(10)
            )
        )
        assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
        assert len({r.json()["data"]["id"] for r in responses}) == 1
        assert await entries(world) == 1
        assert await IdempotencyRecord.filter(key="burst").count() == 1
        assert (await Customer.get(id=world.ann.id)).points_balance == 10

    async def test_a_failed_request_stores_nothing_and_can_be_retried(
        self, api: Api, world: World
    ) -> None:
        """A 404 keeps no record: once the action is active, the same key awards."""
        await EarningRule.filter(id=world.quiz.id).update(is_active=False)
        refused = await api.post("/actions", quiz(), headers={"Idempotency-Key": "later"})
        await EarningRule.filter(id=world.quiz.id).update(is_active=True)
        retried = await api.post("/actions", quiz(), headers={"Idempotency-Key": "later"})
        assert (refused.status_code, retried.status_code) == (404, 201)

    async def test_keys_are_per_shop(self, api: Api, world: World) -> None:
        """Another shop may use the same key for its own request."""
        from loyalty.models import RuleCategory
        from tests.factories import create_api_key, create_customer, create_rule, create_shop

        other = await create_shop()
        other_key = (await create_api_key(other)).secret
        await create_rule(
            other, category=RuleCategory.CUSTOM, action_key="quiz_completed", points=5
        )
        await create_customer(other, shopify_customer_id=42)
        mine = await api.post("/actions", quiz(), headers={"Idempotency-Key": "shared"})
        theirs = await api.post(
            "/actions",
            {"action_key": "quiz_completed", "customer_id": 42},
            key=other_key,
            headers={"Idempotency-Key": "shared"},
        )
        assert (mine.status_code, theirs.status_code) == (201, 201)
