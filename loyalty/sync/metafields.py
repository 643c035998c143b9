"""Shopify customer metafields: the loyalty state the theme extension and Liquid read, written
with `metafieldsSet` after every change to a customer's balances, tier or status.

The keys are app-owned (`$app` namespace) and declared in shopify.app.toml: points,
pending_points, lifetime_points (number_integer), vip_tier and status (single_line_text_field),
points_expiry_date (date) and points_expiring (number_integer). A value that no longer exists (no
tier, no upcoming expiry) is deleted with `metafieldsDelete` in the same request, since an empty
text or date value is refused.

Customers are written three to a call (7 metafields each, Shopify takes at most 25 per call),
a few calls in flight; the current state is read fresh, so a repeat is harmless. `metafieldsSet`
is atomic per call and answers 200 with `userErrors`: a failed call is split to find the
customer Shopify refuses, whose intents are given up (recorded) while the others are written.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/metafieldsSet
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import Shop
from loyalty.outbox.intents import ClaimedIntent
from loyalty.outbox.process import RetryLater, backoff
from loyalty.shopify.admin_api import AdminApi, ShopifyApiError
from loyalty.shopify.operations import (
    CUSTOMER_METAFIELDS_SET,
    CUSTOMER_METAFIELDS_SYNC,
    Operation,
)
from loyalty.shopify.tokens import (
    ShopifyUnavailableError,
    ShopNotConnectedError,
    ShopReauthRequiredError,
)
from loyalty.sync.batch import SyncRun
from loyalty.sync.deps import JobDeps
from loyalty.sync.state import CustomerState, load_states

log = logging.getLogger(__name__)

NAMESPACE = "$app"
MAX_PER_CALL = 25  # Shopify's limit for one metafieldsSet
KEYS_PER_CUSTOMER = 7
CUSTOMERS_PER_CALL = MAX_PER_CALL // KEYS_PER_CUSTOMER
IN_FLIGHT = 4  # concurrent calls per run; Shopify's cost bucket and AdminApi pace the rest
REAUTH_HOLD = timedelta(minutes=15)
RUN_BUDGET_SECONDS = 120.0


def customer_metafields(state: CustomerState) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(metafieldsSet inputs, metafieldsDelete identifiers) for one customer."""

    def value(key: str, type_: str, text: str) -> dict[str, str]:
        return {
            "ownerId": state.gid,
            "namespace": NAMESPACE,
            "key": key,
            "type": type_,
            "value": text,
        }

    def gone(key: str) -> dict[str, str]:
        return {"ownerId": state.gid, "namespace": NAMESPACE, "key": key}

    sets = [
        value("points", "number_integer", str(state.points_balance)),
        value("pending_points", "number_integer", str(state.pending_points)),
        value("lifetime_points", "number_integer", str(state.lifetime_points)),
        value("status", "single_line_text_field", state.status),
        value("points_expiring", "number_integer", str(state.next_expiry_points)),
    ]
    deletions = []
    if state.vip_tier:
        sets.append(value("vip_tier", "single_line_text_field", state.vip_tier))
    else:
        deletions.append(gone("vip_tier"))
    if state.next_expiry_date:
        sets.append(value("points_expiry_date", "date", state.next_expiry_date.isoformat()))
    else:
        deletions.append(gone("points_expiry_date"))
    return sets, deletions


def customers_request(states: list[CustomerState]) -> tuple[Operation, dict[str, Any]]:
    """The operation and variables that write these customers' metafields in one call."""
    sets: list[dict[str, str]] = []
    deletions: list[dict[str, str]] = []
    for state in states:
        customer_sets, customer_deletions = customer_metafields(state)
        sets += customer_sets
        deletions += customer_deletions
    if deletions:
        return CUSTOMER_METAFIELDS_SYNC, {"metafields": sets, "deletions": deletions}
    return CUSTOMER_METAFIELDS_SET, {"metafields": sets}


def user_errors(data: dict[str, Any]) -> list[str]:
    messages = []
    for name in ("metafieldsSet", "metafieldsDelete"):
        payload = data.get(name) or {}
        for error in payload.get("userErrors") or []:
            field = ".".join(str(part) for part in error.get("field") or [])
            messages.append(
                f"{error.get('message')} ({field})" if field else str(error.get("message"))
            )
    return messages


