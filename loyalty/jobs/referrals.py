"""The referrals' jobs: create a shop's referred friends' reward codes in Shopify from their
intents, and expire pending referrals past their date in every shop.

Both are safe to run twice or concurrently (loyalty.referrals.friend_codes,
loyalty.referrals.expiry) and return how many items they completed.
"""

from __future__ import annotations

from loyalty.clock import utcnow
from loyalty.jobs.follow_ups import queue_follow_up
from loyalty.jobs.names import JobName
from loyalty.outbox.queue import JobQueue
from loyalty.referrals import expiry, friend_codes
from loyalty.sync.deps import JobDeps


async def sync_referral_codes(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Create the shop's owed friend codes in Shopify."""
    result = await friend_codes.sync(deps, shop_id)
    if result.next_due is not None:
        await queue_follow_up(
            queue, JobName.SYNC_REFERRAL_CODES, shop_id=shop_id, due=result.next_due
        )
    return result.completed


async def expire_referrals(deps: JobDeps, queue: JobQueue) -> int:
    """Mark pending referrals past their `expires_at` expired."""
    return await expiry.expire_referrals(now=utcnow())
