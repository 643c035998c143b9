"""The `sync_reward_codes` job's work: each redemption's intents, carried out in Shopify through
loyalty.shopify.discounts, exactly once.

Intents (`{"redemption_id": …, "action": …}`, written with the change that owes them):
- `create` (redeem, a re-activated code): the discount code (or the store credit) is created
  and `shopify_status` becomes `created` with its gid. Shopify refusing it for good
  (`DiscountRefused`, or a GraphQL error no retry fixes) cancels the redemption and returns
  the points with an activity row saying why; so does a create still failing when its
  intent's retry window closes (dead-lettered), or a shop no longer connected.
- `deactivate` (the merchant cancelled a code): the discount is deactivated (a code never
  created is marked `failed`, and a later `create` for it does nothing).
- `debit` (the merchant cancelled store credit): the credit is taken back, then the points
  return; a refused debit (credit already spent) makes the redemption active again.

Exactly once, safe to run twice: runs are loyalty.sync.batch runs (owned claims, one run at a
time per customer, a customer's intents in the order written); `create` does nothing once
`shopify_status` left `pending`, and a code already made is found in Shopify by the adapter
(a store credit by the time of the first attempt, loyalty.rewards.store_credit), so a run that
died after Shopify answered but before recording it makes no second discount or credit.
Transient failures (network, 5xx, throttling) count an attempt and hold the shop's work for the
outbox's backoff; re-authorisation holds it too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import (
    CodeStatus,
    Customer,
    OutboxIntent,
    Redemption,
    RedemptionStatus,
    RewardKind,
    Shop,
    SkipReason,
)
from loyalty.outbox.claims import ClaimedIntent
from loyalty.outbox.process import RetryLater
from loyalty.rewards import store_credit
from loyalty.rewards.refunds import return_redemption_points
from loyalty.rewards.spec import discount_spec
from loyalty.shopify import discounts
from loyalty.shopify.admin_api import AdminApi, ShopifyApiError
from loyalty.shopify.discounts import DiscountRefused
from loyalty.shopify.tokens import (
    ShopifyUnavailableError,
    ShopNotConnectedError,
    ShopReauthRequiredError,
)
from loyalty.sync.batch import IMMEDIATE, RUN_BUDGET_SECONDS, RunResult, SyncRun, skip_all
from loyalty.sync.deps import JobDeps
from loyalty.sync.shop_runs import open_run

log = logging.getLogger(__name__)

JOB = JobName.SYNC_REWARD_CODES
REAUTH_HOLD = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class CodesRun:
    result: RunResult
    jobs: list[str]  # customer syncs the run's refunds owe


async def sync(deps: JobDeps, shop_id: int, *, budget: float = RUN_BUDGET_SECONDS) -> CodesRun:
    """Carry out the shop's pending reward-code intents (see the module)."""
    shop, label, run = await open_run(deps, JOB, shop_id, budget=budget)
    if shop is None:
        return CodesRun(await run(skip_all(SkipReason.UNKNOWN_CUSTOMER), IMMEDIATE), [])
    if deps.admin is None:
        log.warning("reward codes for shop %s wait: Shopify is not configured", label)
        return CodesRun(await run(skip_all(SkipReason.NOT_CONFIGURED), IMMEDIATE), [])
    worker = _Worker(deps.admin, shop)
    return CodesRun(await run(worker.deliver, IMMEDIATE), sorted(worker.jobs))


