"""The `sync_referral_codes` job's work: each referred friend's reward code, created in Shopify
once (loyalty.shopify.discounts), open to any buyer (the friend is usually not a customer yet)
and single use, on the terms of the reward the programme named.

Intents `{"referral_id": …, "action": "create"}` are written with the referral (or its
approval), under the advocate's customer id (the run's lease key). Exactly once, safe to run
twice: a code already made (`friend_code_status` not pending) is left alone, and the adapter
finds a code a dead run made before recording it. Shopify refusing it for good marks the code
`failed` (an activity row on the advocate says why; the referral itself stays as it is: the
advocate is still paid when the friend orders). Transient failures hold the shop's work for
the outbox's backoff, as the rewards' codes job does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import CodeStatus, Referral, RewardKind, Shop, SkipReason
from loyalty.outbox.claims import ClaimedIntent
from loyalty.outbox.process import RetryLater
from loyalty.rewards.spec import reward_discount
from loyalty.shopify import discounts
from loyalty.shopify.admin_api import AdminApi, ShopifyApiError
from loyalty.shopify.discounts import DiscountRefused, DiscountSpec
from loyalty.shopify.tokens import (
    ShopifyUnavailableError,
    ShopNotConnectedError,
    ShopReauthRequiredError,
)
from loyalty.sync.batch import IMMEDIATE, RUN_BUDGET_SECONDS, RunResult, SyncRun, skip_all
from loyalty.sync.deps import JobDeps
from loyalty.sync.shop_runs import open_run

log = logging.getLogger(__name__)

JOB = JobName.SYNC_REFERRAL_CODES
REAUTH_HOLD = timedelta(minutes=15)


def friend_spec(referral: Referral) -> DiscountSpec:
    """The discount for a referral loaded with its `friend_reward` (ValueError when the reward
    cannot be a code: store credit, or terms Shopify would refuse)."""
    reward = referral.friend_reward
    if reward is None or referral.friend_code is None:
        raise ValueError("the referral has no friend's reward or code")
    if reward.kind == RewardKind.STORE_CREDIT:
        raise ValueError("store credit has no code")
    return reward_discount(
        reward,
        code=referral.friend_code,
        title=f"{reward.name} (referral reward {referral.friend_code})",
        kind=RewardKind(reward.kind),
        customer_gid=None,
        value=Decimal(reward.value),
        starts_at=referral.created_at,
        ends_at=referral.friend_code_expires_at,
    )


async def sync(deps: JobDeps, shop_id: int, *, budget: float = RUN_BUDGET_SECONDS) -> RunResult:
    """Create the shop's owed friend codes in Shopify (see the module)."""
    shop, label, run = await open_run(deps, JOB, shop_id, budget=budget)
    if shop is None:
        return await run(skip_all(SkipReason.UNKNOWN_CUSTOMER), IMMEDIATE)
    if deps.admin is None:
        log.warning("referral codes for shop %s wait: Shopify is not configured", label)
        return await run(skip_all(SkipReason.NOT_CONFIGURED), IMMEDIATE)
    return await run(_Worker(deps.admin, shop).deliver, IMMEDIATE)


@dataclass
class _Worker:
    admin: AdminApi
    shop: Shop

    async def deliver(self, run: SyncRun, keys: list[int]) -> None:
        for intents in (await run.claim(keys)).values():
            for intent in intents:
                await run.renew()
                await self._intent(run, intent)

    async def _intent(self, run: SyncRun, intent: ClaimedIntent) -> None:
        referral = (
            await Referral.filter(
                shop_id=self.shop.id, public_id=str(intent.payload.get("referral_id"))
            )
            .select_related("friend_reward")
            .first()
        )
        if referral is None or intent.payload.get("action") != "create":
            await run.refused([intent], error=f"no referral or action in {intent.payload}")
            return
        try:
            await self._create(referral)
        except ShopifyApiError as exc:
            await self._give_up(referral, f"Shopify refused the request: {exc.detail}")
            await run.refused([intent], error=exc.detail)
            return
        except ShopNotConnectedError:
            await self._give_up(referral, "the shop is no longer connected to Shopify")
            await run.skipped([intent], SkipReason.NOT_CONNECTED)
            return
        except ShopReauthRequiredError as exc:
            raise RetryLater(str(exc) or "re-authorisation required", after=REAUTH_HOLD) from exc
        except ShopifyUnavailableError as exc:
            detail = str(exc) or type(exc).__name__
            hold = await run.failed([intent], error=detail)
            raise RetryLater(detail, after=hold) from exc
        await run.delivered([intent])

    async def _create(self, referral: Referral) -> None:
        if referral.friend_code_status != CodeStatus.PENDING:
            return  # made by an earlier run (or given up on)
        if referral.friend_reward_id is None:
            await self._give_up(referral, "the friend's reward was deleted")
            return
        try:
            spec = friend_spec(referral)
        except ValueError as exc:
            await self._give_up(referral, str(exc))
            return
        created = await discounts.create_discount_code(self.admin, self.shop.id, spec)
        if isinstance(created, DiscountRefused):
            await self._give_up(referral, created.message)
            return
        await Referral.filter(id=referral.id, friend_code_status=CodeStatus.PENDING).update(
            friend_code_status=CodeStatus.CREATED,
            friend_discount_gid=created.discount_gid,
            updated_at=utcnow(),
        )

    async def _give_up(self, referral: Referral, message: str) -> None:
        now = utcnow()
        changed = await Referral.filter(
            id=referral.id, friend_code_status=CodeStatus.PENDING
        ).update(friend_code_status=CodeStatus.FAILED, updated_at=now)
        if changed:
            data = {"referral_id": referral.public_id, "message": message[:200]}
            await record(
                ActivityRow(self.shop.id, referral.advocate_id, "referral_code_refused", now, data)
            )
        log.warning("referral code %s refused: %s", referral.public_id, message[:200])
