"""Shopify customer metafields: the loyalty state the theme extension and Liquid read, written
with `metafieldsSet` after every change to a customer's balances, tier or status.

The keys are app-owned (`$app` namespace) and declared in shopify.app.toml: points,
pending_points, lifetime_points (number_integer), vip_tier and status (single_line_text_field),
points_expiry_date (date), points_expiring (number_integer) and referral (json: the member's
referral `code` and `url`). A value that no longer exists (no tier, no upcoming expiry) is
deleted with `metafieldsDelete` in the same request, since an empty text or date value is
refused.

Customers are written three to a call (8 metafields each, Shopify takes at most 25 per call),
a few calls in flight; each customer's state is read right before the write, under the
customer's sync lease (loyalty.sync.batch), so the last write always shows the database's
state and a repeat is harmless. `metafieldsSet` is atomic per call and answers 200 with
`userErrors`: a failed call is split to find the customer Shopify refuses, whose intents are
dead-lettered (recorded) while the others are written.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/metafieldsSet
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import Shop, SkipReason
from loyalty.outages import INTEGRATIONS, SHOPIFY
from loyalty.outbox.claims import ClaimedIntent
from loyalty.outbox.process import RetryLater
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
from loyalty.sync.batch import (
    IMMEDIATE,
    RUN_BUDGET_SECONDS,
    Groups,
    RunResult,
    SyncRun,
    pacing_for,
    skip_all,
)
from loyalty.sync.deps import JobDeps
from loyalty.sync.shop_runs import open_run
from loyalty.sync.state import CustomerState, load_states

log = logging.getLogger(__name__)

NAMESPACE = "$app"
MAX_PER_CALL = 25  # Shopify's limit for one metafieldsSet
KEYS_PER_CUSTOMER = 8
CUSTOMERS_PER_CALL = MAX_PER_CALL // KEYS_PER_CUSTOMER
IN_FLIGHT = 4  # concurrent calls per run; Shopify's cost bucket and AdminApi pace the rest
REAUTH_HOLD = timedelta(minutes=15)


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
    if state.referral_code and state.referral_url:
        # One json key, not two: it keeps three customers to a call (25 metafields at most).
        link = {"code": state.referral_code, "url": state.referral_url}
        sets.append(value("referral", "json", json.dumps(link, separators=(",", ":"))))
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


async def sync(deps: JobDeps, shop_id: int, *, budget: float = RUN_BUDGET_SECONDS) -> RunResult:
    """Write the metafields of the shop's customers with pending changes (loyalty.sync.batch:
    one write per customer per burst, the state read right before it). Customers Shopify
    refuses are dead-lettered; while Shopify is unavailable or the shop must re-authorise,
    the shop's work is held."""
    job = JobName.SYNC_SHOPIFY_METAFIELDS
    shop, label, run = await open_run(deps, job, shop_id, budget=budget)
    if shop is None or shop.uninstalled_at is not None or not shop.access_token_enc:
        # Nothing to write to: a shop that never opened the app in Shopify admin (no token
        # exchange yet), or one that uninstalled. Skipping is right: the next
        # change after it connects syncs the customer's current state.
        log.info(
            "metafield sync for shop %s skipped: no Shopify offline token; open the app in "
            "Shopify admin to connect the shop",
            label,
        )
        return await run(skip_all(SkipReason.NOT_CONNECTED), IMMEDIATE)
    if deps.admin is None:
        log.info("metafield sync for shop %s skipped: Shopify is not configured", label)
        return await run(skip_all(SkipReason.NOT_CONFIGURED), IMMEDIATE)
    writer = _Writer(deps.admin, shop)
    return await run(writer.deliver, pacing_for(job, deps.settings))


