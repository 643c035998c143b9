"""The rewards' jobs: create (or deactivate, or debit) a shop's redemption codes in Shopify from
their intents, and expire unused codes past their date in every shop.

Both are safe to run twice or concurrently (loyalty.rewards.codes, loyalty.rewards.expiry), queue
the customer syncs their changes owe, and return how many items they completed.
"""

from __future__ import annotations

from loyalty.jobs.follow_ups import dispatch_follow_ups, queue_follow_up
from loyalty.jobs.names import JobName
from loyalty.outbox.queue import JobQueue
from loyalty.rewards import codes, expiry
from loyalty.sync.deps import JobDeps

MAX_EXPIRY_BATCHES = 20  # per pass; the next pass takes the rest


async def sync_reward_codes(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Carry out the shop's pending reward-code intents in Shopify."""
    run = await codes.sync(deps, shop_id)
    await dispatch_follow_ups(queue, shop_id=shop_id, jobs=run.jobs, settings=deps.settings)
    if run.result.next_due is not None:
        await queue_follow_up(
            queue, JobName.SYNC_REWARD_CODES, shop_id=shop_id, due=run.result.next_due
        )
    return run.result.completed


async def expire_reward_codes(deps: JobDeps, queue: JobQueue) -> int:
    """Mark active codes past their `expires_at` expired (points back where the shop says so)."""
    done = 0
    for _ in range(MAX_EXPIRY_BATCHES):
        run = await expiry.expire_due()
        done += run.done
        for shop_id, jobs in run.jobs.items():
            await dispatch_follow_ups(queue, shop_id=shop_id, jobs=jobs, settings=deps.settings)
        if not run.more:
            break
    return done
