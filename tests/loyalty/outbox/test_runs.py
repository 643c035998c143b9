"""A sync run's hold on its work: owned claims (only the holder ends or releases them), leases
(one run per customer and job), the double release that used to lose events, time-budget
hand-backs that count no attempt, and a run's ending surviving a dropped database connection.
Real databases throughout; the platforms are respx stand-ins."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import respx
import time_machine

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.jobs.sweep import sweep
from loyalty.models import EventDelivery, IntentOutcome, OutboxIntent, Platform, Shop, SyncLease
from loyalty.outbox import claims, leases
from loyalty.outbox.claims import ClaimedIntent
from loyalty.outbox.dispatch import LAPSED_LEASE_KEPT
from loyalty.settings import Settings
from loyalty.sync import marketing
from loyalty.sync.batch import CLAIM_FOR, IMMEDIATE, SyncRun
from loyalty.sync.deps import JobDeps
from loyalty.sync.events import events_for_intents
from tests.factories import create_customer, create_rule
from tests.loyalty.sync.harness import RecordingQueue, award, connected_shop, enable, run_job

OMNISEND = "https://api.omnisend.com/api"
KLAVIYO = "https://a.klaviyo.com"
JOB = JobName.SYNC_OMNISEND_CONTACTS


def new_run(shop: Shop, settings: Settings, *, job: JobName = JOB) -> SyncRun:
    return SyncRun(
        job=job,
        shop_id=shop.id,
        shop_label=shop.domain,
        window=timedelta(seconds=settings.outbox_retry_window),
        deadline=time.monotonic() + 60,
    )


async def owed(shop: Shop, settings: Settings) -> tuple[int, OutboxIntent]:
    """A customer with one award owed to Omnisend: (customer id, the intent)."""
    await enable(settings, shop, Platform.OMNISEND)
    customer = await create_customer(shop)
    await award(shop, await create_rule(shop, points=10), customer)
    return customer.id, await OutboxIntent.get(customer_id=customer.id, job=str(JOB))


class TestOwnedClaims:
    async def test_only_the_holder_can_end_or_release_a_claim(self, settings: Settings) -> None:
        """Complete, hand back, fail, dead-letter and release by another token change
        nothing: the holder's claim, lease and the intent stay as they were."""
        shop = await connected_shop(settings)
        customer_id, intent = await owed(shop, settings)
        run = new_run(shop, settings)
        assert await run.lease(IMMEDIATE) == [customer_id]
        [claimed] = (await run.claim([customer_id]))[customer_id]
        before = await OutboxIntent.get(id=intent.id)
        now = utcnow()
        intruder = "not-the-holder"

        assert (
            await claims.complete(
                token=intruder, ids=[intent.id], outcome=IntentOutcome.DELIVERED, now=now
            )
            == 0
        )
        assert await claims.hand_back(token=intruder, ids=[intent.id], retry_at=now) == 0
        window = timedelta(0)  # would dead-letter at once, were it the holder
        assert (
            await claims.fail(
                token=intruder, ids=[intent.id], error="x", retry_at=now, now=now, window=window
            )
            == []
        )
        assert await claims.dead_letter(token=intruder, ids=[intent.id], error="x", now=now) == 0
        assert await claims.renew(token=intruder, ids=[intent.id], until=now) == 0
        assert await leases.release(job=JOB, shop_id=shop.id, token=intruder) == 0

        after = await OutboxIntent.get(id=intent.id)
        assert (after.claimed_by, after.claimed_until) == (run.token, before.claimed_until)
        assert (after.completed_at, after.attempts, after.last_error) == (None, 0, None)
        [lease] = await SyncLease.filter(shop_id=shop.id)
        assert lease.holder == run.token

        await run.delivered([claimed])
        done = await OutboxIntent.get(id=intent.id)
        assert done.outcome == IntentOutcome.DELIVERED and done.claimed_by is None

    async def test_a_run_never_holds_an_intent_twice(self, settings: Settings) -> None:
        shop = await connected_shop(settings)
        customer_id, intent = await owed(shop, settings)
        run = new_run(shop, settings)
        await run.lease(IMMEDIATE)
        first = await run.claim([customer_id])
        again = await run.claim([customer_id])
        assert [i.id for i in first[customer_id]] == [intent.id]
        assert again == {} and list(run.open) == [intent.id]


