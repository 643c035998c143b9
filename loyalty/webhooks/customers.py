"""customers/create and customers/update: keep the programme's copy of the customer current.

Idempotent by content: the newest `updated_at` wins and an unchanged customer writes nothing
(see `loyalty.customers.mirror`).
"""

from __future__ import annotations

from loyalty.customers.mirror import mirror_customer
from loyalty.webhooks.event import WebhookContext
from loyalty.webhooks.payloads import CustomerPayload, parse


async def handle_customer(ctx: WebhookContext) -> list[str]:
    record = parse(CustomerPayload, ctx.payload).record()
    result = await mirror_customer(shop=ctx.shop, record=record, now=ctx.now, source=ctx.topic)
    return result.jobs
