"""Klaviyo, Omnisend and Postscript syncs: for each customer in a run, one profile write with the
current state, then each loyalty event the customer's intents carry, once.

Guarantees and failure handling (the run is a loyalty.sync.batch.SyncRun: one writer per
customer, state read right before the write, one write per customer per burst):
- not configured (no integration, disabled, no key), shop uninstalled, customer redacted or
  without an address on the platform: the intents complete as skipped, with the reason;
- each event is recorded the moment the platform accepts it (loyalty.outbox.deliveries) and
  never sent again, whatever else fails; an event whose answer was lost is re-sent only on
  Klaviyo (`unique_id` dedupes), elsewhere recorded unconfirmed with a WARNING and not re-sent;
- refused key (401/403): recorded on the integration's status and the shop's work held for
  `AUTH_HOLD` (saving a new key releases it at once), not retried in a loop;
- a payload the platform refuses (other 4xx): that customer's intents are dead-lettered;
- 429 longer than a job should sleep, 5xx or timeouts that outlasted the client's retries: the
  attempt is counted for the customer whose call failed and the shop's work is held (what
  the platform asked, or the outbox's backoff for the attempts so far), then retried, until
  the retry window ends.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import NoReturn

from loyalty.clock import utcnow
from loyalty.crypto import SecretDecryptionError
from loyalty.jobs import PROFILE_SYNC_JOBS
from loyalty.models import DeliveryStatus, Integration, Platform, Shop, SkipReason
from loyalty.outbox import claims, deliveries
from loyalty.outbox.claims import ClaimedIntent
from loyalty.outbox.process import RetryLater
from loyalty.outbox.reconnect import once_more_if_disconnected
from loyalty.partners.clients import build_client
from loyalty.partners.integrations import record_outcome
from loyalty.partners.klaviyo import KlaviyoClient
from loyalty.partners.omnisend import OmnisendClient
from loyalty.partners.transport import (
    PartnerAuthError,
    PartnerError,
    PartnerRejectedError,
    PartnerThrottledError,
    PartnerUnavailableError,
    PartnerUnconfirmedError,
)
from loyalty.sync.batch import (
    IMMEDIATE,
    RUN_BUDGET_SECONDS,
    RunResult,
    SyncRun,
    pacing_for,
    skip_all,
)
from loyalty.sync.deps import JobDeps
from loyalty.sync.events import LoyaltyEvent, events_for_intents
from loyalty.sync.platforms import CustomerSync, KlaviyoSync, OmnisendSync, PostscriptSync
from loyalty.sync.shop_runs import open_run
from loyalty.sync.state import CustomerState, load_states

log = logging.getLogger(__name__)

AUTH_HOLD = timedelta(hours=6)


async def sync(
    deps: JobDeps, platform: Platform, shop_id: int, *, budget: float = RUN_BUDGET_SECONDS
) -> RunResult:
    """Deliver the shop's pending intents for `platform`: per due customer, one profile write
    with the current state, then each of its events not yet recorded."""
    job = PROFILE_SYNC_JOBS[platform]
    integration = await Integration.get_or_none(shop_id=shop_id, platform=platform)
    shop, label, run = await open_run(deps, job, shop_id, budget=budget)
    if shop is None or shop.uninstalled_at is not None:
        return await run(skip_all(SkipReason.UNINSTALLED), IMMEDIATE)
    if integration is None or not integration.enabled or not integration.credentials_enc:
        log.info("%s sync for shop %s: not configured; skipped", platform, label)
        return await run(skip_all(SkipReason.NOT_CONFIGURED), IMMEDIATE)
    try:
        api_key = deps.box.decrypt(integration.credentials_enc)
    except SecretDecryptionError:
        error = "The saved API key cannot be read (SECRET_KEY changed); enter it again."
        await record_outcome(
            shop_id=shop_id, shop_label=label, platform=platform, succeeded=False, error=error
        )
        now = utcnow()
        await claims.hold_pending(
            job=job, shop_id=shop_id, until=now + AUTH_HOLD, error=error, now=now
        )
        return RunResult(0, None)
    target = _Target(platform, shop, _customer_sync(platform, deps, shop_id, api_key))
    try:
        return await run(target.deliver, pacing_for(job, deps.settings))
    finally:
        await target.record()


class _Target:
    """One platform for one shop, for one run: delivers each leased customer's intents."""

    def __init__(self, platform: Platform, shop: Shop, sync: CustomerSync) -> None:
        self.platform = platform
        self.shop = shop
        self.sync = sync
        self.synced = 0
        self.error: str | None = None
        self.attempted = False

    async def deliver(self, run: SyncRun, customers: list[int]) -> None:
        """One customer at a time: claim its intents (all the changes so far, however long
        the run took to reach it), read its state, write the profile, send the events."""
        for customer in customers:
            if run.out_of_time():
                return  # what is left is due again at once: the follow-up run continues
            await run.renew()
            intents = (await run.claim([customer])).get(customer)
            if intents:
                await self._customer(run, customer, intents)

    async def _customer(self, run: SyncRun, customer: int, intents: list[ClaimedIntent]) -> None:
        events = await events_for_intents(shop_id=self.shop.id, intents=intents)
        states = await load_states(shop=self.shop, customer_ids=[customer], now=utcnow())
        state = states.get(customer)
        if state is None or state.redacted:
            reason = SkipReason.UNKNOWN_CUSTOMER if state is None else SkipReason.REDACTED
            await run.skipped(intents, reason)  # gone, or erased: nothing may be sent
            return
        sent_before = self.sync.requests_sent
        try:
            if not await self.sync.profile(state):
                await run.skipped(intents, SkipReason.NO_ADDRESS)
                return
            keys = [e.key for i in intents for e in events.get(i.id, [])]
            done = await deliveries.recorded(
                shop_id=self.shop.id, platform=self.platform, keys=keys
            )
            for intent in intents:
                for event in events.get(intent.id, []):
                    if event.key not in done:
                        await self._event(state, intent, event)
                await run.delivered([intent])
            self.synced += 1
        except PartnerRejectedError as exc:
            self.error = f"{exc.detail} (customer {state.shopify_customer_id})"
            log.warning(
                "%s refused shop %s's customer %s: %s",
                self.platform,
                self.shop.domain,
                customer,
                exc,
            )
            await run.refused(intents, error=self.error)
        except (PartnerAuthError, PartnerThrottledError, PartnerUnavailableError) as exc:
            self.error = exc.detail
            attempted = self.sync.requests_sent > sent_before
            await self._stop(run, intents, exc, attempted=attempted)

    async def _event(
        self, state: CustomerState, intent: ClaimedIntent, event: LoyaltyEvent
    ) -> None:
        lost: PartnerUnconfirmedError | None = None
        try:
            await self.sync.event(state, event)
        except PartnerUnconfirmedError as exc:
            lost = exc
        status = DeliveryStatus.ACCEPTED if lost is None else DeliveryStatus.UNCONFIRMED
        now = utcnow()
        # Recorded at once, and once more on a fresh connection if the database dropped this
        # one: an accepted event not recorded would be sent again by the retry.
        await once_more_if_disconnected(
            "recording a delivered event",
            lambda: deliveries.record(
                shop_id=self.shop.id,
                platform=self.platform,
                key=event.key,
                intent_id=intent.id,
                status=status,
                now=now,
            ),
        )
        if lost is not None:
            log.warning(
                "%s event %s for shop %s, customer %s is unconfirmed: %s. Not re-sent (it "
                "would be a second copy); the merchant can send it again",
                self.platform,
                event.key,
                self.shop.domain,
                state.id,
                lost.detail,
            )
            raise PartnerUnavailableError(self.platform, lost.detail) from lost

    async def _stop(
        self, run: SyncRun, intents: list[ClaimedIntent], exc: PartnerError, *, attempted: bool
    ) -> NoReturn:
        """The platform refused the shop, not the customer: count the attempt for this customer
        when a call reached the platform, and hold the shop's work (RetryLater)."""
        if isinstance(exc, PartnerAuthError):
            asked: timedelta | None = AUTH_HOLD
        elif isinstance(exc, PartnerThrottledError):
            asked = timedelta(seconds=exc.after)
        else:
            asked = None
        left = [i for i in intents if i.id in run.open]
        if attempted:
            hold = await run.failed(left, error=exc.detail, asked=asked)
        else:
            hold = asked or timedelta(seconds=1)  # our own pacing: no call, no attempt
        raise RetryLater(exc.detail, after=hold)

    async def record(self) -> None:
        """The integration's status: the last success, or the last error in plain words."""
        if self.synced or self.error:
            await record_outcome(
                shop_id=self.shop.id,
                shop_label=self.shop.domain,
                platform=self.platform,
                succeeded=self.synced > 0,
                error=self.error,
            )


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
