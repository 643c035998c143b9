"""The admin's home page in numbers: members, points issued, pending, redeemed and expired,
rewards redeemed in the window (and the points they took), points issued per day over the
last 30 days (days in the shop's timezone), the state of the install-time customer import, and
the setup checklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.functions import Sum

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.db import dialect
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import (
    Activity,
    ActorType,
    EarningHistoryEntry,
    EarningRule,
    EarningStatus,
    Integration,
    Redemption,
    Shop,
)

WINDOW_DAYS = 30
# The ledger action of an expiry entry (written by the expiry job with negative points).
EXPIRED_ACTION = "points_expired"
# Shop-level rows of the activity log (customer_id NULL): the merchant's own confirmation that
# the theme app embed is on, which the app cannot see (reading the theme needs another scope).
THEME_EMBED_CONFIRMED = "theme_embed_confirmed"
THEME_EMBED_UNCONFIRMED = "theme_embed_unconfirmed"

# Sums per 15-minute UTC bucket: every timezone's midnight falls on a quarter hour, so the
# buckets fold exactly into the shop's local days, and the database does the summing.
_BUCKET_SECONDS = 900
_BUCKET_EXPR = {
    "postgres": "FLOOR(EXTRACT(EPOCH FROM created_at) / 900)::bigint",
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff+00:00' (UTC): the first 19 characters are the time.
    "sqlite": "CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) / 900",
}
_BUCKETS_SQL = """
SELECT {bucket} AS bucket,
       SUM(CASE WHEN points > 0 AND status <> $3 THEN points ELSE 0 END) AS issued,
       SUM(CASE WHEN action = $4 THEN -points ELSE 0 END) AS expired
FROM earning_history_entry
WHERE id >= $1 AND shop_id = $2
GROUP BY 1
"""
_BALANCES_SQL = """
SELECT COALESCE(SUM(CASE WHEN is_excluded THEN 0 ELSE 1 END), 0) AS members,
       COALESCE(SUM(CASE WHEN is_excluded THEN 1 ELSE 0 END), 0) AS excluded,
       COALESCE(SUM(pending_points), 0) AS pending,
       COALESCE(SUM(redeemed_points), 0) AS redeemed
FROM customer WHERE shop_id = $1 AND redacted_at IS NULL
"""


@dataclass(frozen=True, slots=True)
class DailyPoints:
    day: date
    points: int


@dataclass(frozen=True, slots=True)
class ProgrammeStats:
    members: int  # customers in the programme (not excluded)
    excluded: int
    points_issued: int  # awarded in the window (pending or approved), adjustments included
    points_pending: int  # waiting for approval now
    points_redeemed: int  # spent on rewards, to date
    points_expired: int  # in the window
    # Rewards redeemed in the window whose points were kept (not cancelled or refused, which
    # return them), and the points those redemptions spent.
    redemptions: int
    points_redeemed_in_window: int
    daily_issued: list[DailyPoints]  # one per day of the window, oldest first
    timezone: str


@dataclass(frozen=True, slots=True)
class BackfillStatus:
    state: str  # "none" (never asked), "queued", "running" or "completed"
    customers_imported: int
    requested_at: datetime | None
    completed_at: datetime | None

    @property
    def in_progress(self) -> bool:
        return self.state in {"queued", "running"}


@dataclass(frozen=True, slots=True)
class SetupChecklist:
    active_rules: int
    theme_embed_confirmed: bool
    integrations_connected: int

    @property
    def steps_done(self) -> int:
        return sum(
            [self.active_rules > 0, self.theme_embed_confirmed, self.integrations_connected > 0]
        )

    @property
    def complete(self) -> bool:
        return self.steps_done == 3


def shop_zone(shop: Shop) -> ZoneInfo:
    try:
        return ZoneInfo(shop.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def programme_stats(*, shop: Shop, now: datetime | None = None) -> ProgrammeStats:
    """The dashboard's numbers. The window is the last 30 local days, today included."""
    now = now or utcnow()
    zone = shop_zone(shop)
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=WINDOW_DAYS - 1 - n) for n in range(WINDOW_DAYS)]
    start = datetime.combine(days[0], time(), tzinfo=zone).astimezone(UTC)
    issued = dict.fromkeys(days, 0)
    expired = 0
    first_id = await first_entry_id_since(start)
    if first_id is not None:
        rows = await sql.fetch_all(
            _BUCKETS_SQL.format(bucket=_BUCKET_EXPR[dialect()]),
            first_id,
            shop.id,
            str(EarningStatus.REJECTED),
            EXPIRED_ACTION,
        )
        for row in rows:
            bucket_start = datetime.fromtimestamp(int(row["bucket"]) * _BUCKET_SECONDS, UTC)
            if bucket_start < start:
                continue
            day = bucket_start.astimezone(zone).date()
            if day in issued:
                issued[day] += int(row["issued"] or 0)
            expired += int(row["expired"] or 0)
    balances = await sql.fetch_one(_BALANCES_SQL, shop.id) or {}
    redemptions, redeemed_points = await redemptions_since(shop, start)
    return ProgrammeStats(
        members=int(balances.get("members") or 0),
        excluded=int(balances.get("excluded") or 0),
        points_issued=sum(issued.values()),
        points_pending=int(balances.get("pending") or 0),
        points_redeemed=int(balances.get("redeemed") or 0),
        points_expired=expired,
        redemptions=redemptions,
        points_redeemed_in_window=redeemed_points,
        daily_issued=[DailyPoints(day, points) for day, points in issued.items()],
        timezone=zone.key,
    )


