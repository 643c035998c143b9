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
from loyalty.models import (
    ActorType,
    ApiKey,
    Customer,
    Redemption,
    Reward,
    RewardKind,
    Shop,
)
from loyalty.rewards.eligibility import limit_reached, tier_allows, tier_points, used_counts
from loyalty.rewards.redeem_pg import Found, Wanted, find_and_lock
from loyalty.rewards.redemption_writes import Written, write
from loyalty.rewards.spec import discount_code
from loyalty.rewards.views import RedemptionView, view
from loyalty.shopify.tokens import ShopifyUnavailableError, has_usable_token
from loyalty.shops.api_keys import check_current

REDEMPTION = "cr"
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
    request = RedemptionRequest(
        reward, cost, value, currency, ask.idempotency_key, ask.actor, ask.now
    )
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
class RedemptionRequest:
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

    request: RedemptionRequest
    customer: Customer
    redemption: Redemption


def _new_redemption(req: RedemptionRequest, customer: Customer) -> Redemption:
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
