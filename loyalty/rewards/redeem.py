"""Redeeming a reward: a customer's points become a discount code (or store credit).

`redeem` is all or nothing (one transaction; on PostgreSQL usually one write statement):
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
balance as well. On PostgreSQL a redemption first tries without a transaction: one unlocked
read (shop, reward, customer; loyalty.rewards.redeem_pg), the checks, and one write statement
that spends only if the customer's row is still the version checked
(loyalty.ledger.redemptions_pg); anything else (a customer changed meanwhile, a balance short)
goes the locked way. That is two round trips with no lock held between them, where the locked
way is four with the lock held across them (bench/redeem).

Idempotency: a key is unique per shop on the redemption; a repeat with the same key, customer,
reward (and points, when sent) returns the first redemption (`replayed`), with another
customer, reward or points it is refused (`idempotency_key_reused`); a concurrent repeat looks
again once it holds the customer's lock (the winner's debit would otherwise refuse it as
`insufficient_points`), and one that loses the race on the unique index reads the winner's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

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
    Customer,
    Redemption,
    Reward,
    RewardKind,
    Shop,
)
from loyalty.rewards.eligibility import limit_reached, tier_allows, tier_points, used_counts
from loyalty.rewards.redeem_pg import Found, find_and_lock
from loyalty.rewards.views import RedemptionView, view
from loyalty.rewards.writes import Request, write
from loyalty.shopify.tokens import ShopifyUnavailableError, has_usable_token

REDEMPTION = "cr"
CODE_PREFIX = "LOYAL-"
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed
_CODE_LENGTH = 10  # 50 bits
CENT = Decimal("0.01")

API = Actor(ActorType.API_KEY)  # the default actor


@dataclass(frozen=True, slots=True)
class Redeemed:
    redemption: RedemptionView
    replayed: bool  # an earlier redemption with the same idempotency key
    balance_after: int | None  # None on a replay
    jobs: list[str]  # notify the dispatcher after commit


def new_code() -> str:
    return CODE_PREFIX + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))


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


async def redeem(
    *,
    shop_id: int,
    identifier: str,
    reward_id: str,
    points: int | None = None,
    idempotency_key: str | None = None,
    actor: Actor = API,
    now: datetime | None = None,
) -> Redeemed:
    """Spend the customer's (`identifier`: Shopify customer id or email) points on the reward
    (`reward_id`: its public id). See the module for the checks and their error codes."""
    now = now or utcnow()
    if idempotency_key is not None:  # a replay needs nothing of Shopify
        replay = await _replay(shop_id, idempotency_key, identifier, reward_id, points)
        if replay is not None:
            return replay
    try:
        if dialect() == "postgres":
            done = await _redeem_unlocked(
                _Asked(shop_id, identifier, reward_id, points, idempotency_key, actor, now)
            )
            if done is not None:
                return done
        async with in_transaction():
            # The customer is found and locked by the transaction's first statement (with the
            # shop and the reward, on PostgreSQL): the lock orders this customer's redemptions,
            # and what happens under it is few round trips (bench/redeem).
            reward, customer, currency = await _find_and_lock(shop_id, reward_id, identifier, now)
            cost, value = price(reward, points)
            if idempotency_key is not None:  # a repeat that committed while we waited
                replay = await _replay(shop_id, idempotency_key, identifier, reward_id, points)
                if replay is not None:
                    return replay
            await _check(customer, reward)
            request = Request(reward, cost, value, currency, idempotency_key, actor, now)
            done = await _redeem(request, customer)
            assert done is not None  # under the lock a debit refused raises insufficient_points
            return done
    except IntegrityError:
        if idempotency_key is None:
            raise
        replay = await _replay(shop_id, idempotency_key, identifier, reward_id, points)
        if replay is None:
            raise
        return replay


@dataclass(frozen=True, slots=True)
class _Asked:
    shop_id: int
    identifier: str
    reward_id: str
    points: int | None
    idempotency_key: str | None
    actor: Actor
    now: datetime


async def _redeem_unlocked(asked: _Asked) -> Redeemed | None:
    """PostgreSQL's usual path: two statements and no transaction. The shop, the reward and the
    customer are read unlocked and checked; the write statement then spends only if the
    customer's row is still the version checked (loyalty.ledger.redemptions_pg). A refusal
    decided on that read is the answer the request would have had at that moment. None: not
    redeemed this way (no customer found, the balance does not cover it, or the customer changed
    since the read: a concurrent redemption, a repeat of this one): the locked path decides."""
    found = await find_and_lock(
        shop_id=asked.shop_id,
        reward_id=asked.reward_id,
        identifier=parse_customer_identifier(asked.identifier),
        lock=False,
    )
    if found is None:
        return None
    reward, customer = _found(found, asked.now)
    cost, value = price(reward, asked.points)
    await _check(customer, reward)
    currency = found.shop.currency_code
    request = Request(
        reward, cost, value, currency, asked.idempotency_key, asked.actor, asked.now, found.version
    )
    return await _redeem(request, customer)


async def _find_and_lock(
    shop_id: int, reward_id: str, identifier: str, now: datetime
) -> tuple[Reward, Customer, str]:
    """(reward, customer locked, the shop's currency), or the first refusal of: the shop's
    Shopify connection, the reward, the customer."""
    if dialect() == "postgres":
        found = await find_and_lock(
            shop_id=shop_id, reward_id=reward_id, identifier=parse_customer_identifier(identifier)
        )
        if found is not None:
            return *_found(found, now), found.shop.currency_code
    reward = await _usable_reward(shop_id, reward_id, now)
    customer = await find_member(shop_id=shop_id, identifier=identifier, with_tier=False, lock=True)
    return reward, customer, reward.shop.currency_code


def _found(found: Found, now: datetime) -> tuple[Reward, Customer]:
    """The reward and the customer found, or the shop's or the reward's refusal (in order)."""
    _check_usable(found.shop, now)
    if found.reward is None:
        raise RewardNotFoundError("No active reward with that id exists")
    return found.reward, found.customer


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


async def _redeem(req: Request, customer: Customer) -> Redeemed | None:
    reward, now = req.reward, req.now
    code_kind = reward.kind is not RewardKind.STORE_CREDIT
    validity = reward.code_validity_days if code_kind else None
    redemption = Redemption(
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
    written = await write(req, redemption)
    if written is None and req.seen_version is not None:
        return None  # not spent: the locked path decides (see _redeem_unlocked)
    if written is None:
        error = InsufficientPointsError(
            f"This reward costs {req.points} points; the customer has {customer.points_balance}"
        )
        error.meta = {"points_required": req.points, "points_balance": customer.points_balance}
        raise error
    balance_after, jobs = written
    redemption.reward = reward
    redemption.customer = customer
    return Redeemed(view(redemption), False, balance_after, jobs)


async def _replay(
    shop_id: int, key: str, identifier: str, reward_id: str, points: int | None
) -> Redeemed | None:
    """The redemption an idempotency key already made, if any (IdempotencyKeyReusedError when
    it was made for another customer or reward, or `points` sent differ from those spent)."""
    earlier = (
        await Redemption.filter(shop_id=shop_id, idempotency_key=key)
        .select_related("reward", "customer")
        .first()
    )
    if earlier is None:
        return None
    customer = await find_member(shop_id=shop_id, identifier=identifier, with_tier=False)
    same_points = points is None or points == earlier.points_spent
    if (
        earlier.customer_id != customer.id
        or earlier.reward.public_id != reward_id
        or not same_points
    ):
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was used for another customer, reward or points"
        )
    return Redeemed(view(earlier), True, None, [])
