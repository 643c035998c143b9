"""Klaviyo, Omnisend and Postscript syncs: for each customer in a run, one profile write with the
current state, then each loyalty event the customer's intents carry, once.

Guarantees and failure handling (the run is a loyalty.sync.batch.SyncRun):
- not configured (no integration, disabled, no key), shop uninstalled, customer redacted or
  without an address on the platform: the intents complete as no-ops;
- an intent is completed as soon as its events are accepted, so a retry never repeats them;
  an event in flight when a run dies is re-sent with the same key (`unique_id`, `eventID`,
  `external_id`);
- refused key (401/403): recorded on the integration's status and the run's intents held for
  `AUTH_HOLD` (saving a new key releases them at once), not retried in a loop;
- a payload the platform refuses (other 4xx): that customer's intents are given up, recorded;
- 429 longer than a job should sleep, 5xx or timeouts that outlasted the client's retries: the
  rest of the run is held (the partner's wait, or the outbox's capped backoff) and retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import NoReturn

from loyalty.clock import utcnow
from loyalty.crypto import SecretDecryptionError
from loyalty.integrations import record_outcome
from loyalty.jobs import PROFILE_SYNC_JOBS
from loyalty.models import Integration, Platform, Shop
from loyalty.outbox.intents import ClaimedIntent
from loyalty.outbox.process import RetryLater, backoff
from loyalty.partners.clients import build_client
from loyalty.partners.klaviyo import KlaviyoClient
from loyalty.partners.omnisend import OmnisendClient
from loyalty.partners.transport import (
    PartnerAuthError,
    PartnerRejectedError,
    PartnerThrottledError,
    PartnerUnavailableError,
)
from loyalty.sync.batch import SyncRun
from loyalty.sync.deps import JobDeps
from loyalty.sync.events import events_for_intents
from loyalty.sync.platforms import CustomerSync, KlaviyoSync, OmnisendSync, PostscriptSync
from loyalty.sync.state import load_states

log = logging.getLogger(__name__)

AUTH_HOLD = timedelta(hours=6)
RUN_BUDGET_SECONDS = 120.0  # well inside arq's job timeout (300 s)

Handler = Callable[[JobDeps, int, list[ClaimedIntent]], Awaitable[None]]


def profile_sync_handler(platform: Platform, *, budget: float = RUN_BUDGET_SECONDS) -> Handler:
    """The handler process_intents calls with each batch of one job run (a fresh handler per
    run, so the time budget spans the run's batches)."""
    deadline = time.monotonic() + budget

    async def handle(deps: JobDeps, shop_id: int, intents: list[ClaimedIntent]) -> None:
        await sync_platform(deps, platform, shop_id, intents, deadline=deadline)

    return handle


async def sync_platform(
    deps: JobDeps,
    platform: Platform,
    shop_id: int,
    intents: list[ClaimedIntent],
    *,
    deadline: float,
) -> None:
    """Deliver one batch of the platform's intents for the shop. Raises RetryLater to hold
    what is left; returning completes the batch."""
    integration = await Integration.get_or_none(shop_id=shop_id, platform=platform)
    shop = await Shop.get_or_none(id=shop_id)
    if (
        shop is None
        or shop.uninstalled_at is not None
        or integration is None
        or not integration.enabled
        or not integration.credentials_enc
    ):
        log.info(
            "%s sync for shop %s: not configured; %d intent(s) completed",
            platform,
            shop_id,
            len(intents),
        )
        return
    try:
        api_key = deps.box.decrypt(integration.credentials_enc)
    except SecretDecryptionError:
        error = "The saved API key cannot be read (SECRET_KEY changed); enter it again."
        await record_outcome(shop_id=shop_id, platform=platform, succeeded=False, error=error)
        raise RetryLater(error, after=AUTH_HOLD) from None

    run = await SyncRun.start(
        job=PROFILE_SYNC_JOBS[platform], shop_id=shop_id, intents=intents, deadline=deadline
    )
    target = _customer_sync(platform, deps, shop_id, api_key)
    groups = run.by_customer()
    now = utcnow()
    states = await load_states(
        shop=shop, customer_ids=[c for c in groups if c is not None], now=now
    )
    events = await events_for_intents(shop_id=shop_id, intents=run.intents)
    synced = 0
    rejected: str | None = None
    for customer_id, customer_intents in groups.items():
        state = states.get(customer_id) if customer_id is not None else None
        if state is None or state.redacted:
            await run.done(customer_intents)  # gone, or erased: nothing may be sent
            continue
        if run.out_of_time():
            await run.hand_back(error="run's time budget used up; continuing in the next run")
            raise RetryLater("time budget used up", after=timedelta(0))
        await run.renew()
        try:
            if await target.profile(state):
                for intent in customer_intents:
                    for event in events.get(intent.id, []):
                        await target.event(state, event)
                    await run.done([intent])
            synced += 1
        except PartnerRejectedError as exc:
            rejected = f"{exc.detail} (customer {state.shopify_customer_id})"
            log.warning("%s refused shop %s's customer %s: %s", platform, shop_id, customer_id, exc)
            await run.give_up(customer_intents, error=rejected)
            continue
        except PartnerAuthError as exc:
            await _stop(run, platform, shop_id, synced, exc.detail, AUTH_HOLD)
        except PartnerThrottledError as exc:
            await _stop(run, platform, shop_id, synced, exc.detail, timedelta(seconds=exc.after))
        except PartnerUnavailableError as exc:
            attempt = max(i.attempts for i in customer_intents)
            await _stop(run, platform, shop_id, synced, exc.detail, backoff(attempt))
        await run.done(customer_intents)
    await record_outcome(shop_id=shop_id, platform=platform, succeeded=synced > 0, error=rejected)


async def _stop(
    run: SyncRun, platform: Platform, shop_id: int, synced: int, detail: str, hold: timedelta
) -> NoReturn:
    """Record why, hold the rest of the run for `hold`, and end the run."""
    await record_outcome(shop_id=shop_id, platform=platform, succeeded=synced > 0, error=detail)
    await run.hand_back(error=detail, retry_at=utcnow() + hold)
    raise RetryLater(detail, after=hold)


def _customer_sync(platform: Platform, deps: JobDeps, shop_id: int, api_key: str) -> CustomerSync:
    client = build_client(
        platform,
        api_key=api_key,
        shop_id=shop_id,
        settings=deps.settings,
        http=deps.http,
        pacer=deps.pacer,
        sleep=deps.sleep,
    )
    if isinstance(client, KlaviyoClient):
        return KlaviyoSync(client)
    if isinstance(client, OmnisendClient):
        return OmnisendSync(client)
    return PostscriptSync(client)
