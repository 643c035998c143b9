"""The lifecycle schedulers: jobs queued deferred to when work falls due, under stable ids (so a
second pass queues nothing new), and never for an uninstalled shop."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from loyalty.jobs import JobName
from loyalty.lifecycle.schedule import schedule_approvals, schedule_expiry, schedule_occasions
from loyalty.models import RuleCategory
from tests.factories import create_customer, create_rule, create_shop
from tests.loyalty.lifecycle.entries import lot, pending_entry

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class RecordingQueue:
    """A JobQueue that records, with arq's rule that a repeated id is not queued twice."""

    jobs: dict[str, tuple[JobName, float, dict[str, Any]]] = field(default_factory=dict)

    async def enqueue(
        self, job: JobName, *, job_id: str, defer_seconds: float = 0, **kwargs: Any
    ) -> None:
        self.jobs.setdefault(job_id, (job, defer_seconds, kwargs))


class TestScheduleApprovals:
    async def test_due_now_and_due_soon_are_queued_deferred_with_stable_ids(self, db: str) -> None:
        shop = await create_shop()
        customer = await create_customer(shop)
        await pending_entry(customer, due=NOW - timedelta(minutes=5))
        await pending_entry(customer, due=NOW + timedelta(seconds=30))
        await pending_entry(customer, due=NOW + timedelta(hours=2))  # past the horizon
        queue = RecordingQueue()

        await schedule_approvals(queue, horizon=90, now=NOW)
        first = dict(queue.jobs)
        await schedule_approvals(queue, horizon=90, now=NOW)

        assert queue.jobs == first  # the second pass queued nothing new
        defers = sorted(defer for _, defer, _ in first.values())
        assert defers[0] == 0 and 30 <= defers[1] <= 32
        assert len(first) == 2
        assert all(job is JobName.APPROVE_POINTS for job, _, _ in first.values())
        assert all(kwargs == {"shop_id": shop.id} for _, _, kwargs in first.values())

    async def test_uninstalled_shops_are_skipped(self, db: str) -> None:
        shop = await create_shop(uninstalled_at=NOW)
        customer = await create_customer(shop)
        await pending_entry(customer, due=NOW - timedelta(minutes=5))
        queue = RecordingQueue()
        assert await schedule_approvals(queue, horizon=90, now=NOW) == 0
        assert queue.jobs == {}


class TestScheduleExpiry:
    async def test_lots_past_due_soon_and_notices_owed(self, db: str) -> None:
        expiring = await create_shop()
        await lot(await create_customer(expiring), expires=NOW - timedelta(hours=1))
        noticed = await create_shop()
        await lot(await create_customer(noticed), expires=NOW + timedelta(days=3))
        gone = await create_shop(uninstalled_at=NOW)
        await lot(await create_customer(gone), expires=NOW - timedelta(hours=1))
        queue = RecordingQueue()

        await schedule_expiry(queue, horizon=1350, now=NOW)

        shops = {kwargs["shop_id"] for job, _, kwargs in queue.jobs.values()}
        assert shops == {expiring.id, noticed.id}
        assert all(job is JobName.EXPIRE_POINTS for job, _, _ in queue.jobs.values())


class TestScheduleOccasions:
    async def test_one_job_per_shop_per_hour(self, db: str) -> None:
        shop = await create_shop()
        await create_rule(shop, action="birthday", category=RuleCategory.BIRTHDAY)
        await create_customer(shop, date_of_birth=date(1990, 6, 1))
        no_rule = await create_shop()
        gone = await create_shop(uninstalled_at=NOW)
        await create_rule(gone, action="birthday", category=RuleCategory.BIRTHDAY)
        queue = RecordingQueue()

        await schedule_occasions(queue, now=NOW)
        await schedule_occasions(queue, now=NOW + timedelta(minutes=30))
        await schedule_occasions(queue, now=NOW + timedelta(hours=1))

        assert sorted(queue.jobs) == [
            f"award_occasions:{shop.id}:2026060112",
            f"award_occasions:{shop.id}:2026060113",
        ]
        assert no_rule.id not in {k["shop_id"] for _, _, k in queue.jobs.values()}
