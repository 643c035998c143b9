"""What the lifespan builds once per process and handlers reach through `request.state`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from shopify_app import ShopifyApp
from starlette.requests import Request

from loyalty.customers.storefront_summaries import SummaryBatcher, new_summary_batcher
from loyalty.ledger.award_batch import AwardBatcher
from loyalty.outbox.dispatch import OutboxDispatcher
from loyalty.outbox.queue import JobQueue
from loyalty.rewards.redeem import Batcher as RedeemBatcher
from loyalty.rewards.redeem_batch import new_batcher
from loyalty.settings import Settings
from loyalty.shops.api_keys import VerifiedKeyCache
from loyalty.webhooks.inbox import DeliveryInbox
from web.auth.app_proxy import ProxyShopCache
from web.auth.throttle import AuthThrottle
from web.ratelimit import RateLimiter


@dataclass
class Services:
    settings: Settings
    dispatcher: OutboxDispatcher
    queue: JobQueue
    http: httpx.AsyncClient
    shopify: ShopifyApp | None  # None until SHOPIFY_API_KEY/SECRET are set
    limiter: RateLimiter
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    # Keys verified moments ago, for routes that re-verify in their own statement (the award).
    verified_keys: VerifiedKeyCache = field(default_factory=VerifiedKeyCache)
    # Concurrent awards of this process, written a batch at a time (loyalty.ledger.award_batch).
    award_batcher: AwardBatcher = field(default_factory=AwardBatcher)
    # Concurrent redemptions of this process, a transaction at a time (PostgreSQL;
    # loyalty.rewards.redeem_batch).
    redeem_batcher: RedeemBatcher = field(default_factory=new_batcher)
    # Stores webhook deliveries, a burst at a time (group commit); see loyalty.webhooks.inbox.
    webhook_inbox: DeliveryInbox = field(default_factory=DeliveryInbox)
    # Storefront GETs' shops, looked up a second or two ago (web.auth.app_proxy).
    proxy_shops: ProxyShopCache = field(default_factory=ProxyShopCache)
    # Storefront page views' customer summaries, a loop turn's worth per statement
    # (loyalty.customers.storefront_summaries).
    storefront_summaries: SummaryBatcher = field(default_factory=new_summary_batcher)
    # Failed authentication per client address (web.auth.throttle).
    auth_throttle: AuthThrottle = field(default_factory=AuthThrottle)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Fire-and-forget work that must not delay a response (held until shutdown)."""
        task = asyncio.create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


def services(request: Request) -> Services:
    return request.state.services  # type: ignore[no-any-return]
