"""What a topic handler is given, and what it must be."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.models import Shop


@dataclass(frozen=True, slots=True)
class WebhookContext:
    """One stored delivery being handled, with its shop as of this transaction."""

    event_pk: int
    shop: Shop
    topic: str
    webhook_id: str
    payload: dict[str, Any]
    triggered_at: datetime | None
    now: datetime


# A handler runs inside the transaction that marks the event processed, so its effects and the
# mark commit together. It returns the customer-sync jobs it owes, dispatched after commit, and
# raises InvalidPayloadError for a body it cannot use. It must also be idempotent on its own
# terms (an order id, a refund id, `updated_at`), since Shopify may send one event under two
# webhook ids (one per subscription).
TopicHandler = Callable[[WebhookContext], Awaitable[list[str]]]
