"""When an earned entry counts: its status and its given/due/expiry dates. The one copy of that
rule for every earning path (the PostgreSQL batch award, loyalty.ledger.award_batch_pg, states
the same rule in SQL).

An entry from a rule with an approval time is pending until `now + approval days` and is not a
lot yet (nothing to spend, nothing to expire); otherwise it is approved now, is a lot of its
points, and expires after the shop's `points_expiry_days` (never, when the shop sets none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from loyalty.models import EarningStatus


@dataclass(frozen=True, slots=True)
class EntryTiming:
    status: EarningStatus
    points_given_at: datetime | None
    points_due_at: datetime | None
    points_expiry_at: datetime | None

    @property
    def pending(self) -> bool:
        return self.status is EarningStatus.PENDING

    def remaining(self, points: int) -> int:
        """The entry's lot: its points once given, nothing while pending."""
        return 0 if self.pending else points

    def approved_points(self, points: int) -> int:
        """What the entry credits to the current (and lifetime) balance now."""
        return 0 if self.pending else points

    def pending_points(self, points: int) -> int:
        """What the entry credits to the pending balance now."""
        return points if self.pending else 0


def lot_expiry(given_at: datetime, expiry_days: int | None) -> datetime | None:
    """When points given at `given_at` expire (None: the shop never expires points)."""
    return given_at + timedelta(days=expiry_days) if expiry_days else None


def entry_timing(*, now: datetime, approval_days: int, expiry_days: int | None) -> EntryTiming:
    """The timing of an entry earned `now` under a rule with `approval_days` (0: none) in a shop
    whose points expire after `expiry_days`."""
    if approval_days > 0:
        return EntryTiming(EarningStatus.PENDING, None, now + timedelta(days=approval_days), None)
    return EntryTiming(EarningStatus.APPROVED, now, None, lot_expiry(now, expiry_days))