class _Writer:
    def __init__(self, admin: AdminApi, shop: Shop) -> None:
        self._admin = admin
        self._shop = shop

    async def deliver(self, run: SyncRun, customers: list[int]) -> None:
        """Several customers per metafieldsSet, a few calls in flight; each wave's customers
        are claimed, then read, right before the wave writes them."""
        waves = [
            customers[n : n + CUSTOMERS_PER_CALL * IN_FLIGHT]
            for n in range(0, len(customers), CUSTOMERS_PER_CALL * IN_FLIGHT)
        ]
        for wave in waves:
            if run.out_of_time():
                return  # what is left is due again at once: the follow-up run continues
            await run.renew()
            if not await self._wave(run, await run.claim(wave)):
                return

    async def _wave(self, run: SyncRun, groups: Groups) -> bool:
        """Write one wave; False when the shop turned out to be gone (all skipped)."""
        states = await load_states(shop=self._shop, customer_ids=list(groups), now=utcnow())
        for customer, intents in groups.items():
            state = states.get(customer)
            if state is None or state.redacted:
                reason = SkipReason.UNKNOWN_CUSTOMER if state is None else SkipReason.REDACTED
                await run.skipped(intents, reason)
        writable = [states[c] for c in groups if c in states and not states[c].redacted]
        chunks = [
            writable[n : n + CUSTOMERS_PER_CALL]
            for n in range(0, len(writable), CUSTOMERS_PER_CALL)
        ]
        outcomes = await asyncio.gather(
            *(write_customers(self._admin, self._shop.id, chunk) for chunk in chunks),
            return_exceptions=True,
        )
        stop: BaseException | None = None
        failed: list[ClaimedIntent] = []
        for chunk, outcome in zip(chunks, outcomes, strict=True):
            if isinstance(outcome, ShopifyApiError):  # a GraphQL error no retry will fix
                for state in chunk:
                    await run.refused(groups[state.id], error=outcome.detail)
            elif isinstance(outcome, BaseException):
                stop = stop or outcome
                failed += [i for state in chunk for i in groups[state.id]]
            else:
                for state in chunk:
                    if state.id in outcome:
                        log.warning(
                            "Shopify refused customer %s's metafields: %s",
                            state.id,
                            outcome[state.id],
                        )
                        await run.refused(groups[state.id], error=outcome[state.id])
                    else:
                        await run.delivered(groups[state.id])
                INTEGRATIONS.healthy(self._shop.domain, SHOPIFY)  # Shopify answered the call
        if stop is not None:
            await hold_for_shopify(run, failed, stop)
            return False
        return True


async def hold_for_shopify(
    run: SyncRun, failed: list[ClaimedIntent], problem: BaseException
) -> None:
    """A Shopify failure that concerns the whole shop (any job writing to the Admin API): skip
    everything when the shop is gone, otherwise count the attempt for the customers whose
    calls failed and hold the shop's work (RetryLater)."""
    if isinstance(problem, ShopNotConnectedError):  # uninstalled or never connected meanwhile
        for intents in list(_by_customer(run.open.values()).values()):
            await run.skipped(intents, SkipReason.NOT_CONNECTED)
        return
    if isinstance(problem, ShopReauthRequiredError):
        # No call reached Shopify: the merchant must open the app again; look again later.
        detail = str(problem) or type(problem).__name__
        INTEGRATIONS.failing(run.shop_label, SHOPIFY, detail)
        raise RetryLater(detail, after=REAUTH_HOLD)
    if not isinstance(problem, ShopifyUnavailableError):
        raise problem  # a bug: run_sync counts the attempt and lets the failure be seen
    detail = str(problem) or type(problem).__name__
    hold = await run.failed(failed, error=detail)
    # A WARNING once per outage (INTEGRATIONS); each hold is run_sync's INFO line.
    INTEGRATIONS.failing(run.shop_label, SHOPIFY, detail)
    raise RetryLater(detail, after=hold)


def _by_customer(intents: Iterable[ClaimedIntent]) -> Groups:
    grouped: Groups = {}
    for intent in intents:
        grouped.setdefault(intent.customer_id or 0, []).append(intent)
    return grouped