async def redemptions_since(shop: Shop, start: datetime) -> tuple[int, int]:
    """(redemptions, points spent) since `start`, leaving out those whose points came back."""
    kept = Redemption.filter(
        shop_id=shop.id, redeemed_at__gte=start, points_refunded_at__isnull=True
    )
    count = await kept.count()
    if not count:
        return 0, 0
    row = await kept.annotate(points=Sum("points_spent")).first().values("points")
    return count, int((row or {}).get("points") or 0)


async def first_entry_id_since(start: datetime) -> int | None:
    """The first ledger id created at or after `start` (None: nothing since).

    Entries are appended as they happen, so ids grow with `created_at`; a binary search on the
    primary key finds a window's first row in a few index lookups. The ledger deliberately has
    no `created_at` index (every index slows each award), and the dashboard must not scan it.
    """
    last = await _entry_at_or_after(0, descending=True)
    if last is None or last[1] < start:
        return None
    first = await _entry_at_or_after(0)
    assert first is not None
    answer, low, high = last[0], first[0], last[0]
    while low <= high:
        middle = (low + high) // 2
        row = await _entry_at_or_after(middle)
        if row is None or row[0] > high:  # no entry in [middle, high]
            high = middle - 1
        elif row[1] >= start:
            answer, high = row[0], middle - 1
        else:
            low = row[0] + 1
    return answer


async def _entry_at_or_after(
    entry_id: int, *, descending: bool = False
) -> tuple[int, datetime] | None:
    query = EarningHistoryEntry.filter(id__gte=entry_id).order_by("-id" if descending else "id")
    rows = await query.limit(1).values_list("id", "created_at")
    return (int(rows[0][0]), rows[0][1]) if rows else None


def backfill_status(shop: Shop) -> BackfillStatus:
    """Where the install-time import of the shop's Shopify customers stands."""
    if shop.backfill_requested_at is None:
        state = "none"
    elif shop.backfill_completed_at is not None:
        state = "completed"
    elif shop.backfill_started_at is not None:
        state = "running"
    else:
        state = "queued"
    return BackfillStatus(
        state=state,
        customers_imported=shop.backfill_customers,
        requested_at=shop.backfill_requested_at,
        completed_at=shop.backfill_completed_at,
    )


async def setup_checklist(*, shop: Shop) -> SetupChecklist:
    """Rules switched on, the theme app embed (as the merchant last said), integrations on."""
    return SetupChecklist(
        active_rules=await EarningRule.filter(shop=shop, is_active=True).count(),
        theme_embed_confirmed=await _theme_embed_confirmed(shop),
        integrations_connected=await Integration.filter(
            shop=shop, enabled=True, credentials_enc__isnull=False
        ).count(),
    )


async def _theme_embed_confirmed(shop: Shop) -> bool:
    latest = (
        await Activity.filter(
            shop_id=shop.id,
            customer_id__isnull=True,
            kind__in=[THEME_EMBED_CONFIRMED, THEME_EMBED_UNCONFIRMED],
        )
        .order_by("-created_at", "-id")
        .first()
    )
    return latest is not None and latest.kind == THEME_EMBED_CONFIRMED


async def confirm_theme_embed(
    *, shop: Shop, confirmed: bool, staff_user_id: str | None, now: datetime | None = None
) -> SetupChecklist:
    """Record that the merchant turned the theme app embed on (or that it is off again), in
    the activity log with who said so. Idempotent: only a change writes a row."""
    if await _theme_embed_confirmed(shop) != confirmed:
        kind = THEME_EMBED_CONFIRMED if confirmed else THEME_EMBED_UNCONFIRMED
        actor = (ActorType.STAFF, staff_user_id)
        await record(ActivityRow(shop.id, None, kind, now or utcnow(), {}, *actor))
    return await setup_checklist(shop=shop)