@dataclass
class _Worker:
    admin: AdminApi
    shop: Shop
    jobs: set[str] = field(default_factory=set)

    async def deliver(self, run: SyncRun, keys: list[int]) -> None:
        """Each claimed intent carried out in turn; those delivered are completed together in
        one statement, also when a later one raises (before its failure is handled)."""
        delivered: list[ClaimedIntent] = []
        try:
            for intents in (await run.claim(keys)).values():
                for intent in intents:
                    await run.renew()
                    if await self._intent(run, intent):
                        delivered.append(intent)
        finally:
            await run.delivered(delivered)

    async def _intent(self, run: SyncRun, intent: ClaimedIntent) -> bool:
        """Carry out one intent; True when it was delivered (the caller completes it), False
        when it was ended here (refused, skipped)."""
        redemption = (
            await Redemption.filter(
                shop_id=self.shop.id, public_id=str(intent.payload.get("redemption_id"))
            )
            .select_related("reward", "customer")
            .first()
        )
        action = intent.payload.get("action")
        if redemption is None or action not in {"create", "deactivate", "debit"}:
            await run.refused([intent], error=f"no redemption or action in {intent.payload}")
            return False
        try:
            await getattr(self, f"_{action}")(redemption)
        except ShopifyApiError as exc:  # a request no retry fixes
            if action == "create":
                await self._give_up(redemption, f"Shopify refused the request: {exc.detail}")
            await run.refused([intent], error=exc.detail)
            return False
        except ShopNotConnectedError as exc:  # uninstalled since: no code will ever be made
            if action == "create":
                await self._give_up(redemption, "the shop is no longer connected to Shopify")
            await run.skipped([intent], SkipReason.NOT_CONNECTED)
            log.info("reward code %s skipped: %s", redemption.public_id, exc)
            return False
        except ShopReauthRequiredError as exc:
            raise RetryLater(str(exc) or "re-authorisation required", after=REAUTH_HOLD) from exc
        except ShopifyUnavailableError as exc:
            detail = str(exc) or type(exc).__name__
            hold = await run.failed([intent], error=detail)
            if action == "create" and await _dead(intent.id):
                await self._give_up(redemption, f"Shopify stayed unavailable: {detail}")
            raise RetryLater(detail, after=hold) from exc
        return True

    async def _create(self, redemption: Redemption) -> None:
        if redemption.shopify_status != CodeStatus.PENDING:
            return  # made by an earlier run (or given up on)
        if redemption.status != RedemptionStatus.ACTIVE:
            await _mark(redemption, CodeStatus.FAILED)  # cancelled before its code was made
            return
        if redemption.kind == RewardKind.STORE_CREDIT:
            credited = await store_credit.credit(self.admin, self.shop, redemption)
            if isinstance(credited, DiscountRefused):
                await self._give_up(redemption, credited.message, credited.codes)
                return
            await _mark(redemption, CodeStatus.CREATED, credit_gid=credited.transaction_gid)
            return
        try:
            spec = discount_spec(redemption)
        except ValueError as exc:  # a reward Shopify could never accept (edited since?)
            await self._give_up(redemption, str(exc))
            return
        created = await discounts.create_discount_code(self.admin, self.shop.id, spec)
        if isinstance(created, DiscountRefused):
            await self._give_up(redemption, created.message, created.codes)
            return
        await _mark(redemption, CodeStatus.CREATED, discount_gid=created.discount_gid)

    async def _deactivate(self, redemption: Redemption) -> None:
        if redemption.shopify_discount_gid:
            await discounts.deactivate_discount_code(
                self.admin, self.shop.id, redemption.shopify_discount_gid
            )
        else:
            await _mark(redemption, CodeStatus.FAILED)  # never made: never will be

    async def _debit(self, redemption: Redemption) -> None:
        if redemption.status != RedemptionStatus.CANCELLED:
            return  # the cancellation was undone (a refused debit, already handled)
        if redemption.shopify_status == CodeStatus.CREATED:
            debited = await store_credit.debit(self.admin, self.shop, redemption)
            if isinstance(debited, DiscountRefused):
                await store_credit.forget_debit_attempt(redemption)
                await self._undo_cancel(redemption, debited.message)
                return
        else:
            await _mark(redemption, CodeStatus.FAILED)  # never credited: nothing to take back
        await self._refund(redemption, "cancelled")

    async def _refund(self, redemption: Redemption, reason: str) -> None:
        async with in_transaction():
            returned = await return_redemption_points(redemption.id, reason=reason, now=utcnow())
            if returned is not None:
                self.jobs.update(returned.jobs)

    async def _give_up(
        self, redemption: Redemption, message: str, codes: tuple[str, ...] = ()
    ) -> None:
        """No code for this redemption, ever: cancelled (unless already), marked failed, the
        points returned, and an activity row saying why."""
        now = utcnow()
        why = message[:200]
        async with in_transaction():
            await Customer.filter(id=redemption.customer_id).select_for_update().first()
            await Redemption.filter(id=redemption.id, status=RedemptionStatus.ACTIVE).update(
                status=RedemptionStatus.CANCELLED,
                cancel_reason=f"Shopify refused the code: {why}"[:255],
                updated_at=now,
            )
            await _mark(redemption, CodeStatus.FAILED)
            data = {"redemption_id": redemption.public_id, "message": why, "codes": list(codes)}
            await record(
                ActivityRow(self.shop.id, redemption.customer_id, "reward_code_refused", now, data)
            )
            returned = await return_redemption_points(
                redemption.id, reason="shopify_refused", now=now
            )
            if returned is not None:
                self.jobs.update(returned.jobs)
        log.warning("reward code %s refused by Shopify: %s", redemption.public_id, why)

    async def _undo_cancel(self, redemption: Redemption, message: str) -> None:
        now = utcnow()
        async with in_transaction():
            undone = await Redemption.filter(
                id=redemption.id,
                status=RedemptionStatus.CANCELLED,
                points_refunded_at__isnull=True,
            ).update(status=RedemptionStatus.ACTIVE, cancel_reason=None, updated_at=now)
            if undone:
                data = {"redemption_id": redemption.public_id, "message": message[:200]}
                row = ActivityRow(
                    self.shop.id, redemption.customer_id, "redemption_cancel_refused", now, data
                )
                await record(row)


async def _mark(
    redemption: Redemption,
    status: CodeStatus,
    *,
    discount_gid: str | None = None,
    credit_gid: str | None = None,
) -> None:
    """Record what became of the code, once: only a pending code moves."""
    changes: dict[str, object] = {"shopify_status": status, "updated_at": utcnow()}
    if discount_gid is not None:
        changes["shopify_discount_gid"] = discount_gid
    if credit_gid is not None:
        changes["store_credit_transaction_gid"] = credit_gid
    await Redemption.filter(id=redemption.id, shopify_status=CodeStatus.PENDING).update(**changes)


async def _dead(intent_id: int) -> bool:
    return await OutboxIntent.filter(id=intent_id, dead_at__isnull=False).exists()
