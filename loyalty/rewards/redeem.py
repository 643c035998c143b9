"""Redeeming a reward: a customer's points become a discount code (or store credit).

`redeem` is one transaction, all or nothing:
- checks, each with its stable error code and nothing written: the shop has a usable Shopify
  connection (`shopify_unavailable`: not uninstalled, no re-authorisation needed), the reward
  is the shop's and active (`reward_not_found`), the customer exists (`customer_not_found`)
  and is not excluded (`customer_excluded`), their tier reaches the reward's minimum
  (`tier_not_allowed`), the per-customer limit is not reached (`redemption_limit_reached`),
  a variable reward's points are in range and buy a whole amount (`invalid_points`), and the
  balance covers the cost (`insufficient_points`);
- then the conditional atomic debit, oldest lots first (loyalty.ledger.redemptions), the
  redemption row with the code we chose (unique per shop), a `reward_redeemed` activity row,
  the code intent (`sync_reward_codes`, loyalty.rewards.codes creates it in Shopify) and the
  customer-sync intents carrying the "points redeemed" event.

Concurrency: the customer's row is locked first (PostgreSQL; SQLite has one writer), so two
redemptions by one customer see each other's debit and count; the debit is conditional on the
balance as well. Idempotency: a key is unique per shop on the redemption; a repeat with the
same key, customer, reward (and points, when sent) returns the first redemption (`replayed`),
with another customer, reward or points it is refused (`idempotency_key_reused`); a concurrent
repeat looks again once it holds the customer's lock (the winner's debit would otherwise refuse
it as `insufficient_points`), and one that loses the race on the unique index reads the winner's.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from loyalty.batching import TurnBatcher
from loyalty.clock import utcnow
from loyalty.customers.identifiers import parse_customer_identifier
from loyalty.customers.members import find_member
from loyalty.db import dialect
from loyalty.earning.award import Actor
from loyalty.earning.idempotency import IdempotencyKeyReusedError
from loyalty.errors import (
    CustomerExcludedError,
    InsufficientPointsError,
    InvalidPointsError,
    RedemptionLimitReachedError,
    RewardNotFoundError,
    TierNotAllowedError,
)
from loyalty.jobs import JobName
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.redemptions import spend_points
from loyalty.ledger.redemptions_pg import PgRedemption, redeem_pg
from loyalty.models import (
    ActorType,
    ApiKey,
    Customer,
    Redemption,
    Reward,
    RewardKind,
    Shop,
)
from loyalty.outbox.intents import write_customer_intent, write_customer_sync_intents
from loyalty.rewards.eligibility import limit_reached, tier_allows, tier_points, used_counts
from loyalty.rewards.redeem_pg import Found, Wanted, find_and_lock
from loyalty.rewards.spec import discount_code
from loyalty.rewards.views import RedemptionView, view
from loyalty.shopify.tokens import ShopifyUnavailableError, has_usable_token
from loyalty.shops.api_keys import check_current

REDEMPTION = "cr"
REDEEMED_EVENT = "points_redeemed"
CODE_PREFIX = "LOYAL-"
CENT = Decimal("0.01")

API = Actor(ActorType.API_KEY)  # the default actor


@dataclass(frozen=True, slots=True)
class Redeemed:
    redemption: RedemptionView
    replayed: bool  # an earlier redemption with the same idempotency key
    balance_after: int | None  # None on a replay
    jobs: list[str]  # notify the dispatcher after commit


def new_code() -> str:
    return discount_code(CODE_PREFIX)


def new_redemption_id() -> str:
    return f"{REDEMPTION}_{secrets.token_hex(10)}"


def points_step(value_per_point: Decimal) -> int:
    """The fewest points that buy a whole cent amount: points must be a multiple of it."""
    return (Fraction(value_per_point) / Fraction(CENT)).denominator


def price(reward: Reward, points: int | None) -> tuple[int, Decimal]:
    """(points to spend, value granted) for `points` asked (None: the reward's cost)."""
    if not reward.is_variable:
        if points is not None and points != reward.points_cost:
            raise InvalidPointsError(
                f"This reward costs {reward.points_cost} points", pointer="/points"
            )
        return reward.points_cost, Decimal(reward.value)
    low, high, per_point = reward.min_points, reward.max_points, reward.value_per_point
    assert low is not None and high is not None and per_point is not None  # catalogue.validate
    if points is None or not low <= points <= high:
        raise InvalidPointsError(
            f"Choose between {low} and {high} points for this reward", pointer="/points"
        )
    step = points_step(Decimal(per_point))
    if points % step:
        raise InvalidPointsError(f"points must be a multiple of {step}", pointer="/points")
    return points, (points * Decimal(per_point)).quantize(CENT)


@dataclass(frozen=True, slots=True)
class Ask:
    """One redemption asked for, as `redeem` takes it (a batch's item, on PostgreSQL)."""

    shop_id: int
    identifier: str
    reward_id: str
    points: int | None
    idempotency_key: str | None
    actor: Actor
    now: datetime
    api_key_id: int | None = None  # re-verified under the lock (see `redeem`)


class RunAlone:
    """A batch's answer for a redemption it did not decide: run it on its own."""


ALONE = RunAlone()
Batcher = TurnBatcher[Ask, Redeemed | RunAlone]


async def redeem(
    *,
    shop_id: int,
    identifier: str,
    reward_id: str,
    points: int | None = None,
    idempotency_key: str | None = None,
    actor: Actor = API,
    now: datetime | None = None,
    batcher: Batcher | None = None,
    api_key_id: int | None = None,
) -> Redeemed:
    """Spend the customer's (`identifier`: Shopify customer id or email) points on the reward
    (`reward_id`: its public id). See the module for the checks and their error codes.

    `batcher` (PostgreSQL; loyalty.rewards.redeem_batch): share a transaction with the
    process's concurrent redemptions of other customers; it decides as this function does, and
    leaves to this function what it does not decide (`ALONE`).

    `api_key_id`: the key the request authenticated with, re-verified (the shop's, not
    revoked, the shop installed) in the read that locks the customer, so a key served from the
    process's cache of verified keys (web.auth.api_key) cannot redeem after its revocation."""
    ask = Ask(
        shop_id, identifier, reward_id, points, idempotency_key, actor, now or utcnow(), api_key_id
    )
    if idempotency_key is not None:  # a replay needs nothing of Shopify, but a current key
        await _verify_key(ask)
        replay = await _replay(ask)
        if replay is not None:
            return replay
    if batcher is not None and dialect() == "postgres":
        done = await batcher.submit(ask)
        if not isinstance(done, RunAlone):
            return done
    try:
        async with in_transaction():
            # The customer is found and locked by the transaction's first statement (with the
            # shop and the reward, on PostgreSQL): the lock orders this customer's redemptions,
            # and what happens under it is few round trips (bench/redeem).
            reward, customer, currency = await _find_and_lock(ask)
            decided = await decide(ask, reward, customer, currency)
            if isinstance(decided, Redeemed):
                return decided
            return finish(decided, (await write([decided]))[0])
    except IntegrityError:
        if idempotency_key is None:
            raise
        replay = await _replay(ask)
        if replay is None:
            raise
        return replay


async def _find_and_lock(ask: Ask) -> tuple[Reward, Customer, str]:
    """(reward, customer locked, the shop's currency), or the first refusal of: the API key,
    the shop's Shopify connection, the reward, the customer."""
    if dialect() == "postgres":
        (found,) = await find_and_lock([wanted(ask)])
        if found is not None:
            return usable(ask, found)
    await _verify_key(ask)  # what the read above re-verifies with the customer
    reward = await _usable_reward(ask.shop_id, ask.reward_id, ask.now)
    customer = await find_member(
        shop_id=ask.shop_id, identifier=ask.identifier, with_tier=False, lock=True
    )
    return reward, customer, reward.shop.currency_code


async def _verify_key(ask: Ask) -> None:
    """The ask's API key (if any) is still the shop's, not revoked, the shop installed."""
    if ask.api_key_id is None:
        return
    key = await ApiKey.filter(id=ask.api_key_id, shop_id=ask.shop_id).select_related("shop")
    check_current(
        revoked=not key or key[0].revoked_at is not None,
        uninstalled=bool(key) and key[0].shop.uninstalled_at is not None,
    )


def wanted(ask: Ask) -> Wanted:
    """What the PostgreSQL read looks for, for the ask."""
    identifier = parse_customer_identifier(ask.identifier)
    return Wanted(ask.shop_id, ask.reward_id, identifier, ask.api_key_id)


def usable(ask: Ask, found: Found) -> tuple[Reward, Customer, str]:
    """(reward, customer, the shop's currency) of a PostgreSQL read, or its refusal: the API
    key, the shop's Shopify connection, then the reward."""
    if ask.api_key_id is not None:
        uninstalled = found.shop.uninstalled_at is not None
        check_current(revoked=not found.key_ok, uninstalled=uninstalled)
    _check_usable(found.shop, ask.now)
    if found.reward is None:
        raise RewardNotFoundError("No active reward with that id exists")
    return found.reward, found.customer, found.shop.currency_code


async def decide(ask: Ask, reward: Reward, customer: Customer, currency: str) -> Redeemed | Planned:
    """Under the customer's lock: the redemption to write (its price, the checks passed), or
    the replay of a repeat that committed while we waited for the lock; else the refusal."""
    cost, value = price(reward, ask.points)
    if ask.idempotency_key is not None:  # a repeat that committed while we waited
        replay = await _replay(ask)
        if replay is not None:
            return replay
    await _check(customer, reward)
    request = _Request(reward, cost, value, currency, ask.idempotency_key, ask.actor, ask.now)
    return Planned(request, customer, _new_redemption(request, customer))


def _check_usable(shop: Shop | None, now: datetime) -> None:
    if shop is None or not has_usable_token(shop, now=now):
        raise ShopifyUnavailableError(
            "The shop's Shopify connection is not usable (uninstalled, or the app must be "
            "opened again): no points were spent"
        )


async def _usable_reward(shop_id: int, reward_id: str, now: datetime) -> Reward:
    """The shop's active reward, with its `shop` (SQLite; on PostgreSQL, which refusal when no
    customer was found); ShopifyUnavailableError first when the shop cannot make its code
    (nothing is spent), then RewardNotFoundError."""
    reward = (
        await Reward.filter(shop_id=shop_id, public_id=reward_id, is_active=True)
        .select_related("shop")
        .first()
    )
    _check_usable(reward.shop if reward is not None else await Shop.get_or_none(id=shop_id), now)
    if reward is None:
        raise RewardNotFoundError("No active reward with that id exists")
    return reward


@dataclass(frozen=True, slots=True)
class _Request:
    reward: Reward
    points: int
    value: Decimal
    currency_code: str
    idempotency_key: str | None
    actor: Actor
    now: datetime


async def _check(customer: Customer, reward: Reward) -> None:
    """The checks made under the customer's lock (what concurrent redemptions change)."""
    if customer.is_excluded:
        raise CustomerExcludedError("Customer is excluded from the loyalty program")
    # A reward open to every tier needs no tier read (tier_allows: allowed).
    if reward.minimum_tier_id is not None:
        required = await tier_points([reward.minimum_tier_id, customer.vip_tier_id])
        if not tier_allows(reward, customer, required):
            raise TierNotAllowedError("This reward is for a higher VIP tier")
    if reward.per_customer_limit is not None:
        used = await used_counts(customer.id, [reward.id])
        if limit_reached(reward, used.get(reward.id, 0)):
            raise RedemptionLimitReachedError(
                f"This reward can be redeemed {reward.per_customer_limit} time(s) per customer"
            )


@dataclass(frozen=True, slots=True)
class Planned:
    """A redemption decided on, to be written (`write`) and answered (`finish`)."""

    request: _Request
    customer: Customer
    redemption: Redemption


def _new_redemption(req: _Request, customer: Customer) -> Redemption:
    reward, now = req.reward, req.now
    code_kind = reward.kind is not RewardKind.STORE_CREDIT
    validity = reward.code_validity_days if code_kind else None
    return Redemption(
        public_id=new_redemption_id(),
        shop_id=reward.shop_id,
        customer_id=customer.id,
        reward_id=reward.id,
        kind=reward.kind,
        points_spent=req.points,
        value=req.value,
        currency_code=None if code_kind else req.currency_code,
        code=new_code() if code_kind else None,
        redeemed_at=now,
        expires_at=now + timedelta(days=validity) if validity else None,
        idempotency_key=req.idempotency_key,
    )


Written = tuple[int, list[str]] | None  # (balance after, jobs owed); None: balance too low


async def write(planned: Sequence[Planned]) -> list[Written]:
    """Write the planned redemptions, each of another customer whose row this transaction
    locked: one statement on PostgreSQL, one at a time on SQLite."""
    if dialect() == "postgres":
        return await _write_pg(planned)
    return [await _write(p.request, p.redemption) for p in planned]


def finish(planned: Planned, written: Written) -> Redeemed:
    """The answer for a written redemption; InsufficientPointsError when its debit did not
    happen (then nothing of it was written)."""
    req, customer, redemption = planned.request, planned.customer, planned.redemption
    if written is None:
        error = InsufficientPointsError(
            f"This reward costs {req.points} points; the customer has {customer.points_balance}"
        )
        error.meta = {"points_required": req.points, "points_balance": customer.points_balance}
        raise error
    balance_after, jobs = written
    redemption.reward = req.reward
    redemption.customer = customer
    return Redeemed(view(redemption), False, balance_after, jobs)


def _activity(redemption: Redemption, reward: Reward) -> dict[str, object]:
    return {
        "redemption_id": redemption.public_id,
        "reward_id": reward.public_id,
        "points": redemption.points_spent,
        "code": redemption.code,
    }


def _code_intent(redemption: Redemption) -> dict[str, object]:
    return {"redemption_id": redemption.public_id, "action": "create"}


def _sync_reason(redemption: Redemption) -> dict[str, object]:
    return {"event": REDEEMED_EVENT, "redemption_id": redemption.public_id}


async def _write(req: _Request, redemption: Redemption) -> tuple[int, list[str]] | None:
    """The writes one statement at a time (SQLite, one writer): the debit and its lots, the
    row, the activity row, the intents. None: the balance does not cover it, nothing written."""
    reward, now, customer_id = req.reward, req.now, redemption.customer_id
    spent = await spend_points(customer_id=customer_id, points=req.points, now=now)
    if spent is None:
        return None
    redemption.spent_lots = spent.lots
    await redemption.save()
    actor = (req.actor.type, req.actor.id)
    activity = _activity(redemption, reward)
    await record(ActivityRow(reward.shop_id, customer_id, "reward_redeemed", now, activity, *actor))
    jobs = {
        await write_customer_intent(
            shop_id=reward.shop_id,
            customer_id=customer_id,
            job=JobName.SYNC_REWARD_CODES,
            payload=_code_intent(redemption),
            now=now,
        )
    }
    jobs.update(
        await write_customer_sync_intents(
            shop_id=reward.shop_id,
            customer_id=customer_id,
            reason=_sync_reason(redemption),
            now=now,
        )
    )
    return spent.balance_after, sorted(jobs)


async def _write_pg(planned: Sequence[Planned]) -> list[Written]:
    """The same writes as one statement for all (loyalty.ledger.redemptions_pg): one round trip
    under the customers' locks instead of six or more each."""
    stamp = utcnow()  # as the ORM stamps created_at: when the row is written
    batch = [
        PgRedemption(
            public_id=r.public_id,
            shop_id=r.shop_id,
            customer_id=r.customer_id,
            reward_id=r.reward_id,
            kind=str(r.kind),
            points=r.points_spent,
            value=r.value,
            currency_code=r.currency_code,
            code=r.code,
            now=p.request.now,
            stamp=stamp,
            expires_at=r.expires_at,
            idempotency_key=r.idempotency_key,
            actor_type=str(p.request.actor.type),
            actor_id=p.request.actor.id,
            activity=_activity(r, p.request.reward),
            code_intent=_code_intent(r),
            sync_reason=_sync_reason(r),
        )
        for p in planned
        for r in (p.redemption,)
    ]
    results: list[Written] = []
    for p, written in zip(planned, await redeem_pg(batch), strict=True):
        if written is None:
            results.append(None)
            continue
        p.redemption.id = written.id
        p.redemption.spent_lots = written.spent_lots
        p.redemption.created_at = p.redemption.updated_at = stamp
        results.append((written.balance_after, written.jobs))
    return results


async def _replay(ask: Ask) -> Redeemed | None:
    """The redemption the ask's idempotency key already made, if any
    (IdempotencyKeyReusedError when it was made for another customer or reward, or `points`
    sent differ from those spent)."""
    earlier = (
        await Redemption.filter(shop_id=ask.shop_id, idempotency_key=ask.idempotency_key)
        .select_related("reward", "customer")
        .first()
    )
    if earlier is None:
        return None
    customer = await find_member(shop_id=ask.shop_id, identifier=ask.identifier, with_tier=False)
    same_points = ask.points is None or ask.points == earlier.points_spent
    if (
        earlier.customer_id != customer.id
        or earlier.reward.public_id != ask.reward_id
        or not same_points
    ):
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was used for another customer, reward or points"
        )
    return Redeemed(view(earlier), True, None, [])
