"""CostBudget: Admin GraphQL calls paced by the cost data Shopify reports."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty.shopify.cost import CostBudget


def report(available: float, *, requested: float = 10, restore: float = 100) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": 1000.0,
                "currentlyAvailable": available,
                "restoreRate": restore,
            },
        }
    }


class TestCostBudget:
    def test_nothing_waits_before_shopify_has_reported(self) -> None:
        assert CostBudget().reserve(1) == 0.0

    def test_waits_for_the_bucket_to_cover_the_next_call(self) -> None:
        """15 points left, calls cost 10, 100 restored a second: one goes now, the next
        waits 50 ms, the one after 150 ms."""
        now = [0.0]
        budget = CostBudget(clock=lambda: now[0])
        budget.reserve(1)
        budget.settle(1, report(15))
        assert budget.reserve(1) == 0.0
        assert budget.reserve(1) == pytest.approx(0.05)
        assert budget.reserve(1) == pytest.approx(0.15)
        now[0] += 1.0  # a second restores 100 points
        budget.settle(1, None)
        budget.settle(1, None)
        budget.settle(1, None)
        assert budget.reserve(1) == 0.0

    def test_calls_in_flight_are_taken_off_a_new_report(self) -> None:
        """Shopify's figure does not count calls it has not received yet."""
        now = [0.0]
        budget = CostBudget(clock=lambda: now[0])
        budget.reserve(1)
        budget.settle(1, report(100))
        for _ in range(5):
            budget.reserve(1)  # 50 points sent, none answered
        budget.settle(1, report(95))  # one answered; four still in flight
        assert budget.reserve(1) == 0.0  # 95 − 40 − 10 = 45 left
        waits = [budget.reserve(1) for _ in range(5)]
        assert waits[3] == 0.0 and waits[4] == pytest.approx(0.05)

    def test_shops_are_separate(self) -> None:
        budget = CostBudget(clock=lambda: 0.0)
        budget.reserve(1)
        budget.settle(1, report(0))
        assert budget.reserve(1) > 0 and budget.reserve(2) == 0.0

    def test_a_report_without_cost_data_keeps_the_estimate(self) -> None:
        budget = CostBudget(clock=lambda: 0.0)
        budget.settle(1, {"cost": {}})
        assert not budget.knows(1)

    def test_calls_sent_before_the_first_report_count_against_it(self) -> None:
        """A first burst goes unpaced, but the first report takes the rest of it off."""
        budget = CostBudget(clock=lambda: 0.0)
        for _ in range(3):
            assert budget.reserve(1) == 0.0
        budget.settle(1, report(25))  # two of the three still in flight: 25 − 20 = 5 left
        assert budget.reserve(1) == pytest.approx(0.05)

    def test_a_report_without_the_calls_cost_keeps_the_last_known_cost(self) -> None:
        """A throttle status without `requestedQueryCost` must not shrink the estimate to 1
        point: ten 10-point calls on 50 points left still wait for the bucket."""
        now = [0.0]
        budget = CostBudget(clock=lambda: now[0])
        budget.reserve(1)
        budget.settle(1, report(1000))
        budget.reserve(1)
        status_only = report(50)
        del status_only["cost"]["requestedQueryCost"]
        budget.settle(1, status_only)
        waits = [budget.reserve(1) for _ in range(10)]
        assert waits[4] == 0.0 and waits[5] == pytest.approx(0.1)
