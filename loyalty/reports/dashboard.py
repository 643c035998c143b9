"""The admin's home page in numbers: members, points issued, pending, redeemed and expired,
rewards redeemed in the window (and the points they took), points issued per day over the
last 30 days (days in the shop's timezone), the state of the install-time customer import, and
the setup checklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import (
    Activity,
    ActorType,
    EarningRule,
    Integration,
    Shop,
)
from loyalty.reports import customer_counts, ledger_rollup

WINDOW_DAYS = 30
EXPIRED_ACTION = ledger_rollup.EXPIRED_ACTION
# Shop-level rows of the activity log (customer_id NULL): the merchant's own confirmation that
# the theme app embed is on, which the app cannot see (reading the theme needs another scope).
THEME_EMBED_CONFIRMED = "theme_embed_confirmed"
THEME_EMBED_UNCONFIRMED = "theme_embed_unconfirmed"

# One pass over the window's redemptions (migration 0019 indexes them by shop and time).
_REDEMPTIONS_SQL = """
SELECT COUNT(*) AS redemptions, COALESCE(SUM(points_spent), 0) AS points
FROM redemption
WHERE shop_id = $1 AND redeemed_at >= $2 AND points_refunded_at IS NULL
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
    for bucket, sums in (await ledger_rollup.window_sums(shop_id=shop.id, start=start)).items():
        day = ledger_rollup.bucket_start(bucket).astimezone(zone).date()
        if day in issued:
            issued[day] += sums.issued
        expired += sums.expired
    counts = await customer_counts.customer_counts(shop_id=shop.id)
    redemptions, redeemed_points = await redemptions_since(shop, start)
    return ProgrammeStats(
        members=counts.members,
        excluded=counts.excluded,
        points_issued=sum(issued.values()),
        points_pending=counts.pending,
        points_redeemed=counts.redeemed,
        points_expired=expired,
        redemptions=redemptions,
        points_redeemed_in_window=redeemed_points,
        daily_issued=[DailyPoints(day, points) for day, points in issued.items()],
        timezone=zone.key,
    )


async def redemptions_since(shop: Shop, start: datetime) -> tuple[int, int]:
    """(redemptions, points spent) since `start`, leaving out those whose points came back."""
    row = await sql.fetch_one(_REDEMPTIONS_SQL, shop.id, start) or {}
    return int(row.get("redemptions") or 0), int(row.get("points") or 0)


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