class TestLeases:
    async def test_a_live_lease_is_never_taken_and_a_lapsed_one_is(
        self, settings: Settings
    ) -> None:
        """Run B cannot lease a customer run A holds; once A's lease lapsed (A died or
        stalled) B takes it, and A, renewing, learns it lost the customer and ends nothing."""
        shop = await connected_shop(settings)
        customer_id, intent = await owed(shop, settings)
        a, b = new_run(shop, settings), new_run(shop, settings)
        with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
            assert await a.lease(IMMEDIATE) == [customer_id]
            [held] = (await a.claim([customer_id]))[customer_id]
            assert await b.lease(IMMEDIATE) == []

            traveller.shift(CLAIM_FOR + timedelta(seconds=1))
            assert await b.lease(IMMEDIATE) == [customer_id]
            assert [i.id for i in (await b.claim([customer_id]))[customer_id]] == [intent.id]
            await a.renew(force=True)
            assert not a.holds(customer_id) and a.open == {}
            await a.delivered([held])  # no longer A's: nothing happens
            assert (await OutboxIntent.get(id=intent.id)).claimed_by == b.token
            await a.end()
            [lease] = await SyncLease.filter(shop_id=shop.id)
            assert lease.holder == b.token

    async def test_leases_are_per_customer_so_runs_share_a_shops_work(
        self, settings: Settings
    ) -> None:
        shop = await connected_shop(settings)
        first, _ = await owed(shop, settings)
        second = await create_customer(shop)
        await award(shop, await create_rule(shop, points=5), second)
        a, b = new_run(shop, settings), new_run(shop, settings)
        assert await a.lease(IMMEDIATE, limit=1) == [first]
        assert await b.lease(IMMEDIATE, limit=1) == [second.id]

    async def test_the_sweep_deletes_a_lease_a_dead_run_left_behind(
        self, settings: Settings
    ) -> None:
        shop = await connected_shop(settings)
        await owed(shop, settings)
        dead = new_run(shop, settings)
        await dead.lease(IMMEDIATE)  # … and the run dies: it never ends
        later = datetime.now(UTC) + CLAIM_FOR + LAPSED_LEASE_KEPT + timedelta(seconds=1)
        await sweep(RecordingQueue(), grace=timedelta(0))
        assert await SyncLease.filter(shop_id=shop.id).count() == 1  # still live: kept
        with time_machine.travel(later, tick=False):
            await sweep(RecordingQueue(), grace=timedelta(0))
        assert await SyncLease.filter(shop_id=shop.id).count() == 0


