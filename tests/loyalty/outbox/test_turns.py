"""One live run per job and shop (loyalty.outbox.leases.take_turn): a second run ends at once and
the live one takes its work, a lapsed turn is taken over. Real databases throughout."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from loyalty.clock import utcnow
from loyalty.outbox import leases
from loyalty.settings import Settings
from loyalty.sync.batch import IMMEDIATE, SyncRun, run_sync
from tests.factories import create_customer, create_rule
from tests.loyalty.outbox.test_runs import JOB, owed
from tests.loyalty.sync.harness import award, connected_shop


class TestTakeTurn:
    async def test_one_holder_at_a_time_extended_by_it_taken_once_lapsed(
        self, settings: Settings
    ) -> None:
        shop = await connected_shop(settings)

        async def take(token: str) -> bool:
            return await leases.take_turn(job=JOB, shop_id=shop.id, token=token, now=utcnow())

        with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
            assert await take("a")
            assert not await take("b")
            traveller.shift(leases.TURN_FOR / 2)
            assert await take("a")  # extended by its holder …
            traveller.shift(leases.TURN_FOR * 0.75)
            assert not await take("b")  # … so still live past the first expiry
            traveller.shift(leases.TURN_FOR)
            assert await take("b")  # lapsed (its holder died): taken over
            assert not await take("a")

    async def test_released_with_the_runs_leases(self, settings: Settings) -> None:
        shop = await connected_shop(settings)
        assert await leases.take_turn(job=JOB, shop_id=shop.id, token="a", now=utcnow())
        await leases.release(job=JOB, shop_id=shop.id, token="a")
        assert await leases.take_turn(job=JOB, shop_id=shop.id, token="b", now=utcnow())


class TestOneRunAtATime:
    async def test_a_second_run_ends_at_once_and_the_live_one_takes_its_work(
        self, settings: Settings
    ) -> None:
        """While run A delivers a customer, a change for another customer starts run B (its
        job's next id): B ends at once, doing nothing, and A delivers both."""
        shop = await connected_shop(settings)
        first, _ = await owed(shop, settings)
        delivered: list[int] = []
        second_run: list[int] = []

        async def deliver(run: SyncRun, keys: list[int]) -> None:
            for intents in (await run.claim(keys)).values():
                await run.delivered(intents)
            delivered.extend(keys)
            if not second_run:
                second = await create_customer(shop)
                await award(shop, await create_rule(shop, points=10), second)
                second_run.append(second.id)
                result = await start(deliver_nothing)
                assert (result.completed, result.next_due) == (0, None)

        async def deliver_nothing(run: SyncRun, keys: list[int]) -> None:
            raise AssertionError(f"a second run delivered {keys}")

        async def start(how):  # type: ignore[no-untyped-def]
            return await run_sync(
                job=JOB,
                shop_id=shop.id,
                shop_label=shop.domain,
                settings=settings,
                deliver=how,
                pacing=IMMEDIATE,
            )

        result = await start(deliver)
        assert delivered == [first, *second_run]
        assert (result.completed, result.next_due) == (2, None)
        assert await leases.take_turn(job=JOB, shop_id=shop.id, token="next", now=utcnow())
