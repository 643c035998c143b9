"""loyalty.reports.ledger_rollup: the 15-minute sums read from the rollup always equal the
sums over the ledger itself (computed here in Python from every entry), through awards,
held purchases rejected, expiries, backdated and deleted entries, windows reaching past the
rollup and the shop's erasure; on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.customers.compliance import redact_shop
from loyalty.ledger.entries import reject_pending
from loyalty.lifecycle.expiry import expire_due
from loyalty.models import (
    EarningHistoryEntry,
    EarningRule,
    EarningStatus,
    LedgerRollup,
    LedgerRollupState,
    Shop,
)
from loyalty.reports import dashboard
from loyalty.reports.ledger_rollup import BucketSums, bucket_of, window_sums
from tests.factories import create_customer, create_rule, create_shop

_numbers = itertools.count()


async def add_entry(
    shop: Shop,
    rule: EarningRule,
    customer_id: int,
    *,
    points: int,
    created_at: datetime,
    status: EarningStatus = EarningStatus.APPROVED,
    action: str | None = None,
    expires_at: datetime | None = None,
) -> EarningHistoryEntry:
    n = next(_numbers)
    approved = status == EarningStatus.APPROVED and points > 0
    return await EarningHistoryEntry.create(
        public_id=f"cer_rollup_{n}",
        shop_id=shop.id,
        customer_id=customer_id,
        rule_id=rule.id,
        action=action or rule.action,
        base_points=points,
        points_multiplier=Decimal("1.00"),
        points=points,
        points_remaining=points if approved else 0,
        points_expiry_at=expires_at,
        status=status,
        dedupe_key=f"rollup:{n}",
        created_at=created_at,
    )


async def add_expiry(
    shop: Shop, rule: EarningRule, customer_id: int, *, points: int, days_ago: int
) -> None:
    """An expiry entry (negative points, the expiry job's action) from `days_ago` days ago."""
    await add_entry(
        shop,
        rule,
        customer_id,
        points=points,
        created_at=utcnow() - timedelta(days=days_ago),
        action="points_expired",
    )


async def ledger_truth(shop: Shop, start: datetime) -> dict[int, BucketSums]:
    """The sums per bucket straight from every entry, with no SQL aggregate."""
    sums: dict[int, BucketSums] = {}
    for entry in await EarningHistoryEntry.filter(shop_id=shop.id):
        if entry.created_at < start:
            continue
        bucket = bucket_of(entry.created_at)
        issued = entry.points if entry.points > 0 and entry.status != "rejected" else 0
        expired = -entry.points if entry.action == "points_expired" else 0
        old = sums.get(bucket, BucketSums(0, 0))
        sums[bucket] = BucketSums(old.issued + issued, old.expired + expired)
    return {b: s for b, s in sums.items() if s != BucketSums(0, 0)}


async def read(shop: Shop, start: datetime) -> dict[int, BucketSums]:
    found = await window_sums(shop_id=shop.id, start=start)
    return {b: s for b, s in found.items() if s != BucketSums(0, 0)}


def quarter(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


async def top_id() -> int:
    last = await EarningHistoryEntry.all().order_by("-id").first()
    return last.id if last else 0


class TestWindowSums:
    async def test_agrees_with_the_ledger_through_every_kind_of_change(self, db: str) -> None:
        """Read twice (the rollup starts, then takes the window in), change entries below
        and above the watermark, and compare after each change; the rollup is really used."""
        shop, other = await create_shop(), await create_shop()
        rule, other_rule = await create_rule(shop), await create_rule(other)
        ada = await create_customer(shop)
        bob = await create_customer(other)
        now = utcnow()
        start = quarter(now - timedelta(days=29))
        held = []
        for n in range(40):
            at = now - timedelta(days=n % 31, minutes=7 * n)
            status = EarningStatus.PENDING if n % 5 == 0 else EarningStatus.APPROVED
            entry = await add_entry(shop, rule, ada.id, points=10 + n, created_at=at, status=status)
            if status == EarningStatus.PENDING:
                held.append(entry)
        await add_entry(shop, rule, ada.id, points=-30, created_at=now - timedelta(days=2))
        await add_expiry(shop, rule, ada.id, points=-25, days_ago=3)
        await add_entry(other, other_rule, bob.id, points=999, created_at=now)  # another shop

        assert await read(shop, start) == await ledger_truth(shop, start)
        assert await read(shop, start) == await ledger_truth(shop, start)
        state = await LedgerRollupState.get(shop_id=shop.id)
        assert state.watermark == await top_id()  # the window is in the rollup now
        assert await LedgerRollup.filter(shop_id=shop.id).count() > 0

        # A held purchase refunded (rejected), below the watermark.
        await reject_pending(held[1].id, note="refunded", now=now)
        assert await read(shop, start) == await ledger_truth(shop, start)
        # Points and time changed, an entry deleted, all below the watermark.
        await EarningHistoryEntry.filter(id=held[2].id).update(points=77)
        await EarningHistoryEntry.filter(id=held[3].id).update(
            created_at=now - timedelta(days=6, minutes=40)
        )
        await EarningHistoryEntry.filter(id=held[4].id).delete()
        assert await read(shop, start) == await ledger_truth(shop, start)
        # Above the watermark: a backdated entry, new awards, an expiry by the real job.
        await add_entry(shop, rule, ada.id, points=55, created_at=now - timedelta(days=12))
        await add_entry(shop, rule, ada.id, points=5, created_at=utcnow())
        await add_entry(
            shop,
            rule,
            ada.id,
            points=40,
            created_at=now - timedelta(days=20),
            expires_at=now - timedelta(hours=1),
        )
        assert (await expire_due(shop_id=shop.id, now=utcnow())).done >= 1
        assert await read(shop, start) == await ledger_truth(shop, start)
        # Taken into the rollup, then changed again below the new watermark.
        assert await read(shop, start) == await ledger_truth(shop, start)
        assert (await LedgerRollupState.get(shop_id=shop.id)).watermark == await top_id()
        await reject_pending(held[5].id, note="cancelled", now=now)
        await EarningHistoryEntry.filter(action="points_expired", shop_id=shop.id).delete()
        assert await read(shop, start) == await ledger_truth(shop, start)
        assert await read(other, start) == await ledger_truth(other, start)

    async def test_a_window_before_the_rollup_starts_it_again(self, db: str) -> None:
        """A window starting earlier (the shop's timezone changed) rebuilds the rollup; one
        reaching past the triggers' 35 days is summed from the ledger."""
        shop = await create_shop()
        rule = await create_rule(shop)
        ada = await create_customer(shop)
        now = utcnow()
        for days in (60, 40, 33, 31, 29, 5, 0):  # oldest first, as entries are written
            await add_entry(
                shop, rule, ada.id, points=days + 1, created_at=now - timedelta(days=days)
            )
        late = quarter(now - timedelta(days=3))
        for _ in range(2):
            assert await read(shop, late) == await ledger_truth(shop, late)
        earlier = quarter(now - timedelta(days=30))
        for _ in range(2):
            assert await read(shop, earlier) == await ledger_truth(shop, earlier)
        state = await LedgerRollupState.get(shop_id=shop.id)
        assert state.since_bucket <= bucket_of(earlier)
        old = quarter(now - timedelta(days=45))
        assert await read(shop, old) == await ledger_truth(shop, old)

    async def test_the_dashboard_and_the_shops_erasure(self, db: str) -> None:
        """The home page's 30-day figures come from the rollup and match the ledger; erasing
        the shop leaves no rollup behind."""
        shop = await create_shop()
        rule = await create_rule(shop)
        ada = await create_customer(shop)
        now = utcnow()
        for days in range(0, 35, 3):
            await add_entry(
                shop, rule, ada.id, points=100 + days, created_at=now - timedelta(days=days)
            )
        await add_expiry(shop, rule, ada.id, points=-8, days_ago=1)
        for _ in range(3):
            stats = await dashboard.programme_stats(shop=shop, now=now)
            start = datetime.combine(stats.daily_issued[0].day, datetime.min.time(), now.tzinfo)
            truth = await ledger_truth(shop, start)
            assert stats.points_issued == sum(s.issued for s in truth.values())
            assert stats.points_expired == 8
        assert await redact_shop(shop_id=shop.id)
        assert await LedgerRollupState.filter(shop_id=shop.id).count() == 0
        assert await LedgerRollup.filter(shop_id=shop.id).count() == 0


# SQLite has one writer at a time: no entry is ever committed after a higher id.
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
class TestOpenTransactions:
    async def test_an_entry_committed_late_is_not_lost(self, db: str) -> None:
        """An entry written by a transaction still open when the refresh looked (its id below
        entries committed after it) is summed once that transaction ends."""

        shop = await create_shop()
        rule = await create_rule(shop)
        ada = await create_customer(shop)
        now = utcnow()
        start = quarter(now - timedelta(days=29))
        model = await add_entry(shop, rule, ada.id, points=10, created_at=now - timedelta(days=1))
        columns = [
            row["column_name"]
            for row in await sql.fetch_all(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'earning_history_entry' AND column_name <> 'id'"
            )
        ]
        copied = ", ".join(
            "'cer_late'"
            if c == "public_id"
            else "'late'"
            if c == "dedupe_key"
            else "500"
            if c == "points"
            else f'"{c}"'
            for c in columns
        )
        names = ", ".join(f'"{c}"' for c in columns)
        late = await asyncpg.connect(db.split("?")[0].replace("postgres://", "postgresql://", 1))
        try:
            writer = late.transaction()
            await writer.start()
            await late.execute(
                f"INSERT INTO earning_history_entry ({names}) SELECT {copied} "
                "FROM earning_history_entry WHERE id = $1",
                model.id,
            )
            await add_entry(shop, rule, ada.id, points=7, created_at=now)  # committed, higher id
            for _ in range(3):
                await read(shop, start)
            state = await LedgerRollupState.get(shop_id=shop.id)
            assert state.watermark < model.id + 1  # not past the open transaction's entry
            await writer.commit()
        finally:
            await late.close()
        for _ in range(3):
            assert await read(shop, start) == await ledger_truth(shop, start)
        assert (await LedgerRollupState.get(shop_id=shop.id)).watermark == await top_id()
        assert sum(s.issued for s in (await read(shop, start)).values()) == 517
