"""One run of a sync job for one shop: which customers it writes, the intents it holds, and how
each ends. What is written to Shopify and to each platform converges to the database:

- Every change writes an intent in its own transaction (loyalty.outbox.intents).
- A run writes a customer only while it holds the customer's lease (loyalty.outbox.leases):
  writes for one (job, customer) never overlap, so a late write cannot land after a newer one.
- It claims the customer's pending intents (created so far) *before* reading the customer's
  state, and reads that state right before the write (loyalty.sync.state). An intent is
  completed only by a write whose state was read after the intent was claimed, so after the
  change it stands for committed: the write shows that change, or a later state.
- After releasing its leases the run looks again: changes that arrived during its write are
  still pending and are taken, by this run or the next, when the customer is due again.

So the last write for a customer reads the state after the customer's last change, and no
earlier read is written after it: the platform ends with the database's value. (A lease lapses
after `CLAIM_FOR` without renewal; a run renews before each write and a single write is bounded
by the clients' timeouts and retries, well inside it.)

Bursts: a customer is taken only once its newest pending change is `quiet` old, or its oldest
`max_wait` old (Pacing); a run that leaves customers not yet due reports when they will be
(`RunResult.next_due`), and the job queues itself for that moment.

One run at a time per job and shop (its turn, loyalty.outbox.leases.take_turn): a run that
finds another live ends at once, and the live one looks again after giving its turn back.

Ending: completing, skipping, failing or dead-lettering an intent is one conditional statement
by the run's token (loyalty.outbox.claims), retried once on a fresh connection if the database
dropped the connection under it (loyalty.outbox.reconnect; the statements are idempotent).
`end()` is the one place a run gives back what it still holds.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from loyalty.clock import utcnow
from loyalty.jobs import PROFILE_SYNC_JOBS, JobName
from loyalty.models import IntentOutcome, SkipReason
from loyalty.outbox import claims, leases
from loyalty.outbox.claims import CLAIM_FOR, ClaimedIntent
from loyalty.outbox.process import RetryLater, retry_delay
from loyalty.outbox.reconnect import once_more_if_disconnected
from loyalty.settings import Settings
from loyalty.sync.deps import Stopping

log = logging.getLogger(__name__)

RENEW_EVERY = 30.0  # seconds
LEASE_BATCH = 50  # customers leased at a time
RUN_BUDGET_SECONDS = 120.0  # well inside arq's job timeout (300 s)

# customer key (the customer's id, 0 for the shop-level job) → its intents this run holds
Groups = dict[int, list[ClaimedIntent]]


@dataclass(frozen=True, slots=True)
class Pacing:
    quiet: timedelta  # a customer is due once its newest pending change is this old …
    max_wait: timedelta  # … or its oldest is this old


IMMEDIATE = Pacing(timedelta(0), timedelta(0))


def pacing_for(job: JobName, settings: Settings) -> Pacing:
    if job in PROFILE_SYNC_JOBS.values():
        return Pacing(
            timedelta(seconds=settings.marketing_sync_delay),
            timedelta(seconds=settings.marketing_sync_max_wait),
        )
    return Pacing(
        timedelta(seconds=settings.metafield_sync_delay),
        timedelta(seconds=settings.metafield_sync_max_wait),
    )


@dataclass(frozen=True, slots=True)
class RunResult:
    completed: int  # intents ended (delivered, skipped or dead)
    next_due: datetime | None  # when customers left waiting become due; None: none left


@dataclass
class SyncRun:
    job: JobName
    shop_id: int
    shop_label: str  # how log lines name the shop (its domain)
    window: timedelta  # OUTBOX_RETRY_WINDOW
    deadline: float  # time.monotonic() past which the run stops taking work
    stopping: Stopping = field(default_factory=Stopping)  # the process is stopping: stop too
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    leased: set[int] = field(default_factory=set)
    open: dict[int, ClaimedIntent] = field(default_factory=dict)  # held, not yet ended
    completed: int = 0
    _renewed: float = field(default_factory=time.monotonic)

    def out_of_time(self) -> bool:
        return self.stopping.requested or time.monotonic() >= self.deadline

    async def lease(self, pacing: Pacing, *, limit: int = LEASE_BATCH) -> list[int]:
        """Take the leases of up to `limit` customers that are due; returns their keys."""
        now = utcnow()
        keys = await leases.take(
            job=self.job,
            shop_id=self.shop_id,
            token=self.token,
            limit=limit,
            until=now + CLAIM_FOR,
            now=now,
            quiet=pacing.quiet,
            max_wait=pacing.max_wait,
        )
        self.leased.update(keys)
        self._renewed = time.monotonic()
        return keys

    async def take_turn(self) -> bool:
        """Take or extend this run's turn: one live run per job and shop (leases.take_turn)."""
        return await leases.take_turn(
            job=self.job, shop_id=self.shop_id, token=self.token, now=utcnow()
        )

    async def claim(self, keys: list[int]) -> Groups:
        """Claim the pending intents of these (leased) customers; each intent once."""
        now = utcnow()
        claimed = await claims.claim(
            job=self.job,
            shop_id=self.shop_id,
            token=self.token,
            customer_keys=[k for k in keys if k in self.leased],
            until=now + CLAIM_FOR,
            now=now,
        )
        groups: Groups = {}
        for intent in claimed:
            if intent.id in self.open:
                continue
            self.open[intent.id] = intent
            groups.setdefault(intent.customer_id or 0, []).append(intent)
        return groups

    def holds(self, key: int) -> bool:
        return key in self.leased

    async def renew(self, *, force: bool = False) -> None:
        """Renew leases and claims (every RENEW_EVERY seconds, or now). A lease found lapsed and
        taken over is dropped: its customers are not written by this run."""
        if not force and time.monotonic() - self._renewed < RENEW_EVERY:
            return
        until = utcnow() + CLAIM_FOR
        kept = await leases.renew(
            job=self.job,
            shop_id=self.shop_id,
            token=self.token,
            keys=sorted(self.leased),
            until=until,
        )
        lost = self.leased - set(kept)
        if lost:
            log.warning(
                "%s for shop %s: lease on %d customer(s) lapsed; left to their new holder",
                self.job,
                self.shop_label,
                len(lost),
            )
            self.leased = set(kept)
            for intent in [i for i in self.open.values() if (i.customer_id or 0) in lost]:
                del self.open[intent.id]
        await claims.renew(token=self.token, ids=sorted(self.open), until=until)
        self._renewed = time.monotonic()

    def _held(self, intents: list[ClaimedIntent]) -> list[int]:
        return [i.id for i in intents if i.id in self.open]

    def _ended(self, ids: list[int]) -> None:
        for intent_id in ids:
            self.open.pop(intent_id, None)

    async def delivered(self, intents: list[ClaimedIntent]) -> None:
        ids = self._held(intents)
        now = utcnow()
        self.completed += await once_more_if_disconnected(
            "completing intents",
            lambda: claims.complete(
                token=self.token, ids=ids, outcome=IntentOutcome.DELIVERED, now=now
            ),
        )
        self._ended(ids)

    async def skipped(self, intents: list[ClaimedIntent], reason: SkipReason) -> None:
        ids = self._held(intents)
        now = utcnow()
        self.completed += await once_more_if_disconnected(
            "skipping intents",
            lambda: claims.complete(
                token=self.token,
                ids=ids,
                outcome=IntentOutcome.SKIPPED,
                detail=str(reason),
                now=now,
            ),
        )
        self._ended(ids)

    async def refused(self, intents: list[ClaimedIntent], *, error: str) -> None:
        """The platform refused these for good (a payload no retry fixes): dead-lettered."""
        ids = self._held(intents)
        now = utcnow()
        done = await once_more_if_disconnected(
            "dead-lettering intents",
            lambda: claims.dead_letter(token=self.token, ids=ids, error=error, now=now),
        )
        self.completed += done
        if done:
            self._log_dead([(i.id, i.customer_id) for i in intents if i.id in ids], error)
        self._ended(ids)

    async def failed(
        self, intents: list[ClaimedIntent], *, error: str, asked: timedelta | None = None
    ) -> timedelta:
        """A real delivery attempt failed: counted, held for the backoff their attempts have
        reached (or what the platform asked, if longer); those past the retry window are
        dead-lettered. Returns the hold."""
        attempt = max((i.attempts for i in intents), default=0) + 1
        hold = retry_delay(attempt, asked=asked)
        now = utcnow()
        ids = self._held(intents)
        dead = await once_more_if_disconnected(
            "recording a failed attempt",
            lambda: claims.fail(
                token=self.token,
                ids=ids,
                error=error,
                retry_at=now + hold,
                now=now,
                window=self.window,
            ),
        )
        self._ended(ids)
        if dead:
            self.completed += len(dead)
            self._log_dead([(d.id, d.customer_id) for d in dead], error)
        return hold

    def _log_dead(self, intents: list[tuple[int, int | None]], error: str) -> None:
        customers = sorted({c for _, c in intents if c is not None})
        log.warning(
            "dead-lettered %s intent(s) %s for shop %s, customer(s) %s: %s "
            "(the merchant can retry them)",
            self.job,
            ", ".join(str(i) for i, _ in intents),
            self.shop_label,
            ", ".join(str(c) for c in customers) or "none (the shop's own)",
            error,
        )

    async def release(self, keys: list[int]) -> None:
        """Done with these customers: anything of theirs still held is due again at once, and
        their leases go (so the next run, or this one, can look again)."""
        keys = [k for k in keys if k in self.leased]
        left = self._held([i for i in self.open.values() if (i.customer_id or 0) in keys])

        async def give_back() -> None:
            await claims.hand_back(token=self.token, ids=left)  # due again at once
            await leases.release(job=self.job, shop_id=self.shop_id, token=self.token, keys=keys)

        await once_more_if_disconnected("releasing customers", give_back)
        self._ended(left)
        self.leased.difference_update(keys)

    async def end(self, *, hold: RetryLater | None = None) -> None:
        """Give back everything still held: due at once, or, when the platform asked the shop
        to wait (`hold`), held for that long together with the shop's other pending intents of
        this job. Idempotent, and retried once on a fresh connection if the database dropped
        the connection (so claims never wait out their lapse)."""
        now = utcnow()
        retry_at = now + hold.after if hold is not None else None  # None: due at once
        error = str(hold) if hold is not None else None
        ids = sorted(self.open)

        async def give_back() -> None:
            await claims.hand_back(token=self.token, ids=ids, retry_at=retry_at, error=error)
            if hold is not None and retry_at is not None:
                await claims.hold_pending(
                    job=self.job, shop_id=self.shop_id, until=retry_at, error=str(hold), now=now
                )
            await leases.release(job=self.job, shop_id=self.shop_id, token=self.token)

        await once_more_if_disconnected(f"ending a {self.job} run", give_back)
        self.open.clear()
        self.leased.clear()


