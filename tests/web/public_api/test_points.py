"""`/api/v1/customers/{identifier}/points` (manual adjustments) and `…/earning-history`."""

from __future__ import annotations

import asyncio

import pytest

from loyalty.models import (
    Activity,
    ActorType,
    Customer,
    EarningHistoryEntry,
    EarningStatus,
    OutboxIntent,
)
from tests.web.public_api.helpers import Api, World, error_of


async def lots(customer_id: int) -> list[int]:
    """Each approved lot's points still unspent, oldest first."""
    return [
        int(remaining)
        for remaining in await EarningHistoryEntry.filter(
            customer_id=customer_id, status=EarningStatus.APPROVED, points__gt=0
        )
        .order_by("points_given_at", "id")
        .values_list("points_remaining", flat=True)
    ]


class TestAdjustCustomerPoints:
    async def test_a_credit_is_a_new_lot_recorded_with_the_key_as_actor(
        self, api: Api, world: World
    ) -> None:
        """+250: 200 `points_adjustment`, a ledger entry (a lot), activity by the API key."""
        response = await api.post(
            "/customers/6789012345/points", {"adjustment": 250, "note": "Goodwill"}
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["type"] == "points_adjustment" and data["id"] == "6789012345"
        attributes = data["attributes"]
        assert {
            k: attributes[k]
            for k in ("adjustment", "points_before", "points_after", "current_points", "note")
        } == {
            "adjustment": 250,
            "points_before": 0,
            "points_after": 250,
            "current_points": 250,
            "note": "Goodwill",
        }
        entry = await EarningHistoryEntry.get(public_id=attributes["earning_history_entry_id"])
        assert (entry.action, entry.points, entry.points_remaining) == (
            "manual_adjustment",
            250,
            250,
        )
        assert entry.note == "Goodwill" and entry.metadata["actor_type"] == "api_key"
        assert entry.points_expiry_at is not None  # the shop expires points after 365 days
        activity = await Activity.get(customer_id=world.ann.id, kind="points_adjusted")
        assert activity.actor_type == ActorType.API_KEY and activity.actor_id.startswith("key_")
        customer = await Customer.get(id=world.ann.id)
        assert (customer.points_balance, customer.lifetime_points) == (250, 250)
        assert await OutboxIntent.filter(customer_id=world.ann.id).exists()

    async def test_a_debit_never_takes_the_balance_below_zero(self, api: Api, world: World) -> None:
        """-5000 from 1200: the balance stops at 0 and the response says what was applied."""
        response = await api.post("/customers/6789012346/points", {"adjustment": -5000})
        attributes = response.json()["data"]["attributes"]
        assert (attributes["points_before"], attributes["points_after"]) == (1200, 0)
        assert attributes["applied_adjustment"] == -1200 and attributes["adjustment"] == -5000
        customer = await Customer.get(id=world.bob.id)
        assert customer.points_balance == 0

    async def test_a_debit_spends_lots_oldest_first(self, api: Api, world: World) -> None:
        """Credits of 100, 50, 30 then -120: the first lot is emptied, the second drawn on."""
        for points in (100, 50, 30):
            await api.post("/customers/6789012345/points", {"adjustment": points})
        await api.post("/customers/6789012345/points", {"adjustment": -120})
        assert await lots(world.ann.id) == [0, 30, 30]
        assert (await Customer.get(id=world.ann.id)).points_balance == 60

    async def test_lifetime_points_move_with_it_unless_told_not_to(
        self, api: Api, world: World
    ) -> None:
        """update_lifetime_points defaults to true; false leaves lifetime points alone."""
        await api.post("/customers/6789012345/points", {"adjustment": 100})
        await api.post(
            "/customers/6789012345/points", {"adjustment": 40, "update_lifetime_points": False}
        )
        customer = await Customer.get(id=world.ann.id)
        assert (customer.points_balance, customer.lifetime_points) == (140, 100)

    async def test_the_tier_is_recalculated_up_and_down(self, api: Api, world: World) -> None:
        """+1000 lifts Ann to Gold; -1200 from Bob (lifetime 1200 → 0) takes him to Bronze."""
        await api.post("/customers/6789012345/points", {"adjustment": 1000})
        await api.post("/customers/6789012346/points", {"adjustment": -1200})
        ann = await Customer.get(id=world.ann.id)
        bob = await Customer.get(id=world.bob.id)
        assert ann.vip_tier_id == world.gold.id
        assert bob.vip_tier_id == world.bronze.id
        moved = await Activity.filter(kind="vip_tier_changed").count()
        assert moved == 2

    async def test_an_excluded_customer_is_403_and_nothing_changes(
        self, api: Api, world: World
    ) -> None:
        """Excluded customers cannot be adjusted."""
        await Customer.filter(id=world.ann.id).update(is_excluded=True, excluded_by="staff")
        response = await api.post("/customers/6789012345/points", {"adjustment": 10})
        assert response.status_code == 403
        assert error_of(response)["code"] == "customer_excluded"
        assert not await EarningHistoryEntry.filter(customer_id=world.ann.id).exists()

    @pytest.mark.parametrize(
        "body",
        [{}, {"adjustment": 0}, {"adjustment": 1.5}, {"adjustment": "10"}, {"adjustment": 10**7}],
    )
    async def test_a_missing_zero_or_non_integer_adjustment_is_400(
        self, api: Api, world: World, body: dict[str, object]
    ) -> None:
        """adjustment is a required non-zero integer (at most a million either way)."""
        response = await api.post("/customers/6789012345/points", body)
        assert response.status_code == 400
        assert error_of(response)["source"] == {"pointer": "/adjustment"}

    async def test_unknown_customer_is_404(self, api: Api, world: World) -> None:
        """No such customer: 404."""
        response = await api.post("/customers/nobody@example.com/points", {"adjustment": 5})
        assert response.status_code == 404

    async def test_concurrent_debits_never_overdraw(self, api: Api, world: World) -> None:
        """Ten -200s at once against 1200: six take 200, the rest take 0; the balance is 0."""
        responses = await asyncio.gather(
            *(api.post("/customers/6789012346/points", {"adjustment": -200}) for _ in range(10))
        )
        applied = sorted(r.json()["data"]["attributes"]["applied_adjustment"] for r in responses)
        assert applied == [-200] * 6 + [0] * 4
        assert (await Customer.get(id=world.bob.id)).points_balance == 0


class TestListEarningHistory:
    async def test_lists_the_ledger_newest_first_with_meta(self, api: Api, world: World) -> None:
        """Awards and adjustments, newest first, as `earning_history_entry` resources."""
        await api.post(
            f"/earning-rules/{world.rule.public_id}/award",
            {"customer_identifier": "6789012345"},
        )
        await api.post("/customers/6789012345/points", {"adjustment": 5, "note": "sorry"})
        response = await api.get("/customers/ann@example.com/earning-history")
        assert response.status_code == 200
        body = response.json()
        assert body["meta"] == {"total": 2, "page": 1, "per_page": 20, "total_pages": 1}
        newest, oldest = body["data"]
        assert newest["attributes"]["action"] == "manual_adjustment"
        assert newest["attributes"]["manual_intervention"] is True
        assert newest["attributes"]["note"] == "sorry"
        assert oldest["attributes"]["earning_rule_id"] == world.rule.public_id
        assert oldest["attributes"]["points_multiplier"] == 1.0
        assert oldest["type"] == "earning_history_entry" and oldest["id"].startswith("cer_")

    async def test_filters_by_status_and_sorts_by_points(self, api: Api, world: World) -> None:
        """filter[status] narrows; sort=points orders ascending."""
        for points in (30, 10, 20):
            await api.post("/customers/6789012345/points", {"adjustment": points})
        await EarningHistoryEntry.filter(customer_id=world.ann.id, points=20).update(
            status=EarningStatus.REJECTED
        )
        approved = await api.get(
            "/customers/6789012345/earning-history",
            {"filter[status]": "approved", "sort": "points"},
        )
        assert [e["attributes"]["points"] for e in approved.json()["data"]] == [10, 30]
        rejected = await api.get(
            "/customers/6789012345/earning-history", {"filter[status]": "rejected"}
        )
        assert [e["attributes"]["points"] for e in rejected.json()["data"]] == [20]

    @pytest.mark.parametrize(
        ("params", "parameter"),
        [
            ({"filter[status]": "spent"}, "filter[status]"),
            ({"sort": "note"}, "sort"),
            ({"page[size]": "101"}, "page[size]"),
        ],
    )
    async def test_bad_parameters_are_400(
        self, api: Api, world: World, params: dict[str, str], parameter: str
    ) -> None:
        """Unknown status, sort field or page size: 400 naming the parameter."""
        response = await api.get("/customers/6789012345/earning-history", params)
        assert response.status_code == 400
        assert error_of(response)["source"] == {"parameter": parameter}

    async def test_pages_past_the_end_are_empty(self, api: Api, world: World) -> None:
        """Page 3 of a one-page ledger: empty data, meta intact."""
        await api.post("/customers/6789012345/points", {"adjustment": 5})
        response = await api.get("/customers/6789012345/earning-history", {"page[number]": "3"})
        assert response.json() == {
            "data": [],
            "meta": {"total": 1, "page": 3, "per_page": 20, "total_pages": 1},
        }

    async def test_unknown_customer_is_404(self, api: Api, world: World) -> None:
        """No such customer: 404."""
        response = await api.get("/customers/1/earning-history")
        assert response.status_code == 404