async def write_customers(
    admin: AdminApi, shop_id: int, states: list[CustomerState]
) -> dict[int, str]:
    """Write the customers' metafields in one call; returns the customers Shopify refused,
    with why (a refused call is retried one customer at a time to find them)."""
    data = await admin.execute(shop_id, *customers_request(states))
    problems = user_errors(data)
    if not problems:
        return {}
    if len(states) == 1:
        return {states[0].id: "; ".join(problems)}
    refused: dict[int, str] = {}
    for state in states:
        refused.update(await write_customers(admin, shop_id, [state]))
    return refused


def handler(*, budget: float = RUN_BUDGET_SECONDS) -> Any:
    """A fresh handler per job run (the time budget spans the run's batches)."""
    deadline = time.monotonic() + budget

    async def handle(deps: JobDeps, shop_id: int, intents: list[ClaimedIntent]) -> None:
        await sync_metafields(deps, shop_id, intents, deadline=deadline)

    return handle


async def sync_metafields(
    deps: JobDeps, shop_id: int, intents: list[ClaimedIntent], *, deadline: float
) -> None:
    shop = await Shop.get_or_none(id=shop_id)
    if shop is None or shop.uninstalled_at is not None or not shop.access_token_enc:
        # Nothing to write to: the demo shop, a shop that never opened the app in Shopify
        # admin (no token exchange yet), or one that uninstalled. Completing is right: the
        # next change after it connects syncs the customer's current state.
        log.info(
            "metafield sync for shop %s skipped (%d intent(s)): no Shopify offline token; "
            "open the app in Shopify admin to connect the shop",
            shop.domain if shop else shop_id,
            len(intents),
        )
        return
    if deps.admin is None:
        log.info("metafield sync for shop %s skipped: Shopify is not configured", shop_id)
        return
    run = await SyncRun.start(
        job=JobName.SYNC_SHOPIFY_METAFIELDS, shop_id=shop_id, intents=intents, deadline=deadline
    )
    groups = run.by_customer()
    states = await load_states(shop=shop, customer_ids=[c for c in groups if c], now=utcnow())
    writable = [states[c] for c in groups if c in states and not states[c].redacted]
    await run.done(
        [i for c, its in groups.items() if c not in states or states[c].redacted for i in its]
    )
    chunks = [
        writable[n : n + CUSTOMERS_PER_CALL] for n in range(0, len(writable), CUSTOMERS_PER_CALL)
    ]
    for wave_start in range(0, len(chunks), IN_FLIGHT):
        if run.out_of_time():
            await run.hand_back(error="run's time budget used up; continuing in the next run")
            raise RetryLater("time budget used up", after=timedelta(0))
        await run.renew()
        wave = chunks[wave_start : wave_start + IN_FLIGHT]
        outcomes = await asyncio.gather(
            *(write_customers(deps.admin, shop_id, chunk) for chunk in wave),
            return_exceptions=True,
        )
        stop: BaseException | None = None
        for chunk, outcome in zip(wave, outcomes, strict=True):
            if isinstance(outcome, ShopifyApiError):  # a GraphQL error no retry will fix
                for state in chunk:
                    await run.give_up(groups[state.id], error=outcome.detail)
            elif isinstance(outcome, BaseException):
                stop = stop or outcome
            else:
                for state in chunk:
                    if state.id in outcome:
                        log.warning(
                            "Shopify refused customer %s's metafields: %s",
                            state.id,
                            outcome[state.id],
                        )
                        await run.give_up(groups[state.id], error=outcome[state.id])
                    else:
                        await run.done(groups[state.id])
        if stop is not None:
            await _stop(run, shop_id, stop)
            return


async def _stop(run: SyncRun, shop_id: int, problem: BaseException) -> None:
    """End the run on a failure that concerns the whole shop: completes everything when the
    shop is gone, otherwise holds what is left and raises RetryLater."""
    if isinstance(problem, ShopNotConnectedError):  # uninstalled or never connected meanwhile
        await run.done([i for its in run.by_customer().values() for i in its])
        return
    attempt = max((i.attempts for i in run.intents), default=1)
    if isinstance(problem, ShopReauthRequiredError):
        hold = REAUTH_HOLD  # the merchant must open the app again; look again later
    elif isinstance(problem, ShopifyUnavailableError):
        hold = backoff(attempt)
    else:  # a bug or a cancellation: hold the work, and let the failure be seen
        await run.hand_back(error=repr(problem), retry_at=utcnow() + backoff(attempt))
        raise problem
    detail = str(problem) or type(problem).__name__
    log.warning("metafield sync for shop %s held for %s: %s", shop_id, hold, detail)
    await run.hand_back(error=detail, retry_at=utcnow() + hold)
    raise RetryLater(detail, after=hold)