# Delivers for the customers (keys) the run just leased: claims their intents (run.claim) right
# before reading their state and writing, and ends each intent it claimed.
Deliver = Callable[[SyncRun, list[int]], Awaitable[None]]


async def run_sync(
    *,
    job: JobName,
    shop_id: int,
    shop_label: str,
    settings: Settings,
    deliver: Deliver,
    pacing: Pacing,
    budget: float = RUN_BUDGET_SECONDS,
    stopping: Stopping | None = None,
) -> RunResult:
    """Lease due customers and `deliver` for them, batch after batch, until none is due or
    the time budget is used. `deliver` claims their intents (as late as it can: right before
    it reads their state) and ends each one (delivered, skipped, refused, failed); whatever it
    leaves is due again at once. It raises RetryLater to hold the shop's work of this job. An
    unexpected error counts as a failed attempt for what was held, and is raised."""
    run = SyncRun(
        job=job,
        shop_id=shop_id,
        shop_label=shop_label,
        window=timedelta(seconds=settings.outbox_retry_window),
        deadline=time.monotonic() + budget,
        stopping=stopping or Stopping(),
    )
    hold: RetryLater | None = None
    if not await run.take_turn():
        # Another run of this job for the shop is live: it looks for new work (this run's
        # included) after giving its turn back, so this one has nothing to do.
        return RunResult(0, None)
    try:
        while not run.out_of_time():
            keys = await run.lease(pacing)
            if not keys:
                break
            await deliver(run, keys)
            await run.release(keys)
            # Extended before each next lease (the first was just taken above): if ours lapsed
            # and was taken, the taker goes on.
            if not await run.take_turn():
                break
    except RetryLater as exc:
        hold = exc
        log.info("%s for shop %s held for %s: %s", job, shop_label, exc.after, exc)
    except Exception as exc:
        await run.failed(list(run.open.values()), error=repr(exc))
        raise
    finally:
        await run.end(hold=hold)
    if hold is not None:
        return RunResult(run.completed, None)  # the sweep brings the work back after the hold
    now = utcnow()
    due = await leases.next_due(
        job=job, shop_id=shop_id, now=now, quiet=pacing.quiet, max_wait=pacing.max_wait
    )
    return RunResult(run.completed, due)


Runner = Callable[[Deliver, Pacing], Awaitable[RunResult]]


def runner(
    *,
    job: JobName,
    shop_id: int,
    shop_label: str,
    settings: Settings,
    budget: float = RUN_BUDGET_SECONDS,
    stopping: Stopping | None = None,
) -> Runner:
    """`run_sync` for one job and shop, waiting for what to deliver and how to pace it."""

    async def run(deliver: Deliver, pacing: Pacing) -> RunResult:
        return await run_sync(
            job=job,
            shop_id=shop_id,
            shop_label=shop_label,
            settings=settings,
            deliver=deliver,
            pacing=pacing,
            budget=budget,
            stopping=stopping,
        )

    return run


def skip_all(reason: SkipReason) -> Deliver:
    """A `deliver` for work that cannot be done (nothing configured, the shop gone): every
    intent completes as skipped, with why."""

    async def deliver(run: SyncRun, keys: list[int]) -> None:
        # One UPDATE for the whole claim, not one per customer: on the embedded default (no
        # Shopify connected) this runs after every award burst, on the award's own connection.
        claimed = await run.claim(keys)
        await run.skipped([intent for intents in claimed.values() for intent in intents], reason)

    return deliver
