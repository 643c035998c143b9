"""The outbox's jobs: deliver a shop's pending intents of one kind, bring in a shop's existing
customers at install, and sweep for work left behind.

Each intent job pushes each customer's state as of its run (Shopify customer metafields, the
programme metafield, Klaviyo, Omnisend, Postscript), each event at most once
(loyalty.sync.batch), or sends its Shopify Flow triggers (at least once, by each event's key:
loyalty.sync.flow_triggers), and queues itself again for the customers not yet due. Every job here
is safe to run twice or concurrently (see each service's guarantees) and returns how many
items it completed.
"""

from __future__ import annotations

import logging

from loyalty.jobs import sweep as outbox_sweep
from loyalty.jobs.follow_ups import queue_follow_up
from loyalty.jobs.names import JobName
from loyalty.models import Platform
from loyalty.outbox.queue import JobQueue
from loyalty.shopify import backfill
from loyalty.sync import flow_triggers, marketing, metafields, shop_metafields
from loyalty.sync.batch import RunResult
from loyalty.sync.deps import JobDeps

log = logging.getLogger(__name__)


async def _completed(queue: JobQueue, job: JobName, shop_id: int, result: RunResult) -> int:
    """What an intent run leaves: its follow-up for the customers it left waiting."""
    if result.next_due is not None:
        await queue_follow_up(queue, job, shop_id=shop_id, due=result.next_due)
    return result.completed


async def sync_shopify_metafields(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Write the pending customers' points, tier and status to their Shopify metafields."""
    result = await metafields.sync(deps, shop_id)
    return await _completed(queue, JobName.SYNC_SHOPIFY_METAFIELDS, shop_id, result)


async def sync_shop_metafields(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Rewrite the shop's programme metafield (rules, tiers, settings) for the theme."""
    result = await shop_metafields.sync(deps, shop_id)
    return await _completed(queue, JobName.SYNC_SHOP_METAFIELDS, shop_id, result)


async def sync_klaviyo_profiles(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Push the pending customers' profiles and loyalty events to Klaviyo."""
    result = await marketing.sync(deps, Platform.KLAVIYO, shop_id)
    return await _completed(queue, JobName.SYNC_KLAVIYO_PROFILES, shop_id, result)


async def sync_omnisend_contacts(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Push the pending customers' contacts and loyalty events to Omnisend."""
    result = await marketing.sync(deps, Platform.OMNISEND, shop_id)
    return await _completed(queue, JobName.SYNC_OMNISEND_CONTACTS, shop_id, result)


async def sync_postscript_subscribers(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Push the pending customers' subscriber properties and events to Postscript."""
    result = await marketing.sync(deps, Platform.POSTSCRIPT, shop_id)
    return await _completed(queue, JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, shop_id, result)


async def send_flow_triggers(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """Send the pending customers' Shopify Flow triggers (loyalty.sync.flow_triggers)."""
    result = await flow_triggers.sync(deps, shop_id)
    return await _completed(queue, JobName.SEND_FLOW_TRIGGERS, shop_id, result)


async def backfill_customers(deps: JobDeps, queue: JobQueue, *, shop_id: int) -> int:
    """At install, bring in the shop's existing Shopify customers (loyalty.shopify.backfill)."""
    if deps.admin is None:
        log.info("customer backfill for shop %s skipped: Shopify is not configured", shop_id)
        return 0
    result = await backfill.backfill_customers(shop_id=shop_id, admin=deps.admin)
    return result.inserted if result else 0


async def sweep_outbox(deps: JobDeps, queue: JobQueue) -> int:
    """Re-dispatch intents nobody is working on (Redis was down, a worker died) and re-queue
    webhook deliveries stored but never handled (loyalty.jobs.sweep)."""
    return await outbox_sweep.sweep(queue)
