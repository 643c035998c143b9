"""Pending referrals whose friend never placed a first paid order in time become `expired`.

One conditional update per batch (`status = 'pending' AND expires_at <= now`), so it is safe to
run twice or concurrently; the `expire_referrals` periodic job runs it for every shop. A friend's
code keeps its own validity (the reward's); an order using it after expiry converts nothing.
"""

from __future__ import annotations

from datetime import datetime

from loyalty.models import Referral, ReferralStatus

BATCH = 500


async def expire_referrals(*, now: datetime, batch: int = BATCH) -> int:
    """Expire every pending referral now due; how many were expired."""
    done = 0
    while True:
        due = (
            await Referral.filter(status=ReferralStatus.PENDING, expires_at__lte=now)
            .order_by("id")
            .limit(batch)
            .values_list("id", flat=True)
        )
        if not due:
            return done
        done += await Referral.filter(id__in=list(due), status=ReferralStatus.PENDING).update(
            status=ReferralStatus.EXPIRED, updated_at=now
        )
        if len(due) < batch:
            return done
