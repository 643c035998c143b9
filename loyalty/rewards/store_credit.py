"""A store-credit redemption's credit and, on cancel, its debit, safe to retry.

Shopify gives these mutations no idempotency key, so the adapter (loyalty.shopify.discounts)
finds a transaction an earlier attempt made from the time of that attempt (`since`), ignoring
the transactions it is told belong to other operations (`exclude`). This module keeps both:
- the first attempt's time is written on the redemption (`credit_attempted_at`,
  `debit_attempted_at`) before the request leaves, in its own statement, so a run that dies
  with the answer lost leaves it behind for the retry; a first attempt looks nothing up;
- `exclude` is every credit (or debit) recorded for the customer's other redemptions; the
  job's lease keeps one operation per customer in flight, so no other can be unrecorded.
Each success records its transaction gid at once (`store_credit_transaction_gid`,
`store_credit_debit_gid`).
"""

from __future__ import annotations

from datetime import datetime

from loyalty.clock import utcnow
from loyalty.models import Redemption, RewardKind, Shop
from loyalty.rewards.spec import customer_gid
from loyalty.shopify import discounts
from loyalty.shopify.admin_api import AdminApi
from loyalty.shopify.discounts import DiscountRefused, StoreCreditDone

Outcome = StoreCreditDone | DiscountRefused


async def credit(admin: AdminApi, shop: Shop, redemption: Redemption) -> Outcome:
    """Give the redemption's store credit (or find the one an earlier attempt gave)."""
    since = await _attempt(redemption, "credit_attempted_at")
    done: Outcome = await discounts.credit_store_credit(
        admin,
        shop.id,
        customer_gid=customer_gid(redemption.customer),
        amount=redemption.value,
        currency=redemption.currency_code or shop.currency_code,
        key=redemption.public_id,
        since=since,
        exclude=await _others(redemption, "store_credit_transaction_gid"),
    )
    return done


async def debit(admin: AdminApi, shop: Shop, redemption: Redemption) -> Outcome:
    """Take the redemption's store credit back (or find the debit an earlier attempt made)."""
    since = await _attempt(redemption, "debit_attempted_at")
    done: Outcome = await discounts.debit_store_credit(
        admin,
        shop.id,
        customer_gid=customer_gid(redemption.customer),
        amount=redemption.value,
        currency=redemption.currency_code or shop.currency_code,
        key=f"{redemption.public_id}:cancel",
        since=since,
        exclude=await _others(redemption, "store_credit_debit_gid"),
    )
    if isinstance(done, StoreCreditDone):
        await Redemption.filter(id=redemption.id).update(
            store_credit_debit_gid=done.transaction_gid, updated_at=utcnow()
        )
    return done


async def forget_debit_attempt(redemption: Redemption) -> None:
    """The debit was refused (nothing taken): a later cancel starts afresh."""
    await Redemption.filter(id=redemption.id).update(debit_attempted_at=None)


async def _attempt(redemption: Redemption, column: str) -> datetime | None:
    """The time of an earlier attempt (look for its transaction), or None: this is the first,
    and its time is now written down before the request leaves."""
    earlier: datetime | None = getattr(redemption, column)
    if earlier is not None:
        return earlier
    now = utcnow()
    await Redemption.filter(id=redemption.id, **{f"{column}__isnull": True}).update(**{column: now})
    return None


async def _others(redemption: Redemption, column: str) -> frozenset[str]:
    """The transactions recorded for the customer's other store-credit redemptions."""
    gids = (
        await Redemption.filter(customer_id=redemption.customer_id, kind=RewardKind.STORE_CREDIT)
        .exclude(id=redemption.id)
        .filter(**{f"{column}__isnull": False})
        .values_list(column, flat=True)
    )
    return frozenset(str(gid) for gid in gids)
