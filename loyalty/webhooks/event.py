"""What a topic handler is given, and what it must be."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from loyalty.models import Shop
from loyalty.webhooks.payloads.base import Payload

P = TypeVar("P", bound=Payload)


@dataclass(frozen=True, slots=True)
class WebhookContext:
    """One stored delivery being handled, with its shop as of this transaction and its body
    already parsed as its topic's payload class (loyalty.webhooks.payloads)."""

    event_pk: int
    shop: Shop
    topic: str
    webhook_id: str
    body: Payload
    # X-Shopify-Triggered-At: not signed, so it may only ever make a delivery do less.
    triggered_at: datetime | None
    now: datetime

    def body_as(self, model: type[P]) -> P:
        """The body as the class the handler expects (the one PAYLOAD_BY_TOPIC names)."""
        if not isinstance(self.body, model):
            raise TypeError(f"{self.topic} is parsed as {type(self.body).__name__}, not {model}")
        return self.body


class RetryLaterError(Exception):
    """The delivery is genuine but may not act yet: hold it until `retry_at` (it counts as an
    attempt, like any failure)."""

    def __init__(self, retry_at: datetime, reason: str) -> None:
        super().__init__(reason)
        self.retry_at = retry_at


# A handler runs inside the transaction that marks the event processed, so its effects and the
# mark commit together. It returns the customer-sync jobs it owes, dispatched after commit, and
# raises InvalidPayloadError for a body it must not act on. It must also be idempotent on its
# own terms (an order id, a refund id, `updated_at`), since Shopify may send one event under
# two webhook ids (one per subscription).
TopicHandler = Callable[[WebhookContext], Awaitable[list[str]]]