class TestDoubleRelease:
    async def test_the_issues_sequence_loses_no_event(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """Issue 13's sequence: run 1 hands its batch back, run 2 claims it, run 1's second
        release of the same batch arrives (process.py after batch.py). It no longer clears
        run 2's claim, run 2 never holds the intent twice, and the event is sent once."""
        shop = await connected_shop(settings)
        customer_id, intent = await owed(shop, settings)
        first = new_run(shop, settings)
        await first.lease(IMMEDIATE)
        await first.claim([customer_id])
        await first.end()  # the batch handed back

        second = new_run(shop, settings)
        assert await second.lease(IMMEDIATE) == [customer_id]
        claimed = (await second.claim([customer_id]))[customer_id]
        first.open = {i.id: i for i in claimed}  # run 1 still believes it holds the batch
        first.leased = {customer_id}
        await first.end()  # … and releases it a second time

        row = await OutboxIntent.get(id=intent.id)
        assert row.claimed_by == second.token and row.claimed_until and row.claimed_until > utcnow()
        assert await SyncLease.filter(shop_id=shop.id, holder=second.token).count() == 1
        assert await second.claim([customer_id]) == {}  # not claimed a second time
        events = await events_for_intents(shop_id=shop.id, intents=[*claimed, *claimed])
        assert len(events[intent.id]) == 1
        await second.end()

        with respx.mock(assert_all_called=True) as mock:
            mock.post(f"{OMNISEND}/contacts").mock(
                return_value=httpx.Response(200, json={"id": "1"})
            )
            sent = mock.post(f"{OMNISEND}/events").mock(return_value=httpx.Response(202))
            assert await run_job(JOB, deps, shop) == 1
            assert await run_job(JOB, deps, shop) == 0
        assert sent.call_count == 1

    async def test_an_intent_listed_twice_keeps_its_events(self, settings: Settings) -> None:
        """events_for_intents builds each intent's list once: a repeat of the intent (a
        second claim of it) can never replace its events with an empty list."""
        shop = await connected_shop(settings)
        customer_id, intent = await owed(shop, settings)
        one = ClaimedIntent(intent.id, customer_id, intent.payload, 0)
        events = await events_for_intents(shop_id=shop.id, intents=[one, one])
        assert [e.kind for e in events[intent.id]] == ["points_earned"]


class TestHandBack:
    async def test_a_run_out_of_time_hands_back_at_once_and_counts_no_attempt(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """The time budget ends after the first customer: the others are due again at once
        (next_due now), never counted as attempts, and the next run delivers them."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.OMNISEND)
        rule = await create_rule(shop, points=10)
        customers = [await create_customer(shop) for _ in range(3)]
        for customer in customers:
            await award(shop, rule, customer)

        async def slow_contact(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.2)  # the run's budget (0.1 s) runs out here
            return httpx.Response(200, json={"id": "1"})

        with respx.mock(assert_all_called=True) as mock:
            mock.post(f"{OMNISEND}/contacts").mock(side_effect=slow_contact)
            sent = mock.post(f"{OMNISEND}/events").mock(return_value=httpx.Response(202))
            result = await marketing.sync(deps, Platform.OMNISEND, shop.id, budget=0.1)
            assert result.completed == 1
            assert result.next_due is not None and result.next_due <= utcnow()
            left = await OutboxIntent.filter(shop_id=shop.id, job=str(JOB), completed_at=None)
            assert len(left) == 2
            assert all(i.attempts == 0 and i.claimed_by is None for i in left)
            assert all(i.claimed_until is None or i.claimed_until <= utcnow() for i in left)
            assert await SyncLease.filter(shop_id=shop.id).count() == 0
            assert (await marketing.sync(deps, Platform.OMNISEND, shop.id)).completed == 2
        assert sent.call_count == 3

    async def test_a_stopping_process_finishes_the_customer_in_hand_and_hands_back_the_rest(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        """The process is told to stop (a worker's SIGTERM) while the first customer's event is
        in flight: that request completes and is recorded; the other customers are left due,
        with no attempt counted, for the next process. Nothing is cut mid-request."""
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.OMNISEND)
        rule = await create_rule(shop, points=10)
        customers = [await create_customer(shop) for _ in range(3)]
        for customer in customers:
            await award(shop, rule, customer)

        async def stop_while_in_flight(request: httpx.Request) -> httpx.Response:
            deps.stopping.request()  # SIGTERM arrives while the platform holds the request
            await asyncio.sleep(0.05)
            return httpx.Response(202)

        with respx.mock(assert_all_called=True) as mock:
            mock.post(f"{OMNISEND}/contacts").mock(return_value=httpx.Response(200, json={}))
            sent = mock.post(f"{OMNISEND}/events").mock(side_effect=stop_while_in_flight)
            result = await marketing.sync(deps, Platform.OMNISEND, shop.id)
        assert result.completed == 1 and sent.call_count == 1
        assert await EventDelivery.filter(shop_id=shop.id, status="accepted").count() == 1
        left = await OutboxIntent.filter(shop_id=shop.id, job=str(JOB), completed_at=None)
        assert len(left) == 2
        assert all(i.attempts == 0 and i.claimed_by is None for i in left)
        assert await SyncLease.filter(shop_id=shop.id).count() == 0


class RowLock:
    """Locks an intent's row from another connection when asked (`take`), then terminates the
    first `kill_waiters` backends that wait on it (the server closing the app's connection
    under a statement) and lets go of the lock."""

    def __init__(self, dsn: str, intent_id: int, *, kill_waiters: int) -> None:
        self._dsn = dsn
        self._intent_id = intent_id
        self._kill_waiters = kill_waiters
        self.killed = 0
        self._killer: asyncio.Task[None] | None = None

    async def take(self) -> None:
        if self._killer is not None:
            return
        self._locker = await asyncpg.connect(self._dsn)
        self._watcher = await asyncpg.connect(self._dsn)
        await self._locker.execute("BEGIN")
        await self._locker.execute(
            "SELECT 1 FROM outbox_intent WHERE id = $1 FOR UPDATE", self._intent_id
        )
        self._killer = asyncio.create_task(self._kill())

    async def _kill(self) -> None:
        while self.killed < self._kill_waiters:
            pid = await self._watcher.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() LIMIT 1"
            )
            if pid:
                await self._watcher.execute("SELECT pg_terminate_backend($1)", pid)
                self.killed += 1
            await asyncio.sleep(0.01)
        await self._locker.execute("ROLLBACK")

    async def close(self) -> None:
        if self._killer is None:
            return
        try:
            await asyncio.wait_for(self._killer, timeout=15)
        finally:
            await self._locker.close()
            await self._watcher.close()


async def run_under_lock(
    deps: JobDeps, shop: Shop, intent: OutboxIntent, db: str, *, kills: int
) -> RowLock:
    """Run the Klaviyo job while Klaviyo answers 503 and the server closes the app's connection
    under the first `kills` statements that touch the intent afterwards."""
    lock = RowLock(
        db.split("?", 1)[0].replace("postgres://", "postgresql://", 1),
        intent.id,
        kill_waiters=kills,
    )

    async def unavailable(request: httpx.Request) -> httpx.Response:
        await lock.take()  # the run holds the intent now; its next write to it will wait
        return httpx.Response(503)

    try:
        with respx.mock(assert_all_called=True) as mock:
            mock.post(f"{KLAVIYO}/api/profile-import").mock(side_effect=unavailable)
            await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)
    finally:
        await lock.close()
    return lock


# The server terminating a backend under a statement is a PostgreSQL scenario.
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
class TestConnectionLoss:
    @pytest.fixture
    async def owed_to_klaviyo(self, settings: Settings, db: str) -> tuple[Shop, OutboxIntent]:
        shop = await connected_shop(settings)
        await enable(settings, shop, Platform.KLAVIYO)
        customer = await create_customer(shop)
        await award(shop, await create_rule(shop, points=10), customer)
        job = JobName.SYNC_KLAVIYO_PROFILES
        return shop, await OutboxIntent.get(customer_id=customer.id, job=job)

    async def test_a_statement_whose_connection_dropped_is_retried_not_surfaced(
        self, deps: JobDeps, db: str, owed_to_klaviyo: tuple[Shop, OutboxIntent]
    ) -> None:
        """The server closes the connection under the statement recording Klaviyo's 503: it
        is run again on a fresh connection, the job ends normally, the work is held for its
        backoff with the 503 as its last error."""
        shop, intent = owed_to_klaviyo
        lock = await run_under_lock(deps, shop, intent, db, kills=1)

        held = await OutboxIntent.get(id=intent.id)
        assert lock.killed == 1
        assert held.claimed_by is None and held.completed_at is None and held.attempts == 1
        assert held.last_error and "503" in held.last_error
        assert held.claimed_until and held.claimed_until < utcnow() + timedelta(minutes=1)
        assert await SyncLease.filter(shop_id=shop.id).count() == 0

    async def test_a_run_whose_connection_drops_twice_still_releases_its_work_at_once(
        self, deps: JobDeps, db: str, owed_to_klaviyo: tuple[Shop, OutboxIntent]
    ) -> None:
        """Closed under that statement and under its retry: the job fails (so it is retried),
        but its claim and lease are released on a fresh connection, the work held for its
        backoff, not left claimed for the two minutes a claim takes to lapse."""
        shop, intent = owed_to_klaviyo
        with pytest.raises(asyncpg.PostgresConnectionError):
            await run_under_lock(deps, shop, intent, db, kills=2)

        held = await OutboxIntent.get(id=intent.id)
        assert held.claimed_by is None and held.completed_at is None and held.attempts == 1
        assert held.claimed_until and held.claimed_until < utcnow() + timedelta(minutes=1)
        assert await SyncLease.filter(shop_id=shop.id).count() == 0
